"""The read path: access inside both legs, filters, grouping, highlights."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FakeEmbedder, make_config
from doclib.auth import principal_for_role
from doclib.errors import BadRequest
from doclib.events import add_event, add_workshop
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.search import Filters, highlight, search
from doclib.text import word_stem

VISITOR, MEMBER, CURATOR = (principal_for_role(r) for r in ("visitor", "member", "curator"))
SECRET = "zanzibar budget reallocation"


@pytest.fixture
def corpus(lib, tmp_path, fixtures_dir):
    with lib.db.begin() as conn:
        add_event(conn, {"slug": "amman-2025", "title": {"en": "Amman summit"},
                         "start": "2025-10-14"})
        add_workshop(conn, "amman-2025", {"number": 1, "title": {"ar": "المدارس"}})
    ids = {}
    for i in range(12):
        p = tmp_path / f"public{i}.txt"
        p.write_text(f"Public report {i} about the budget of city programmes and schools. "
                     f"Zanzibar is mentioned in public text {i}.", encoding="utf-8")
        ids[f"public{i}"] = ingest_file(lib, p, IngestOptions(access="public",
                                                              doc_type="report")).document_id
    secret = tmp_path / "minutes.txt"
    secret.write_text(f"Steering committee minutes. The {SECRET} for the pilot was agreed.",
                      encoding="utf-8")
    ids["minutes"] = ingest_file(lib, secret, IngestOptions(access="members",
                                                            doc_type="minutes")).document_id
    draft = tmp_path / "draft.txt"
    draft.write_text("Curators only draft about the budget reallocation.", encoding="utf-8")
    ids["draft"] = ingest_file(lib, draft, IngestOptions(access="curators")).document_id
    ids["ar"] = ingest_file(lib, fixtures_dir / "ar_summit.txt", IngestOptions(
        access="public", event="amman-2025", workshop=1, doc_type="report")).document_id
    return ids


def result_ids(res):
    return [r["document"]["id"] for r in res["results"]]


def test_member_only_phrase_is_invisible_to_visitors(lib, corpus):
    res = search(lib, VISITOR, SECRET, k=10)
    assert corpus["minutes"] not in result_ids(res)
    assert len(res["results"]) == 10  # still k public hits: filtered before top-k
    text = str([r["passages"] for r in res["results"]]) + str(res["facets"]) + \
        str([r["document"] for r in res["results"]])
    assert "reallocation" not in text and "Steering" not in text and "minutes" not in text
    member = search(lib, MEMBER, SECRET, k=3)
    assert result_ids(member)[0] == corpus["minutes"]
    assert corpus["draft"] not in result_ids(search(lib, MEMBER, "draft budget", k=20))
    assert corpus["draft"] in result_ids(search(lib, CURATOR, "draft budget", k=20))


def test_facets_count_only_visible(lib, corpus):
    res = search(lib, VISITOR, "budget", k=5)
    types = {f["value"]: f["count"] for f in res["facets"]["type"]}
    assert "minutes" not in types
    assert sum(types.values()) == res["total"]
    assert {f["value"] for f in search(lib, MEMBER, SECRET)["facets"]["type"]} >= {"minutes"}


def test_filters(lib, corpus, tmp_path):
    # the fake embedder's cosines mean nothing: no relevance floor here
    lib.config = make_config(tmp_path, **{"search.floor_dense": 0.0,
                                          "search.floor_coverage": 0.0})
    assert result_ids(search(lib, VISITOR, "summit", filters=Filters(language="ar"))) == \
        [corpus["ar"]]
    assert result_ids(search(lib, VISITOR, "summit", filters=Filters(event="amman-2025"))) == \
        [corpus["ar"]]
    assert result_ids(search(lib, VISITOR, "summit", filters=Filters(year=2025))) == \
        [corpus["ar"]]
    assert corpus["ar"] not in result_ids(search(lib, VISITOR, "budget", k=50,
                                                 filters=Filters(language="en")))
    ws = search(lib, VISITOR, "summit")["facets"]["workshop"]
    assert ws and ws[0]["title"]["ar"] == "المدارس"
    assert result_ids(search(lib, MEMBER, "minutes", filters=Filters(doc_type="minutes"))) == \
        [corpus["minutes"]]


def test_filter_validation():
    with pytest.raises(BadRequest, match="language"):
        Filters.parse({"language": "fr"})
    with pytest.raises(BadRequest, match="year"):
        Filters.parse({"year": "twenty"})
    assert Filters.parse({"type": "report", "workshop": "3"}).workshop == 3


def test_results_grouped_with_pages_and_highlights(lib, corpus):
    res = search(lib, VISITOR, "القمة الدولية", k=3)
    top = res["results"][0]
    assert top["document"]["id"] == corpus["ar"]
    assert len(top["passages"]) <= lib.config.search.passages_per_document
    assert all(p["page"] == 1 for p in top["passages"])
    assert "<mark>" in top["passages"][0]["highlighted"]
    assert len(set(result_ids(res))) == len(res["results"])


def test_highlight_escapes_html():
    out = highlight("<script>alert(1)</script> schools & budget", {"school"})
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<mark>schools</mark>" in out and "&amp;" in out
    # the names inside entities are never words: only real words are marked
    # ("quote" too: its stem is "quot")
    out = highlight("AT&T's \"quote\" amp quot <b>", {"amp", "quot", "lt", "x27"})
    assert out == ("AT&amp;T&#x27;s &quot;<mark>quote</mark>&quot; <mark>amp</mark> "
                   "<mark>quot</mark> &lt;b&gt;")
    assert highlight("مدارس & schools", set()) == "مدارس &amp; schools"
    assert highlight("الأسر والشباب", {word_stem("الأسر")}) == "<mark>الأسر</mark> والشباب"


def test_empty_and_bad_queries(lib, corpus):
    assert search(lib, VISITOR, "   ")["total"] == 0
    with pytest.raises(BadRequest):
        search(lib, VISITOR, "x" * 2000)
    with pytest.raises(BadRequest):
        search(lib, VISITOR, "budget", k=0)
    # FTS5 syntax in a query is just text
    assert search(lib, VISITOR, 'budget" OR NEAR(a b) * -')["total"] >= 1


def test_paging(lib, corpus):
    p1 = search(lib, VISITOR, "public report budget", k=5, page=1)
    p2 = search(lib, VISITOR, "public report budget", k=5, page=2)
    assert not set(result_ids(p1)) & set(result_ids(p2))
    assert p1["total"] == p2["total"] >= 10


def test_both_fusions_respect_access(lib, corpus):
    for strategy in ("rrf", "calibrated"):
        res = search(lib, VISITOR, SECRET, k=20, strategy=strategy)
        assert corpus["minutes"] not in result_ids(res)


ACCESS = st.sampled_from(["public", "members", "curators"])


@pytest.fixture(scope="module")
def shared_lib(tmp_path_factory, fixtures_dir):
    root = tmp_path_factory.mktemp("prop")
    library = Library(make_config(root), embedder=FakeEmbedder())
    names = ["en_summit.txt", "ar_summit.txt", "mixed_summit.txt", "slides.txt",
             "slides_notes.txt", "scan_ar_en.txt", "ar_summit.docx", "slides.pptx"]
    ids = [ingest_file(library, fixtures_dir / n, IngestOptions(access="public")).document_id
           for n in names]
    yield library, ids
    library.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(levels=st.lists(ACCESS, min_size=8, max_size=8),
       role=st.sampled_from(["visitor", "member", "curator"]),
       query=st.sampled_from(["Aarhus summit", "القمة الدولية", "workshops", "شبكة المدن",
                              "police", "Jacob"]),
       strategy=st.sampled_from(["calibrated", "rrf"]))
def test_property_no_result_outside_visible_set(shared_lib, levels, role, query, strategy):
    from doclib import audience

    library, ids = shared_lib
    rank = {"public": 0, "members": 1, "curators": 2}
    with library.db.begin() as conn:
        for doc_id, level in zip(ids, levels, strict=True):
            audience.update_row(conn, doc_id, {"access": rank[level]})
    who = principal_for_role(role)
    visible = {d for d, lv in zip(ids, levels, strict=True) if rank[lv] <= who.audience.level}
    res = search(library, who, query, k=20, strategy=strategy)
    got = set(result_ids(res))
    assert got <= visible
    assert res["total"] <= len(visible)
    for f in res["facets"]["type"]:
        assert f["count"] <= len(visible)


def test_snippet_windows_around_the_first_match():
    from doclib.search import snippet

    text = " ".join(f"word{i}" for i in range(200)) + " schools are here " + \
        " ".join(f"tail{i}" for i in range(200))
    out = snippet(text, {"school"}, 120)
    assert "schools" in out and out.startswith("… ") and out.endswith(" …")
    assert len(out) <= 130
    assert snippet("short text", {"x"}, 120) == "short text"


def test_a_year_in_arabic_indic_digits_is_found_by_ascii_digits_and_the_reverse(lib, tmp_path):
    p = tmp_path / "report.txt"
    p.write_text("تقرير القمة الإقليمية للوقاية المحلية الذي صدر في عام ٢٠١٧ عن الشبكة.",
                 encoding="utf-8")
    doc = ingest_file(lib, p, IngestOptions(access="public")).document_id
    q = tmp_path / "other.txt"
    q.write_text("The network's annual review published in 1998 about youth clubs.",
                 encoding="utf-8")
    other = ingest_file(lib, q, IngestOptions(access="public")).document_id
    res = search(lib, VISITOR, "2017")
    assert res["results"][0]["document"]["id"] == doc
    assert "<mark>٢٠١٧</mark>" in res["results"][0]["passages"][0]["highlighted"]
    assert search(lib, VISITOR, "١٩٩٨")["results"][0]["document"]["id"] == other


@pytest.mark.parametrize("language", [None, "ar"])
def test_the_query_is_analysed_once(lib, corpus, monkeypatch, language):
    """Language detection and lexical terms run once per search, whatever
    the legs, the echo and the language filter ask of the query."""
    import doclib.index.lexical
    import doclib.search
    from doclib import text

    calls = {"language": 0, "terms": 0}

    def counted(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(doclib.search, "detect_language",
                        counted("language", text.detect_language))
    for module in (doclib.search, doclib.index.lexical):
        monkeypatch.setattr(module, "lexical_terms", counted("terms", text.lexical_terms))
    expected = search(lib, MEMBER, "budget of the schools", filters=Filters(language=language))
    calls.update(language=0, terms=0)
    res = search(lib, MEMBER, "budget of the schools", filters=Filters(language=language))
    assert calls == {"language": 1, "terms": 1}
    assert res == expected and res["results"]


@pytest.mark.integration
def _name_rankings(tmp_path, embedder, texts, language, question, check=None):
    """``ranking(weight, who, hidden=True)``: (name, score) of each result of
    ``question`` (matches, then nearest) in a new library of ``texts``
    (name -> (body, access), all in ``language``; "hidden" left out when
    ``hidden`` is False), with ``search.name_weight`` = weight;
    ``check(weight, rows)`` looks at the raw rows first."""
    def ranking(weight, who, hidden=True):
        tag = f"{language}{weight}{who.role}{hidden}"
        lib = Library(make_config(tmp_path / tag, **{"search.name_weight": weight}),
                      embedder=embedder)
        try:
            ids = {}
            for name, (body, access) in texts.items():
                if name == "hidden" and not hidden:
                    continue
                p = tmp_path / f"{name}-{tag}.txt"
                p.write_text(body, encoding="utf-8")
                ids[ingest_file(lib, p, IngestOptions(access=access, language=language))
                    .document_id] = name
            res = search(lib, who, question)
            rows = res["results"] + res.get("nearest", [])
            if check is not None:
                check(weight, rows)
            return [(ids[r["document"]["id"]], r["score"]) for r in rows]
        finally:
            lib.close()
    return ranking


def _assert_names_lift_and_hide(ranking):
    on = ranking(2.0, VISITOR)
    assert on[0][0] == "name" and "hidden" not in [n for n, _ in on]
    # no trace: a visitor's ranking and scores are those of a library without it
    assert on == ranking(2.0, VISITOR, hidden=False)
    assert dict(on)["name"] > dict(ranking(0.0, VISITOR))["name"]
    assert "hidden" in [n for n, _ in ranking(2.0, MEMBER)]


def test_an_english_name_finds_the_arabic_document_that_writes_it(tmp_path, use_embedder):
    """The lexical leg cannot see "Priestley" in بريستلي; the names'
    evidence (``search.name_weight``) lifts the Arabic document that holds
    the name above one on the same subject naming another man, among the
    caller's visible documents only (real model)."""
    texts = {"name": ("اكتشف الكيميائي الإنجليزي جوزيف بريستلي غاز الأكسجين عام 1774 عندما "
                      "سخن أكسيد الزئبق في مختبره", "public"),
             "other": ("درس الكيميائي الفرنسي أنطوان لافوازييه احتراق المواد ووزن الغازات "
                       "في مختبره في باريس", "public"),
             "hidden": ("محضر اللجنة التوجيهية: ناقش الأعضاء سيرة جوزيف بريستلي وتجاربه",
                        "members")}

    def marked(weight, rows):
        for r in rows:  # the name is marked where the passage writes it
            mark = "<mark>بريستلي</mark>" in r["passages"][0]["highlighted"]
            assert mark == (weight > 0 and "بريستلي" in r["passages"][0]["text"])

    _assert_names_lift_and_hide(_name_rankings(
        tmp_path, use_embedder, texts, "ar", "Which experiments did Joseph Priestley make?",
        marked))


def test_an_arabic_questions_name_finds_the_english_document_that_writes_it(tmp_path,
                                                                          use_embedder):
    """The reverse: بريستلي in an Arabic question meets Priestley among an
    English passage's capitalised words, among the caller's visible
    documents only (real model)."""
    texts = {"name": ("Joseph Priestley, the English chemist, heated mercury oxide in his "
                      "laboratory in 1774 and found a new gas.", "public"),
             "other": ("Antoine Lavoisier, the French chemist, studied combustion and weighed "
                       "gases in his laboratory in Paris.", "public"),
             "hidden": ("Steering committee minutes: the members discussed Joseph Priestley "
                        "and his experiments.", "members")}
    def marked(weight, rows):
        for r in rows:  # Priestley is marked where the English passage writes it
            mark = "<mark>Priestley</mark>" in r["passages"][0]["highlighted"]
            assert mark == (weight > 0 and "Priestley" in r["passages"][0]["text"])

    _assert_names_lift_and_hide(_name_rankings(
        tmp_path, use_embedder, texts, "en", "ماذا وجد بريستلي في مختبره؟", marked))


def test_a_three_consonant_name_counts_half(lib, tmp_path):
    """Zarqa's skeleton (SRK) is also شارك's ("took part"): a document
    holding only such a short name gets half the weight of one holding a
    long one (Priestley, BRSTL)."""
    from doclib.search import _names_held, analyse, candidates

    ids = {}
    for name, body in (("short", "شارك أربعون أخصائيا في الورشة"),
                       ("long", "اكتشف بريستلي الغاز في مختبره")):
        p = tmp_path / f"{name}.txt"
        p.write_text(body, encoding="utf-8")
        ids[ingest_file(lib, p, IngestOptions(access="public", language="ar")).document_id] = name
    q = analyse(lib, "Did Priestley work in Zarqa?")
    cand = candidates(lib, VISITOR, q, Filters(), 50)
    held = _names_held(lib, q, cand, cand.visible.languages())
    assert {ids[d]: round(v, 3) for d, v in held.items()} == {"short": 0.333, "long": 0.667}

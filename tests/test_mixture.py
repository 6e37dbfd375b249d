"""Mixture fusion (search.fusion: mixture, the default): each language ranked
on its own scale, the two weighed by the chance that the answer is in the
query's language.  Pure cases on the fusion, and the real bundled model on a
library where the only answer is in the other language."""

import math

import pytest

from conftest import make_config
from doclib.auth import principal_for_role
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.rank import (
    ChunkScore,
    Hit,
    Mixture,
    fuse,
    fuse_mixture,
    group_by_document,
    merge_echoes,
)
from doclib.search import Filters, search

LANG = {1: "en", 2: "en", 3: "ar", 4: "ar"}
OWNER = {11: 1, 12: 1, 21: 2, 31: 3, 41: 4}


def _mixture(dense, lexical, full=10.0, known=10.0, qlang="en", **kw):
    return fuse_mixture(dense, lexical, OWNER, LANG, qlang, full, known, 3, **kw)


def test_a_few_common_words_do_not_bury_the_other_languages_answer():
    # doc 1 (English) shares two common words with the question (a weak
    # share of its evidence) and is less similar than doc 3, the Arabic answer
    dense = [(31, 0.42), (11, 0.30), (21, 0.22), (41, 0.20)]
    lexical = [(11, 2.0)]
    ranked = [d for d, _, _ in _mixture(dense, lexical)]
    assert ranked[0] == 3
    # the shared calibrated score put the English document first
    calibrated = group_by_document(fuse(dense, lexical, OWNER, lexical_bound=10.0,
                                        coverage_floor=0.0), 3)
    assert calibrated[0][0] == 1


def test_strong_evidence_in_the_querys_language_wins():
    # doc 1 holds most of the question's words and is about as similar
    dense = [(31, 0.40), (11, 0.38), (21, 0.22), (41, 0.20)]
    lexical = [(11, 7.0), (21, 1.0)]
    assert _mixture(dense, lexical)[0][0] == 1


def test_scores_are_probabilities_and_passages_follow_their_own_evidence():
    dense = [(31, 0.42), (11, 0.30), (12, 0.35), (21, 0.22), (41, 0.20)]
    ranked = _mixture(dense, [(11, 6.0)])
    total = sum(p for _, p, _ in ranked)
    assert all(0.0 < p <= 1.0 for _, p, _ in ranked)
    assert total == pytest.approx(1.0)
    # every passage of a document carries the document's probability; the
    # one with the words asked for comes first even though 12 is more similar
    chunks = dict((d, c) for d, _, c in ranked)[1]
    assert [c.chunk_id for c in chunks] == [11, 12]
    assert {c.score for c in chunks} == {dict((d, p) for d, p, _ in ranked)[1]}


def test_one_language_only_is_a_softmax_of_its_scores():
    # a language filter (or a query of undetermined language) leaves one group
    dense = [(31, 0.40), (41, 0.30)]
    ranked = _mixture(dense, [], qlang="en")
    model = Mixture()
    a, b = model.other[0] * 0.40, model.other[0] * 0.30
    assert ranked[0][0] == 3
    assert ranked[0][1] == pytest.approx(math.exp(a) / (math.exp(a) + math.exp(b)))


def test_the_language_bias_moves_the_balance():
    dense = [(31, 0.40), (11, 0.36), (21, 0.22), (41, 0.20)]
    lexical = [(11, 3.0)]
    toward_other = [d for d, _, _ in _mixture(dense, lexical, bias=-4.0)]
    toward_same = [d for d, _, _ in _mixture(dense, lexical, bias=4.0)]
    assert toward_other[0] == 3 and toward_same[0] == 1


def test_an_echo_never_passes_the_document_it_echoes():
    a = ChunkScore(11, 1, 0.6, 0.4, None)
    ranked = [(1, 0.6, [a]), (3, 0.1, [ChunkScore(31, 3, 0.1, 0.3, None)])]
    merged = merge_echoes(ranked, {3: ChunkScore(31, 3, 0.6, 0.9, None)}, 3)
    assert [d for d, _, _ in merged] == [1, 3]


# --------------------------------------------------------- the real model
AR_MOTHERS = (
    "تلعب الأمهات دوراً أساسياً في ملاحظة علامات التطرف المبكرة لدى أبنائهن، "
    "مثل الانعزال المفاجئ عن الأصدقاء وتغيّر اللغة والاهتمام بمواقع متطرفة. "
    "ودربت الورشة مجموعات من الأمهات على الحوار مع المراهقين وطلب المساعدة "
    "من المرشدين الاجتماعيين في البلدية.")
EN_BUDGET = (
    "The city council reviewed the role of the finance office in the annual "
    "budget. Early signs of overspending were noticed in road maintenance, and "
    "the committee asked for a new tender for asphalt and street lighting.")
EN_SPORT = (
    "The football club opened a new stadium with seats for twenty thousand "
    "supporters. Ticket prices stay the same and the season starts in August.")
QUESTION = "What role do mothers play in noticing early signs of radicalisation?"


@pytest.fixture(scope="module")
def mixed_library(tmp_path_factory, use_embedder):
    root = tmp_path_factory.mktemp("mixture")
    lib = Library(make_config(root), embedder=use_embedder)
    ids = {}
    for name, body, lang in (("mothers.txt", AR_MOTHERS, "ar"), ("budget.txt", EN_BUDGET, "en"),
                             ("sport.txt", EN_SPORT, "en")):
        p = root / name
        p.write_text(body, encoding="utf-8")
        r = ingest_file(lib, p, IngestOptions(access="public", language=lang, title=name))
        assert r.status == "ready", r.error
        ids[name] = r.document_id
    yield lib, ids
    lib.close()


def test_an_english_question_finds_the_only_answer_in_arabic(mixed_library):
    lib, ids = mixed_library
    who = principal_for_role("visitor")
    res = search(lib, who, QUESTION)
    assert res["results"][0]["document"]["id"] == ids["mothers.txt"]
    assert res["results"][0]["other_language"] is True
    # the English budget note shares "role", "signs", "early", "noticed":
    # with the shared calibrated score it came first
    lib.config = make_config(lib.config.data_dir, **{"search.fusion": "calibrated"})
    try:
        old = search(lib, who, QUESTION)
    finally:
        lib.config = make_config(lib.config.data_dir)
    assert old["results"][0]["document"]["id"] == ids["budget.txt"]


def test_the_access_filter_holds_inside_the_mixture(mixed_library, tmp_path):
    lib, ids = mixed_library
    p = tmp_path / "minutes.txt"
    p.write_text("Steering committee minutes: mothers noticing early signs of "
                 "radicalisation, the role of the finance office.", encoding="utf-8")
    r = ingest_file(lib, p, IngestOptions(access="members", language="en", title="minutes"))
    try:
        visitor = search(lib, principal_for_role("visitor"), QUESTION)
        member = search(lib, principal_for_role("member"), QUESTION)
        shown = [x["document"]["id"] for x in visitor["results"] + visitor["nearest"]]
        assert r.document_id not in shown and sorted(shown) == sorted(ids.values())
        assert r.document_id in [x["document"]["id"] for x in member["results"]]
    finally:
        from doclib.ingest import delete_documents
        delete_documents(lib, [r.document_id])


def test_filters_apply_to_the_mixture(mixed_library):
    lib, ids = mixed_library
    res = search(lib, principal_for_role("visitor"), QUESTION, filters=Filters(language="en"))
    assert {x["document"]["id"] for x in res["results"] + res["nearest"]} == \
        {ids["budget.txt"], ids["sport.txt"]}


def test_an_off_topic_question_has_no_close_match(mixed_library):
    lib, ids = mixed_library
    res = search(lib, principal_for_role("visitor"), "banana bread recipe")
    assert res["results"] == [] and res["total"] == 0 and res["close_match"] is False
    assert len(res["nearest"]) == 3 and res["facets"]["language"] == []


def test_an_off_topic_arabic_question_has_no_close_match(mixed_library):
    lib, ids = mixed_library
    # "how do I fix a punctured bicycle tyre": no word of it in the library
    res = search(lib, principal_for_role("visitor"), "كيف أصلح إطار الدراجة المثقوب")
    assert res["close_match"] is False and res["total"] == 0 and res["results"] == []
    assert len(res["nearest"]) == 3


def test_the_coverage_floor_is_per_query_language():
    # an Arabic query's 4-grams hold part of a word that differs: its
    # coverage is on a lower scale than an English query's stemmed words
    from doclib.config import from_dict
    from doclib.search import split_at_floor

    cfg = from_dict({}).search
    ranked = [Hit(1, 0.9, []), Hit(2, 0.1, [])]
    weak = {"dense": cfg.floor_dense - 0.01,
            "coverage": (cfg.floor_coverage + cfg.floor_coverage_ar) / 2}
    assert cfg.floor_coverage_ar < cfg.floor_coverage
    assert split_at_floor(cfg, ranked, weak, "mixture", "en") == ([], ranked)
    assert split_at_floor(cfg, ranked, weak, "mixture", "ar") == (ranked, [])
    # a similar enough passage is a close match in either language
    close = {**weak, "dense": cfg.floor_dense}
    assert split_at_floor(cfg, ranked, close, "mixture", "en") == (ranked, [])


def test_documents_under_the_floor_are_not_counted_as_matches(mixed_library):
    lib, ids = mixed_library
    res = search(lib, principal_for_role("visitor"), QUESTION)
    assert res["close_match"] is True
    assert [x["document"]["id"] for x in res["results"]][0] == ids["mothers.txt"]
    assert ids["sport.txt"] in [x["document"]["id"] for x in res["nearest"]]
    assert res["total"] == len(res["results"]) < 3
    # no floor: every candidate is a match, as before
    lib.config = make_config(lib.config.data_dir, **{"search.floor_dense": 0.0,
                                                     "search.floor_coverage": 0.0,
                                                     "search.floor_probability": 0.0})
    try:
        everything = search(lib, principal_for_role("visitor"), "banana bread recipe")
    finally:
        lib.config = make_config(lib.config.data_dir)
    assert everything["total"] == 3 and everything["nearest"] == []


def test_a_language_filter_renormalises_the_probabilities(mixed_library):
    lib, ids = mixed_library
    everything = search(lib, principal_for_role("visitor"), QUESTION)
    english = search(lib, principal_for_role("visitor"), QUESTION,
                     filters=Filters(language="en"))
    arabic = search(lib, principal_for_role("visitor"), QUESTION,
                    filters=Filters(language="ar"))
    # the only Arabic document is all the filter leaves: its chance of being
    # the answer, given that the answer is in Arabic, is one
    assert [(x["document"]["id"], x["score"]) for x in arabic["results"]] == \
        [(ids["mothers.txt"], 1.0)]
    # the English documents keep their order, on a scale of their own
    p = {x["document"]["id"]: x["score"] for x in everything["results"] + everything["nearest"]}
    q = {x["document"]["id"]: x["score"] for x in english["results"] + english["nearest"]}
    assert set(q) == {ids["budget.txt"], ids["sport.txt"]}
    assert sorted(q, key=q.get) == sorted(q, key=p.get)
    assert sum(q.values()) == pytest.approx(1.0, abs=1e-3)

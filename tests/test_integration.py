"""End to end with the real bundled model (USE multilingual v3)."""

import pytest

from conftest import make_config
from doclib.auth import principal_for_role
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.search import Filters, search

pytestmark = pytest.mark.integration
MEMBER = principal_for_role("member")


@pytest.fixture(scope="module")
def real_lib(tmp_path_factory, use_embedder, fixtures_dir):
    lib = Library(make_config(tmp_path_factory.mktemp("real")), embedder=use_embedder)
    for name in ("en_summit_writer.pdf", "ar_summit_writer.pdf"):
        r = ingest_file(lib, fixtures_dir / name, IngestOptions(access="public"))
        assert r.status == "ready", r
    yield lib
    lib.close()


def titles(res):
    return [r["document"]["title"] for r in res["results"]]


def test_english_query_finds_the_arabic_document(real_lib):
    res = search(real_lib, MEMBER, "How many delegates came to the summit in Denmark?",
                 filters=Filters(language="ar"))
    assert res["results"] and res["results"][0]["document"]["language"] == "ar"
    assert res["results"][0]["other_language"] is True


def test_arabic_query_finds_the_english_document(real_lib):
    res = search(real_lib, MEMBER, "كم عدد المندوبين الذين حضروا القمة؟",
                 filters=Filters(language="en"))
    assert res["results"][0]["document"]["title"] == "Strong Cities Network Global Summit 2017"


def test_pool_ranks_both_languages(real_lib):
    res = search(real_lib, MEMBER, "violent extremism prevention summit Aarhus", k=3)
    langs = {r["document"]["language"] for r in res["results"]}
    assert langs == {"ar", "en"}


def test_real_embedder_is_deterministic(use_embedder):
    a = use_embedder.embed_queries(["القمة الدولية"])
    b = use_embedder.embed_queries(["القمة الدولية"])
    assert (a == b).all() and a.shape == (1, 512)


def test_bilingual_presentation_found_from_both_languages(real_lib, fixtures_dir):
    r = ingest_file(real_lib, fixtures_dir / "slides.pptx", IngestOptions(access="public"))
    try:
        for q in ("summit evaluation results", "نتائج تقييم القمة"):
            res = search(real_lib, MEMBER, q, k=3)
            assert r.document_id in [x["document"]["id"] for x in res["results"]]
    finally:
        from doclib.ingest import delete_document

        delete_document(real_lib, r.document_id)

"""The write path against a real SQLite database and real FAISS files."""

import json
import shutil

import numpy as np
import pytest
from sqlalchemy import func, select, text

from conftest import FakeEmbedder, by_hand
from doclib import store
from doclib.auth import principal_for_role
from doclib.errors import Cancelled, IndexStale
from doclib.index import lexical
from doclib.ingest import IngestOptions, delete_document, ingest_file, ingest_paths, reindex
from doclib.library import Library
from doclib.search import search

MEMBER = principal_for_role("member")


def counts(lib):
    with lib.db.connect() as conn:
        return (conn.execute(select(func.count()).select_from(store.documents)).scalar_one(),
                conn.execute(select(func.count()).select_from(store.chunks)).scalar_one(),
                lexical.count(conn), len(lib.vectors))


def test_ingest_report_and_rows(lib, fixtures_dir):
    r = ingest_file(lib, fixtures_dir / "ar_summit_writer.pdf", IngestOptions(access="public"))
    assert r.status == "ready" and r.pages == 5 and r.chunks > 5 and r.language == "ar"
    assert r.error is None and r.document_id
    docs, chunks, terms, vectors = counts(lib)
    assert (docs, chunks, terms, vectors) == (1, r.chunks, r.chunks, r.chunks)
    with lib.db.connect() as conn:
        doc = conn.execute(select(store.documents)).one()
    assert doc.original_filename == "ar_summit_writer.pdf"
    assert doc.stored_name != doc.original_filename and lib.files.path(doc.stored_name).exists()
    assert doc.title == "القمة الدولية 2017"
    with lib.db.connect() as conn:  # never read, no longer stored (issue 11.5)
        assert {r[0] for r in conn.execute(select(store.chunks.c.norm_text))} == {""}


def test_reingesting_unchanged_file_is_free(lib, fixtures_dir, monkeypatch):
    first = ingest_file(lib, fixtures_dir / "en_summit.txt")
    import doclib.ingest as ingest_mod

    monkeypatch.setattr(ingest_mod, "extract", lambda *a, **k: pytest.fail("re-extracted"))
    again = ingest_file(lib, fixtures_dir / "en_summit.txt")
    assert again.status == "unchanged" and again.document_id == first.document_id
    assert again.chunks == first.chunks
    assert counts(lib)[0] == 1


def test_metadata_change_without_reembedding(lib, fixtures_dir):
    first = ingest_file(lib, fixtures_dir / "en_summit.txt", IngestOptions(access="members"))
    again = ingest_file(lib, fixtures_dir / "en_summit.txt",
                        IngestOptions(access="public", update_existing=True))
    assert again.status == "updated" and again.document_id == first.document_id


def test_changed_file_replaces_its_chunks(lib, tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("The first version talks about bicycles and rivers.", encoding="utf-8")
    first = ingest_file(lib, p, source_path=str(p))
    p.write_text("The second version is about libraries and mountains.", encoding="utf-8")
    second = ingest_file(lib, p, source_path=str(p))
    assert second.document_id == first.document_id and second.status == "ready"
    docs, chunks, terms, vectors = counts(lib)
    assert docs == 1 and chunks == terms == vectors == second.chunks
    res = search(lib, MEMBER, "bicycles rivers")
    assert all("bicycles" not in p["text"] for r in res["results"] for p in r["passages"])
    assert "mountains" in search(lib, MEMBER, "mountains")["results"][0]["passages"][0]["text"]


def test_unsupported_file_stores_nothing(lib, tmp_path):
    p = tmp_path / "x.pdf"
    p.write_text("not a pdf", encoding="utf-8")
    r = ingest_file(lib, p)
    assert r.status == "failed" and "content is TXT" in r.error and r.document_id is None
    assert counts(lib)[:3] == (0, 0, 0)
    assert not (lib.config.library_dir / "files").exists() or not any(
        (lib.config.library_dir / "files").rglob("*.*"))


def test_blank_pdf_is_empty_not_ready(lib, tmp_path):
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=100, height=100)
    p = tmp_path / "blank.pdf"
    w.write(p)
    r = ingest_file(lib, p)
    assert r.status == "empty" and r.error.startswith("no extractable text")
    with lib.db.connect() as conn:
        assert conn.execute(select(store.documents.c.status)).scalar_one() == "empty"
    assert counts(lib)[1:] == (0, 0, 0)


def test_parser_failure_leaves_no_partial_rows(lib, fixtures_dir, monkeypatch):
    import doclib.ingest as ingest_mod

    def boom(texts):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lib.embedder, "embed_passages", boom)
    r = ingest_file(lib, fixtures_dir / "en_summit.txt")
    assert r.status == "failed" and "No space left" in r.error
    assert counts(lib)[1:] == (0, 0, 0)
    assert ingest_mod  # module imported for monkeypatching symmetry


def test_a_retried_document_keeps_its_original_until_the_new_one_is_named(lib, fixtures_dir,
                                                                         monkeypatch):
    """A file whose earlier ingestion failed is stored again; the earlier
    copy is removed only once the row naming the new copy has committed: a
    crash (SIGKILL) in between must not leave the row naming a deleted
    file, which `doclib check` reports and cannot repair (the fault loop,
    tests/test_fault_loop.py, found it)."""
    def cancelled() -> None:
        raise Cancelled("stopped")

    path = fixtures_dir / "en_summit.txt"
    assert ingest_file(lib, path, stop=cancelled).status == "cancelled"
    with lib.db.connect() as conn:
        first = conn.execute(select(store.documents)).one()
    assert first.status == "failed" and lib.files.path(first.stored_name).exists()
    committed_at_deletion = {}
    delete = lib.files.delete

    def recording_delete(name):
        if name:  # what a restarted process would read at this moment
            with by_hand(lib.config.database_url) as conn:
                committed_at_deletion[name] = [r[0] for r in conn.execute(
                    text("SELECT stored_name FROM documents"))]
        delete(name)

    monkeypatch.setattr(lib.files, "delete", recording_delete)
    r = ingest_file(lib, path)
    assert r.status == "ready" and r.document_id == first.id
    assert first.stored_name in committed_at_deletion
    assert first.stored_name not in committed_at_deletion[first.stored_name]
    with lib.db.connect() as conn:
        now = conn.execute(select(store.documents)).one()
    assert lib.files.path(now.stored_name).exists()
    assert not lib.files.path(first.stored_name).exists()


def test_index_save_failure_rolls_back(lib, fixtures_dir, tmp_path, monkeypatch):
    ok = ingest_file(lib, fixtures_dir / "en_summit.txt")
    import faiss

    def full_disk(index, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", full_disk)
    r = ingest_file(lib, fixtures_dir / "mixed_summit.txt")
    monkeypatch.undo()
    assert r.status == "failed" and "No space left" in r.error
    docs, chunks, terms, vectors = counts(lib)
    assert chunks == terms == vectors == ok.chunks
    assert search(lib, MEMBER, "Aarhus")["total"] >= 1  # search keeps working


def test_delete_removes_everything(lib, fixtures_dir):
    r = ingest_file(lib, fixtures_dir / "en_summit.txt")
    with lib.db.connect() as conn:
        stored = conn.execute(select(store.documents.c.stored_name)).scalar_one()
    delete_document(lib, r.document_id)
    assert counts(lib) == (0, 0, 0, 0)
    assert not lib.files.path(stored).exists()
    assert search(lib, MEMBER, "Aarhus summit")["total"] == 0
    # a second process opening the library sees the same
    other = Library(lib.config, embedder=FakeEmbedder())
    assert len(other.vectors) == 0


def test_reindex_twice_is_stable(lib, fixtures_dir):
    for name in ("en_summit.txt", "ar_summit.txt", "mixed_summit.txt"):
        ingest_file(lib, fixtures_dir / name, IngestOptions(access="public"))
    before = counts(lib)
    first = search(lib, MEMBER, "summit in Aarhus", k=5)
    reindex(lib)
    reindex(lib)
    assert counts(lib) == before
    second = search(lib, MEMBER, "summit in Aarhus", k=5)
    assert [r["document"]["id"] for r in first["results"]] == \
        [r["document"]["id"] for r in second["results"]]


def test_vector_index_rebuilt_when_missing_or_truncated(lib, fixtures_dir):
    ingest_file(lib, fixtures_dir / "en_summit.txt")
    n = len(lib.vectors)
    idx = lib.config.index_dir / "vectors.faiss"
    idx.write_bytes(idx.read_bytes()[:100])
    damaged = idx.read_bytes()
    fresh = Library(lib.config, embedder=FakeEmbedder())
    assert len(fresh.vectors) == n
    # a read never writes: the index is built in memory, the file stays as it was
    assert idx.read_bytes() == damaged
    fresh.index.open()  # a service starting, `doclib check`: rebuilt and saved
    assert idx.read_bytes() != damaged
    shutil.rmtree(lib.config.index_dir)
    lib.config.index_dir.mkdir()
    fresh2 = Library(lib.config, embedder=FakeEmbedder())
    assert len(fresh2.vectors) == n and not idx.exists()
    fresh2.index.open()
    assert idx.exists() and len(Library(lib.config, embedder=FakeEmbedder()).vectors) == n


def test_other_process_sees_new_documents(lib, fixtures_dir):
    reader = Library(lib.config, embedder=FakeEmbedder())
    assert len(reader.vectors) == 0
    ingest_file(lib, fixtures_dir / "en_summit.txt")
    assert len(reader.vectors) == len(lib.vectors) > 0


def test_changing_embedder_dimension_is_a_clear_error(lib, fixtures_dir):
    r = ingest_file(lib, fixtures_dir / "en_summit.txt")
    other = Library(lib.config, embedder=FakeEmbedder(dim=32, ident="fake/32"))
    with pytest.raises(IndexStale, match=r"dimension 64.*dimension 32.*doclib reindex"):
        _ = other.vectors
    reindex(other)
    assert len(other.vectors) == r.chunks
    assert search(other, MEMBER, "Aarhus")["total"] >= 1


def test_same_dimension_other_model_is_refused(lib, fixtures_dir):
    ingest_file(lib, fixtures_dir / "en_summit.txt")
    other = Library(lib.config, embedder=FakeEmbedder(ident="fake/other"))
    with pytest.raises(IndexStale, match="reindex"):
        _ = other.vectors


def test_folder_with_catalogue(lib, tmp_path):
    folder = tmp_path / "lib"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("Workshop notes about schools.", encoding="utf-8")
    (folder / "b.txt").write_text("Another file about families.", encoding="utf-8")
    (folder / "catalogue.yaml").write_text(
        "events:\n- slug: ev-1\n  title: {en: Event one, ar: الحدث الأول}\n  start: 2024-05-01\n"
        "  workshops:\n  - number: 1\n    title: {ar: المدارس}\n"
        "documents:\n- file: sub/a.txt\n  title: Schools\n  type: report\n  access: public\n"
        "  event: ev-1\n  workshop: 1\n", encoding="utf-8")
    reports = list(ingest_paths(lib, [str(folder)], IngestOptions(access="members")))
    assert [r.status for r in reports] == ["ready", "ready"]
    with lib.db.connect() as conn:
        rows = {r.title: r for r in conn.execute(select(store.documents)).all()}
    assert rows["Schools"].access == 0 and rows["Schools"].doc_type == "report"
    assert rows["Schools"].workshop_id is not None and rows["Schools"].year == 2024
    assert rows["b"].access == 1


def test_unknown_event_is_reported(lib, fixtures_dir):
    r = ingest_file(lib, fixtures_dir / "en_summit.txt", IngestOptions(event="nope"))
    assert r.status == "failed" and "no event 'nope'" in r.error


def test_jobs_record_reports(lib, fixtures_dir):
    ingest_file(lib, fixtures_dir / "en_summit.txt")
    with lib.db.connect() as conn:
        job = conn.execute(select(store.jobs)).one()
    assert json.loads(job.report)["status"] == "ready"


def test_embeddings_stored_match_index(lib, fixtures_dir):
    ingest_file(lib, fixtures_dir / "en_summit.txt")
    ids, _docs, vecs = lib.index.stored_vectors()
    for cid, v in zip(ids, vecs, strict=True):
        _, got = lib.vectors.search(v, 1, np.array([cid]))
        assert got[0] == cid


def test_lexical_index_rebuilt_when_its_version_changes(lib, fixtures_dir):
    from doclib.index.indexes import set_meta as _set_meta

    r = ingest_file(lib, fixtures_dir / "ar_summit.txt")
    with lib.db.begin() as conn:
        conn.execute(store.meta.delete().where(store.meta.c.key == "lexical_version"))
        lexical.clear(conn)
        _set_meta(conn, {"lexical_version": "0"})
    reopened = Library(lib.config, embedder=FakeEmbedder())
    with reopened.db.connect() as conn:
        assert lexical.count(conn) == r.chunks
    assert search(reopened, MEMBER, "القمة الدولية")["total"] == 1


def test_rechunk_applies_new_chunk_settings(lib, fixtures_dir):
    from doclib import config as config_mod
    from doclib.ingest import rechunk

    r = ingest_file(lib, fixtures_dir / "ar_summit_writer.pdf", IngestOptions(language="ar"))
    small = config_mod.with_overrides(lib.config, {"chunk.max_words": 40})
    other = Library(small, embedder=FakeEmbedder())
    out = rechunk(other)
    assert out == {"documents": 1, "failed": 0}
    docs, chunks, terms, vectors = counts(other)
    assert docs == 1 and chunks > r.chunks and chunks == terms == vectors
    with other.db.connect() as conn:
        assert conn.execute(select(store.documents.c.language)).scalar_one() == "ar"

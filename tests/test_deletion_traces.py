"""Deleting leaves no trace (issue 10.5): after a deletion (and, where it
is not done at once, `doclib compact`), a deleted document's words are in
no file of the data folder, its job reports no longer name it, and its ids
are never given again.  Real SQLite and FAISS files, scanned byte by byte."""

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import FakeEmbedder, make_config
from doclib import erase, store
from doclib.auth import principal_for_role
from doclib.ingest import IngestOptions, delete_documents, ingest_file
from doclib.library import Library
from doclib.maintenance import backup, check
from doclib.search import search
from doclib.text import lexical_terms

EN, AR = "zqxjvwordmarker", "ظغضذثظغضذ"
KEPT = ("en_summit.txt", "ar_summit.txt")
pytestmark = pytest.mark.sqlite_only(
    "scans the SQLite file, its WAL and FTS5 segments for a deleted document's words "
    "(PostgreSQL: test_postgres)")


def _marked(folder: Path) -> Path:
    """A document naming the markers in its file name, title and text
    (long enough to fill overflow pages)."""
    body = "\n".join(f"Paragraph {i}: the {EN} committee met the {EN}s about schools, "
                     f"youth centres and prevention. اجتمعت لجنة {AR} حول المدارس والشباب "
                     "في المدينة." for i in range(300))
    path = folder / f"{EN}-minutes-{AR}.txt"
    path.write_text(body, encoding="utf-8")
    return path


def _needles(fixtures_dir: Path) -> set[str]:
    """The markers, as written and as the lexical index holds them (the
    English stem, the Arabic 4-grams no kept document has)."""
    kept = set()
    for name in KEPT:
        kept |= set(lexical_terms((fixtures_dir / name).read_text(encoding="utf-8")))
    return {EN, AR} | (set(lexical_terms(f"{EN} {AR}")) - kept)


def _traces(root: Path, needles: set[str]) -> dict[str, list[str]]:
    """Files under ``root`` holding any needle (UTF-8 bytes)."""
    hits = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            found = sorted(n for n in needles if n.encode() in data)
            if found:
                hits[str(p.relative_to(root))] = found
    return hits


def _library_with_marker(lib, fixtures_dir, src_dir):
    for name in KEPT:
        assert ingest_file(lib, fixtures_dir / name,
                           IngestOptions(access="public")).status == "ready"
    marked = _marked(src_dir)
    r = ingest_file(lib, marked, IngestOptions(access="public", title=f"{EN} {AR}"),
                    source_path=str(marked))
    assert r.status == "ready" and r.chunks > 10
    return r


def _max_chunk_id(lib):
    with lib.db.connect() as conn:
        return conn.execute(select(func.max(store.chunks.c.id))).scalar_one()


def test_deleted_document_leaves_no_trace(lib, fixtures_dir, tmp_path, tmp_path_factory):
    data = lib.config.data_dir
    assert data == tmp_path.resolve()
    needles = _needles(fixtures_dir)
    r = _library_with_marker(lib, fixtures_dir, tmp_path_factory.mktemp("src"))
    deleted_chunks = _max_chunk_id(lib)
    with lib.db.connect() as conn:
        marked_chunks = {x[0] for x in conn.execute(select(store.chunks.c.id).where(
            store.chunks.c.document_id == r.document_id))}
    assert _traces(data, needles)  # the scan sees them while the document is there
    with lib.db.connect() as conn:
        jobs_before = conn.execute(select(func.count()).select_from(store.jobs)).scalar_one()

    delete_documents(lib, [r.document_id])

    # no file of the data folder holds its words: the database and its WAL
    # and -shm (rows, free pages, FTS5 segments), the FAISS file, the originals
    assert _traces(data, needles) == {}
    assert erase.pending(lib) is None  # a small library: nothing left for later
    # nor does a backup made now
    backup(lib, data / "backup")
    assert _traces(data, needles) == {}
    # its job stays, redacted
    with lib.db.connect() as conn:
        jobs = conn.execute(select(store.jobs)).all()
    assert len(jobs) == jobs_before
    reports = [json.loads(j.report) for j in jobs]
    gone = [x for x in reports if x.get("document_id") == r.document_id]
    assert gone == [{"status": "ready", "pages": 1, "chunks": r.chunks, "language": "en",
                     "ocr": 0, "existing": False, "document_id": r.document_id,
                     "deleted": True}]
    curator = principal_for_role("curator")
    assert search(lib, curator, EN)["total"] == 0
    assert search(lib, curator, "Aarhus")["total"] >= 1  # the others stay
    # its ids are never given again, to documents or to chunks (FAISS ids)
    again = ingest_file(lib, fixtures_dir / "mixed_summit.txt", IngestOptions(access="public"))
    assert again.document_id == r.document_id + 1
    with lib.db.connect() as conn:
        new_chunks = [x[0] for x in conn.execute(select(store.chunks.c.id).where(
            store.chunks.c.document_id == again.document_id))]
    assert min(new_chunks) == deleted_chunks + 1
    assert marked_chunks.isdisjoint(lib.vectors.ids().tolist())
    assert max(lib.vectors.ids()) == max(new_chunks)


def test_big_library_is_compacted_by_check_repair(lib, fixtures_dir, tmp_path_factory,
                                                   monkeypatch):
    """Above AUTO_COMPACT_CHUNKS the lexical index is not merged at each
    deletion: `doclib check` says so, and its repair (`doclib compact`)
    removes what FTS5 kept."""
    monkeypatch.setattr(erase, "AUTO_COMPACT_CHUNKS", 0)
    data = lib.config.data_dir
    needles = _needles(fixtures_dir)
    r = _library_with_marker(lib, fixtures_dir, tmp_path_factory.mktemp("src"))
    delete_documents(lib, [r.document_id])
    left = _traces(data, needles)
    assert set(left) == {"library/doclib.db"}  # FTS5's segments and delete markers
    result = check(lib)
    item = next(x for x in result["checks"] if x["name"] == "deleted documents")
    assert not result["ok"] and not item["ok"] and "doclib compact" in item["detail"]
    repaired = check(lib, repair=True)
    assert repaired["ok"] and any("compacted" in x for x in repaired["repaired"])
    assert _traces(data, needles) == {}
    assert check(lib)["ok"] and erase.pending(lib) is None


@pytest.fixture
def cli(cli_fake):
    return cli_fake


def test_library_from_before_is_compacted_by_doclib_compact(cli, fixtures_dir, tmp_path,
                                                             tmp_path_factory):
    """A document deleted by an older version (rows and lexical entries
    deleted, nothing overwritten, job reports kept): the upgrade marks the
    compaction pending, `doclib check` says so, `doclib compact` removes
    every trace (free pages, FTS5 segments, job reports, WAL)."""

    data = tmp_path / "data"
    cfg = make_config(data)
    lib = Library(cfg, embedder=FakeEmbedder())
    needles = _needles(fixtures_dir)
    r = _library_with_marker(lib, fixtures_dir, tmp_path_factory.mktemp("src"))
    with lib.db.connect() as conn:
        stored = conn.execute(select(store.documents.c.stored_name).where(
            store.documents.c.id == r.document_id)).scalar_one()
    lib.db.downgrade("0007")
    lib.close()
    db = sqlite3.connect(cfg.library_dir / "doclib.db")
    db.execute("PRAGMA secure_delete=OFF")
    db.execute("PRAGMA foreign_keys=ON")  # as doclib's connections: jobs lose the id
    with db:  # what delete_documents did before
        ids = [x[0] for x in db.execute("SELECT id FROM chunks WHERE document_id = ?",
                                        (r.document_id,))]
        for table in ("chunk_terms", "chunk_terms_l0", "chunk_terms_l1"):
            db.executemany(f"DELETE FROM {table} WHERE rowid = ?", [(i,) for i in ids])
        db.execute("DELETE FROM chunks WHERE document_id = ?", (r.document_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (r.document_id,))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    (cfg.library_dir / "files" / stored).unlink()
    assert _traces(data, needles)

    res = cli("check")  # migrates to the newest revision
    assert res.exit_code == 1 and "BAD deleted documents" in res.output
    assert "doclib compact" in res.output
    res = cli("compact")
    assert res.exit_code == 0 and "compacted: 1 job reports" in res.output, res.output
    assert _traces(data, needles) == {}
    assert cli("check").exit_code == 0

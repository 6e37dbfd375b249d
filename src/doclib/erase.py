"""No trace of deleted documents.

A deleted document's words must not be findable in any file of the data
folder: the database, its WAL, the lexical index, the FAISS file, the job
reports.  ``ingest.delete_documents`` removes its rows, vectors and
original, and in the same transaction redacts its job reports
(``redact_jobs``: the jobs stay, without the title, file name, warnings and
options that name it).  SQLite overwrites deleted rows and freed pages with
zeros (``PRAGMA secure_delete``, ``store.py``).  Two traces outlive the
transaction; ``settle`` removes them after every deletion:

- FTS5 deletes a row by writing a delete marker that holds its terms, and
  keeps the row's terms in older segments until the segments are merged:
  'optimize' merges each audience table into one segment without them.
  It rewrites the whole lexical index (measured: 0.1 s per table at 10,000
  chunks, 0.4 s at 50,000), so it runs on its own only up to
  ``AUTO_COMPACT_CHUNKS`` chunks;
- the WAL keeps the pages as they were before the deletion until it is
  reset: a TRUNCATE checkpoint empties it, unless a reader still uses them.

When either cannot be done, ``meta.compaction_pending`` says why; ``doclib
check`` reports it and ``doclib compact`` (or ``check --repair``) runs
``compact``: the same steps, plus the redaction of reports naming documents
deleted before this version, plus VACUUM, which rewrites the file with its
live rows only (the free pages and page slack of older versions go).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from . import store
from .index import lexical
from .library import Library

log = logging.getLogger("doclib")

PENDING = "compaction_pending"
# 'optimize' after a deletion while the lexical index holds at most this
# many chunks (about 0.2 s per audience table); above it, `doclib compact`
AUTO_COMPACT_CHUNKS = 20_000
# how long the checkpoint after a deletion waits for readers
CHECKPOINT_WAIT_MS = 2000

# what a deleted document's job report keeps: nothing that names it
_KEPT = ("status", "pages", "chunks", "language", "ocr", "existing")


def _redacted(raw: str | None, doc_id: int | None) -> str:
    try:
        old = json.loads(raw or "{}")
    except ValueError:
        old = {}
    kept = {k: old[k] for k in _KEPT if isinstance(old, dict) and k in old}
    return json.dumps({**kept, "document_id": doc_id, "deleted": True})


def redact_jobs(conn: Connection, doc_ids: list[int]) -> int:
    """Redact the job rows of documents being deleted (in the deleting
    transaction, before their rows go: the jobs' ``document_id`` becomes
    NULL then); the number of jobs."""
    j = store.jobs
    rows = conn.execute(select(j.c.id, j.c.document_id, j.c.report)
                        .where(j.c.document_id.in_(doc_ids))).all()
    for r in rows:
        conn.execute(j.update().where(j.c.id == r.id).values(
            report=_redacted(r.report, r.document_id), payload=None))
    return len(rows)


def _orphan_doc(row: Any, present: set[int]) -> int | None:
    """The deleted document a finished job's report still names (its
    ``document_id`` column is NULL once the document is deleted), if the
    report is not redacted yet; else None."""
    try:
        report = json.loads(row.report or "")
    except ValueError:
        return None
    if not isinstance(report, dict) or "deleted" in report:
        return None
    doc = row.document_id if row.document_id is not None else report.get("document_id")
    if isinstance(doc, bool) or not isinstance(doc, int) or doc in present:
        return None
    return doc


def redact_orphan_jobs(conn: Connection) -> int:
    """Redact the finished jobs whose report names a document that is gone
    (deleted before job reports were redacted); the number of jobs."""
    j = store.jobs
    present = set(conn.execute(select(store.documents.c.id)).scalars())
    rows = conn.execute(select(j.c.id, j.c.document_id, j.c.report)
                        .where(j.c.status.not_in(("queued", "processing")))).all()
    n = 0
    for r in rows:
        doc = _orphan_doc(r, present)
        if doc is not None:
            conn.execute(j.update().where(j.c.id == r.id).values(
                report=_redacted(r.report, doc), payload=None))
            n += 1
    return n


def pending(lib: Library) -> str | None:
    """Why traces of deleted documents may remain (None: none may)."""
    with lib.db.connect() as conn:
        return conn.execute(select(store.meta.c.value).where(
            store.meta.c.key == PENDING)).scalar()


def _set_pending(lib: Library, reason: str | None) -> None:
    m = store.meta
    with lib.db.begin() as conn:
        conn.execute(m.delete().where(m.c.key == PENDING))
        if reason:
            conn.execute(m.insert().values(key=PENDING, value=reason))


# PostgreSQL keeps a deleted row in its table's pages (and the indexes'
# entries for it) until VACUUM: after a deletion the tables that hold a
# document's words are vacuumed (their dead rows removed, the space free
# for reuse); ``compact`` rewrites them (VACUUM FULL: new files holding the
# live rows only).  What PostgreSQL's write-ahead log and its archives hold
# is the server's (README, "PostgreSQL").
TEXT_TABLES = ("documents", "chunks", "jobs", "document_versions", "audit",
               *(f"{t}{part}" for t in lexical.tables() for part in ("", "_postings")))


def vacuum(lib: Library, full: bool = False) -> None:
    """VACUUM (``full``: VACUUM FULL) the tables that hold documents' words
    (PostgreSQL)."""
    with lib.db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in TEXT_TABLES:
            conn.exec_driver_sql(f"VACUUM {'FULL ' if full else ''}{table}")


def checkpoint(lib: Library, wait_ms: int = CHECKPOINT_WAIT_MS) -> bool:
    """Copy the WAL into the database and empty it (TRUNCATE), waiting at
    most ``wait_ms`` for readers of older pages; whether it was emptied
    (SQLite)."""
    with lib.db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            busy, *_ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={store.BUSY_TIMEOUT_MS}")
    return not busy


def settle(lib: Library) -> bool:
    """After a deletion: merge the lexical index's segments and empty the
    WAL when that is cheap, else mark the compaction pending.  Never raises
    for the database (the deletion is committed already); whether nothing
    is left to do but what was pending before."""
    try:
        with lib.index.write_lock():
            with lib.db.connect() as conn:
                n = lexical.row_count(conn)
            merged = n <= AUTO_COMPACT_CHUNKS
            if merged:
                with lib.db.begin() as conn:
                    lexical.optimize(conn)
            else:
                _set_pending(lib, f"a deletion in a library of {n} passages: merging its "
                             "lexical index is left to `doclib compact`")
            if not lib.db.is_sqlite:  # rewritten when small, else their dead rows removed
                vacuum(lib, full=merged)
                return merged
            if not checkpoint(lib):
                _set_pending(lib, "a reader kept the write-ahead log from being emptied "
                             "after a deletion")
                return False
            return merged
    except (SQLAlchemyError, OSError) as e:
        log.warning("after a deletion, the database could not be compacted "
                    "(`doclib compact` will): %s", type(e).__name__)
        try:
            _set_pending(lib, "the lexical index could not be merged after a deletion")
        except (SQLAlchemyError, OSError):
            pass
        return False


def _pg_size(lib: Library) -> int:
    with lib.db.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())


def _db_path(lib: Library) -> str:
    return lib.config.database_url.split("sqlite:///", 1)[1]


def compact(lib: Library) -> dict[str, Any]:
    """Remove every trace of deleted documents: redact the job reports that
    name one, merge the lexical index, VACUUM, empty the WAL.  Takes the
    write lock (uploads wait); searches go on.  Returns what was done."""
    size = (lambda: os.path.getsize(_db_path(lib))) if lib.db.is_sqlite else \
        (lambda: _pg_size(lib))
    before = size()
    with lib.index.write_lock():
        with lib.db.begin() as conn:
            jobs = redact_orphan_jobs(conn)
            lexical.optimize(conn)
            conn.execute(store.meta.delete().where(store.meta.c.key == PENDING))
        if lib.db.is_sqlite:
            with lib.db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
            emptied = checkpoint(lib, wait_ms=store.BUSY_TIMEOUT_MS)
        else:
            vacuum(lib, full=True)
            emptied = True
        if not emptied:
            _set_pending(lib, "a reader kept the write-ahead log from being emptied "
                         "by `doclib compact`")
    return {"jobs_redacted": jobs, "bytes_before": before, "bytes": size(),
            "wal_emptied": emptied}

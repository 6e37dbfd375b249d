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
import os
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from . import store
from .index import lexical
from .library import Library

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


# a finished job, not yet redacted, whose document is gone (the column is
# NULL once the document is deleted; its report still names it)
ORPHAN_DOC = "coalesce(document_id, json_extract(report, '$.document_id'))"
ORPHAN_JOB = (f"status NOT IN ('queued', 'processing') AND json_valid(report) "
              f"AND json_extract(report, '$.deleted') IS NULL AND {ORPHAN_DOC} IS NOT NULL "
              f"AND {ORPHAN_DOC} NOT IN (SELECT id FROM documents)")


def redact_orphan_jobs(conn: Connection) -> int:
    """Redact the finished jobs whose report names a document that is gone
    (deleted before job reports were redacted); the number of jobs."""
    rows = conn.execute(text(f"SELECT id, report, {ORPHAN_DOC} AS doc FROM jobs "
                             f"WHERE {ORPHAN_JOB}")).all()
    j = store.jobs
    for r in rows:
        conn.execute(j.update().where(j.c.id == r.id).values(
            report=_redacted(r.report, int(r.doc)), payload=None))
    return len(rows)


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


def checkpoint(lib: Library, wait_ms: int = CHECKPOINT_WAIT_MS) -> bool:
    """Copy the WAL into the database and empty it (TRUNCATE), waiting at
    most ``wait_ms`` for readers of older pages; whether it was emptied."""
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
            if not checkpoint(lib):
                _set_pending(lib, "a reader kept the write-ahead log from being emptied "
                             "after a deletion")
                return False
            return merged
    except (SQLAlchemyError, OSError):
        try:
            _set_pending(lib, "the lexical index could not be merged after a deletion")
        except (SQLAlchemyError, OSError):
            pass
        return False


def _db_path(lib: Library) -> str:
    return lib.config.database_url.split("sqlite:///", 1)[1]


def compact(lib: Library) -> dict[str, Any]:
    """Remove every trace of deleted documents: redact the job reports that
    name one, merge the lexical index, VACUUM, empty the WAL.  Takes the
    write lock (uploads wait); searches go on.  Returns what was done."""
    path = _db_path(lib)
    before = os.path.getsize(path)
    with lib.index.write_lock():
        with lib.db.begin() as conn:
            jobs = redact_orphan_jobs(conn)
            lexical.optimize(conn)
            conn.execute(store.meta.delete().where(store.meta.c.key == PENDING))
        with lib.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
        emptied = checkpoint(lib, wait_ms=store.BUSY_TIMEOUT_MS)
        if not emptied:
            _set_pending(lib, "a reader kept the write-ahead log from being emptied "
                         "by `doclib compact`")
    return {"jobs_redacted": jobs, "bytes_before": before, "bytes": os.path.getsize(path),
            "wal_emptied": emptied}

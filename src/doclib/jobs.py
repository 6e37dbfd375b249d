"""Background ingestion jobs for uploads.

An upload is validated and written to a temporary file in the request; the
ingestion (extract, embed, index) runs on one worker thread per process so the
request returns at once with a job id.  The job row says queued, then the
final status and report.  A job interrupted by a crash stays visible to
``doclib check --repair``.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select

from . import store
from .auth import Principal, can
from .errors import NotFound
from .ingest import IngestOptions, ingest_file
from .library import Library


def create(lib: Library, user_id: int | None, kind: str = "ingest") -> int:
    with lib.db.begin() as conn:
        return int(conn.execute(store.jobs.insert().values(
            kind=kind, status="queued", report="{}", user_id=user_id,
            created_at=store.now())).inserted_primary_key[0])


def get(lib: Library, who: Principal, job_id: int) -> dict[str, Any]:
    """A job for curators and admins; anyone else gets NotFound."""
    if not can(who, "view_jobs"):
        raise NotFound("job not found")
    with lib.db.connect() as conn:
        row = conn.execute(select(store.jobs).where(store.jobs.c.id == job_id)).first()
    if row is None:
        raise NotFound("job not found")
    return {"id": row.id, "kind": row.kind, "status": row.status,
            "document_id": row.document_id, "report": json.loads(row.report or "{}"),
            "created_at": row.created_at, "finished_at": row.finished_at}


def recent(lib: Library, limit: int = 50) -> list[dict[str, Any]]:
    with lib.db.connect() as conn:
        rows = conn.execute(select(store.jobs).order_by(store.jobs.c.id.desc()).limit(limit))
        return [{"id": r.id, "status": r.status, "document_id": r.document_id,
                 "report": json.loads(r.report or "{}"), "created_at": r.created_at}
                for r in rows]


class Runner:
    """One ingestion thread per process (the library has a single writer anyway)."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="doclib-ingest")
        self._lock = threading.Lock()
        self.futures: dict[int, Future[Any]] = {}

    def submit(self, job_id: int, tmp_path: Path, opts: IngestOptions, original_name: str,
               uploader_id: int | None, replace_id: int | None = None) -> None:
        def work() -> None:
            try:
                ingest_file(self.lib, tmp_path, opts, original_name=original_name,
                            uploader_id=uploader_id, report_path=original_name,
                            replace_id=replace_id, job_id=job_id)
            except Exception as e:  # the job must never stay "queued" silently
                with self.lib.db.begin() as conn:
                    conn.execute(store.jobs.update().where(store.jobs.c.id == job_id).values(
                        status="failed", finished_at=store.now(),
                        report=json.dumps({"error": f"internal error ({type(e).__name__})"})))
            finally:
                try:
                    os.unlink(tmp_path)
                except FileNotFoundError:
                    pass

        with self._lock:
            self.futures[job_id] = self._pool.submit(work)

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        fut = self.futures.get(job_id)
        if fut is not None:
            fut.result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

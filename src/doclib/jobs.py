"""Background ingestion jobs for uploads.

An upload is validated and written under ``<library_dir>/incoming`` in the
request; the ingestion (extract, embed, index) runs on one worker thread per
process so the request returns at once with a job id.  The job row keeps
what it needs to run (``payload``) and who runs it (``owner``: host, pid and
start time of the process).  A process claims a job atomically (queued ->
processing); at start-up it also claims the jobs of processes that died (and
queued jobs nobody claimed), so an upload is resumed after a crash instead
of being lost.  ``doclib check --repair`` does the same from the command line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select

from . import store
from .auth import Principal, can
from .errors import DoclibError, NotFound
from .ingest import IngestOptions, ingest_file
from .library import Library


def _start_ticks(pid: int) -> str | None:
    """A process's start time (clock ticks since boot), or None if it is gone:
    with the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid()) or '?'}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process named by ``owner`` still runs (a process on
    another host is taken to be alive: it cannot be checked from here)."""
    if not owner:
        return False
    host, pid, ticks = owner.rsplit(":", 2)
    if host != socket.gethostname():
        return True
    return pid.isdigit() and _start_ticks(int(pid)) == ticks


def incoming_dir(lib: Library) -> Path:
    return store.private_dir(Path(lib.config.library_dir) / "incoming")


def create(lib: Library, user_id: int | None, upload: Path | None = None,
           opts: IngestOptions | None = None, original_name: str | None = None,
           replace_id: int | None = None, kind: str = "ingest") -> int:
    """A queued job; with ``upload`` (a file in ``incoming_dir``) it carries
    everything needed to run it, in this process or another."""
    payload = None
    if upload is not None:
        payload = json.dumps({"file": upload.name,
                              "options": dataclasses.asdict(opts or IngestOptions()),
                              "name": original_name or upload.name, "replace_id": replace_id},
                             ensure_ascii=False)
    with lib.db.begin() as conn:
        return int(conn.execute(store.jobs.insert().values(
            kind=kind, status="queued", report="{}", user_id=user_id, payload=payload,
            created_at=store.now())).inserted_primary_key[0])


def claim(lib: Library, job_id: int) -> bool:
    """Take a job for this process: a queued one, or a processing one whose
    process died.  Atomic: of two processes, one gets it."""
    j = store.jobs
    with lib.db.begin() as conn:
        row = conn.execute(select(j.c.status, j.c.owner).where(j.c.id == job_id)).first()
        if row is None or row.status not in ("queued", "processing"):
            return False
        if row.status == "processing" and owner_alive(row.owner):
            return False
        cond = (j.c.owner.is_(None) if row.owner is None else j.c.owner == row.owner)
        done = conn.execute(j.update().where(j.c.id == job_id, j.c.status == row.status, cond)
                            .values(status="processing", owner=me(), started_at=store.now()))
        return done.rowcount == 1


def interrupted(lib: Library) -> list[int]:
    """Jobs left behind: queued or processing, with no live process on them."""
    j = store.jobs
    with lib.db.connect() as conn:
        rows = conn.execute(select(j.c.id, j.c.owner).where(
            j.c.status.in_(("queued", "processing")), j.c.payload.is_not(None))
            .order_by(j.c.id)).all()
    return [r.id for r in rows if not owner_alive(r.owner)]


def _fail(lib: Library, job_id: int, message: str) -> None:
    with lib.db.begin() as conn:
        conn.execute(store.jobs.update().where(store.jobs.c.id == job_id).values(
            status="failed", finished_at=store.now(),
            report=json.dumps({"error": message}, ensure_ascii=False)))


def run(lib: Library, job_id: int) -> None:
    """Run a claimed job to its end; the job row always ends finished or
    failed, and the upload is removed once it is ingested."""
    with lib.db.connect() as conn:
        row = conn.execute(select(store.jobs).where(store.jobs.c.id == job_id)).first()
    if row is None or not row.payload:
        return
    payload = json.loads(row.payload)
    upload = incoming_dir(lib) / Path(payload["file"]).name
    if not upload.exists():
        _fail(lib, job_id, "the uploaded file was lost before it was ingested; upload it again")
        return
    try:
        ingest_file(lib, upload, IngestOptions(**payload["options"]),
                    original_name=payload["name"], uploader_id=row.user_id,
                    report_path=payload["name"], replace_id=payload.get("replace_id"),
                    job_id=job_id)
    except DoclibError as e:  # e.g. the document to replace was deleted meanwhile
        _fail(lib, job_id, e.message)
    except Exception as e:  # the job must never stay "processing" silently
        _fail(lib, job_id, f"internal error ({type(e).__name__})")
    upload.unlink(missing_ok=True)


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
    """One ingestion thread per process (the library has a single writer
    anyway).  On start it resumes the jobs of processes that died."""

    def __init__(self, lib: Library, recover: bool = True) -> None:
        self.lib = lib
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="doclib-ingest")
        self._lock = threading.Lock()
        self.futures: dict[int, Future[Any]] = {}
        self.recovery: Future[list[int]] | None = None
        if recover:
            self.recovery = self._pool.submit(self._recover)

    def _recover(self) -> list[int]:
        resumed = []
        for job_id in interrupted(self.lib):
            if claim(self.lib, job_id):
                run(self.lib, job_id)
                resumed.append(job_id)
        return resumed

    def submit(self, job_id: int) -> None:
        def work() -> None:
            if claim(self.lib, job_id):  # another process may have taken it meanwhile
                run(self.lib, job_id)

        with self._lock:
            self.futures[job_id] = self._pool.submit(work)

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        fut = self.futures.get(job_id)
        if fut is not None:
            fut.result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

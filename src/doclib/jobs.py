"""Background ingestion jobs for uploads.

An upload is validated and written under ``<library_dir>/incoming`` in the
request; the ingestion (extract, embed, index) runs on one worker thread per
process so the request returns at once with a job id.  The job row keeps
what it needs to run (``payload``) and who runs it (``owner``: host, pid and
start time of the process).  A process claims a job atomically (queued ->
processing); at start-up it also claims the jobs of processes that died (and
queued jobs nobody claimed), so an upload is resumed after a crash instead
of being lost.  ``doclib check --repair`` does the same from the command line.

A job can be cancelled by a curator (``cancel``): a queued one at once, a
running one between two steps of its ingestion (``cancelling`` until it
stops; its process may be another one: it reads the job's status between
embedding batches).  A process that stops (SIGTERM, ``Runner.stop``) ends
its running job the same way and puts it back in the queue, with its
upload, for the next start.  Each job is bounded (``extract.timeout_s``,
``extract.max_words``, ``chunk.max_chunks``), so the uploads behind one wait
a bounded time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from . import audit, store
from .auth import Principal, can
from .errors import N_, Cancelled, Conflict, DoclibError, NotFound, UnsupportedFormat, storage_error
from .extract import sniff
from .ingest import IngestOptions, ingest_file, resolve_metadata
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
           replace_id: int | None = None, kind: str = "ingest",
           seen: dict[str, Any] | None = None, via: str = "") -> int:
    """A queued job; with ``upload`` (a file in ``incoming_dir``) it carries
    everything needed to run it, in this process or another.  ``seen``: the
    replaced document's access and notes option when it was asked for (see
    ``ingest_file``)."""
    payload = None
    if upload is not None:
        payload = json.dumps({"file": upload.name,
                              "options": dataclasses.asdict(opts or IngestOptions()),
                              "name": original_name or upload.name, "replace_id": replace_id,
                              "seen": seen, "via": via}, ensure_ascii=False)
    with lib.db.begin() as conn:
        return store.inserted_id(conn.execute(store.jobs.insert().values(
            kind=kind, status="queued", report="{}", user_id=user_id, payload=payload,
            created_at=store.now())))


RUNNING = ("processing", "cancelling")  # a process works on it (or did, and died)
JOB_NOT_FOUND = N_("job not found")
CANCELLED_BY_CURATOR = "cancelled by a curator; nothing of it was indexed"
STOPPING = ("doclib stopped before this upload was indexed; it is queued again and "
            "resumes when doclib starts")


def check_options(lib: Library, opts: IngestOptions) -> None:
    """An upload's description checked against the library (its event and
    workshop exist ...): a 400 naming the field, before any file is stored."""
    with lib.db.connect() as conn:
        resolve_metadata(conn, opts)


def accept_upload(lib: Library, who: Principal, save: Callable[[IO[bytes]], None], name: str,
                  opts: IngestOptions, replace_id: int | None = None, via: str = "") -> int:
    """An upload (the web's and the API's): ``save`` writes its bytes under
    ``incoming_dir``, durably; its type is sniffed (refused here, before
    anything is stored), then its job row is recorded, queued.  The job id
    (the caller hands it to its ``Runner``).  A full disk is a 507 and
    keeps nothing."""
    seen = None
    if replace_id is not None:
        # who may read it now: an edit that restricts it while the new
        # version waits or is processed wins over this request's access
        d = store.documents
        with lib.db.connect() as conn:
            row = conn.execute(select(d.c.access, d.c.speaker_notes)
                               .where(d.c.id == replace_id)).first()
        seen = {"access": row.access, "speaker_notes": row.speaker_notes} if row else None
    incoming = incoming_dir(lib)
    suffix = os.path.splitext(name)[1].lower()[:10]
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=incoming, suffix=suffix)
        with os.fdopen(fd, "wb") as out:
            save(out)
            # durable before the job row commits and the curator is answered:
            # the file, then its name in the folder
            out.flush()
            os.fsync(out.fileno())
        store.fsync_dir(incoming)
        sniff(tmp, name)  # refuses here, before anything is stored
    except (UnsupportedFormat, OSError) as e:
        if tmp is not None:
            os.unlink(tmp)
        if isinstance(e, OSError):  # the disk is full: 507, and nothing is kept
            raise storage_error("the upload could not be stored", e) from None
        raise
    # the job row commits with synchronous=FULL (store.py): once the 202 is
    # sent, the upload survives a crash or a power cut and resumes queued
    try:
        return create(lib, who.user_id, Path(tmp), opts, name, replace_id, seen=seen, via=via)
    except OperationalError as e:  # the database cannot grow (disk full)
        os.unlink(tmp)
        raise storage_error("the upload could not be recorded", e) from None


def claim(lib: Library, job_id: int) -> bool:
    """Take a job for this process: a queued one, or a running one whose
    process died (a job being cancelled stays so, and stops at once).
    Atomic: of two processes, one gets it."""
    j = store.jobs
    with lib.db.begin() as conn:
        row = conn.execute(select(j.c.status, j.c.owner).where(j.c.id == job_id)).first()
        if row is None or row.status not in ("queued", *RUNNING):
            return False
        if row.status in RUNNING and owner_alive(row.owner):
            return False
        cond = (j.c.owner.is_(None) if row.owner is None else j.c.owner == row.owner)
        status = "cancelling" if row.status == "cancelling" else "processing"
        done = conn.execute(j.update().where(j.c.id == job_id, j.c.status == row.status, cond)
                            .values(status=status, owner=me(), started_at=store.now()))
        return done.rowcount == 1


def interrupted(lib: Library) -> list[int]:
    """Jobs left behind: queued or running, with no live process on them."""
    j = store.jobs
    with lib.db.connect() as conn:
        rows = conn.execute(select(j.c.id, j.c.owner).where(
            j.c.status.in_(("queued", *RUNNING)), j.c.payload.is_not(None))
            .order_by(j.c.id)).all()
    return [r.id for r in rows if not owner_alive(r.owner)]


def _fail(lib: Library, job_id: int, message: str) -> None:
    with lib.db.begin() as conn:
        conn.execute(store.jobs.update().where(store.jobs.c.id == job_id).values(
            status="failed", finished_at=store.now(),
            report=json.dumps({"error": message}, ensure_ascii=False)))


def run(lib: Library, job_id: int, stopping: threading.Event | None = None) -> None:
    """Run a claimed job to its end; the job row always ends finished,
    failed or cancelled, and the upload is removed once it is ingested.
    When ``stopping`` is set (this process is stopping), the ingestion stops
    and the job is queued again, its upload kept."""

    def stop() -> None:
        if stopping is not None and stopping.is_set():
            raise Cancelled(STOPPING, requeue=True)
        with lib.db.connect() as conn:
            status = conn.execute(select(store.jobs.c.status)
                                  .where(store.jobs.c.id == job_id)).scalar()
        if status == "cancelling":
            raise Cancelled(CANCELLED_BY_CURATOR)

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
        report = ingest_file(lib, upload, IngestOptions(**payload["options"]),
                             original_name=payload["name"], uploader_id=row.user_id,
                             report_path=payload["name"], replace_id=payload.get("replace_id"),
                             job_id=job_id, stop=stop, seen=payload.get("seen"),
                             via=payload.get("via", ""))
    except DoclibError as e:  # e.g. the document to replace was deleted meanwhile
        _fail(lib, job_id, e.message)
    except Exception as e:  # the job must never stay "processing" silently
        _fail(lib, job_id, f"internal error ({type(e).__name__})")
    else:
        if report.status == "queued":  # this process stops: the next one resumes it
            with lib.db.begin() as conn:
                conn.execute(store.jobs.update().where(store.jobs.c.id == job_id).values(
                    status="queued", owner=None, started_at=None, finished_at=None,
                    document_id=None, report=json.dumps({"note": report.error})))
            return
    upload.unlink(missing_ok=True)


def cancel(lib: Library, who: Principal, job_id: int, via: str = "") -> dict[str, Any]:
    """Cancel a job: a queued one at once (its upload is removed), a running
    one as soon as its ingestion reaches its next step (``cancelling``
    meanwhile).  Conflict for a job that has finished; NotFound for anyone
    who may not upload."""
    if not can(who, "upload"):
        raise NotFound(JOB_NOT_FOUND)
    j = store.jobs
    with lib.db.begin() as conn:
        # conditional updates: the job may start or end meanwhile
        queued = conn.execute(j.update().where(j.c.id == job_id, j.c.status == "queued").values(
            status="cancelled", finished_at=store.now(),
            report=json.dumps({"error": "cancelled by a curator before it started"}))).rowcount
        conn.execute(j.update().where(j.c.id == job_id, j.c.status == "processing")
                     .values(status="cancelling"))
        row = conn.execute(select(j.c.status, j.c.payload).where(j.c.id == job_id)).first()
        if row is None:
            raise NotFound(JOB_NOT_FOUND)
        if not queued and row.status != "cancelling":
            raise Conflict(N_("job %(id)s has already finished (%(status)s)"), id=job_id,
                           status=row.status)
        audit.record(conn, who.user_id, "job.cancel", str(job_id), via=via)
    if queued and row.payload:
        (incoming_dir(lib) / Path(json.loads(row.payload)["file"]).name).unlink(missing_ok=True)
    return get(lib, who, job_id)


def get(lib: Library, who: Principal, job_id: int) -> dict[str, Any]:
    """A job for curators and admins; anyone else gets NotFound."""
    if not can(who, "view_jobs"):
        raise NotFound(JOB_NOT_FOUND)
    with lib.db.connect() as conn:
        row = conn.execute(select(store.jobs).where(store.jobs.c.id == job_id)).first()
    if row is None:
        raise NotFound(JOB_NOT_FOUND)
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
    anyway).  On start it resumes the jobs of processes that died.  ``stop``
    (gunicorn's worker_exit hook calls it on SIGTERM) ends the running job
    between two batches and leaves it, and the jobs not started, queued."""

    def __init__(self, lib: Library, recover: bool = True) -> None:
        self.lib = lib
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="doclib-ingest")
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.futures: dict[int, Future[Any]] = {}
        self.recovery: Future[list[int]] | None = None
        if recover:
            self.recovery = self._pool.submit(self._recover)

    def _recover(self) -> list[int]:
        resumed = []
        for job_id in interrupted(self.lib):
            if self.stopping.is_set():
                break
            if claim(self.lib, job_id):
                run(self.lib, job_id, self.stopping)
                resumed.append(job_id)
        return resumed

    def submit(self, job_id: int) -> None:
        def work() -> None:
            # another process may have taken it meanwhile; a stopping one
            # leaves it queued for the next start
            if not self.stopping.is_set() and claim(self.lib, job_id):
                run(self.lib, job_id, self.stopping)

        if self.stopping.is_set():  # queued in the database: the next start takes it
            return
        with self._lock:
            self.futures[job_id] = self._pool.submit(work)

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        fut = self.futures.get(job_id)
        if fut is not None:
            fut.result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop: the running job ends at its next step and is queued again
        (so are the jobs not started); waits up to ``timeout`` seconds."""
        self.stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = [f for f in self.futures.values() if not f.done()]
        if self.recovery is not None:
            running.append(self.recovery)
        deadline = time.monotonic() + timeout
        for fut in running:
            try:
                fut.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:  # cancelled, timed out or failed: nothing to wait for
                pass

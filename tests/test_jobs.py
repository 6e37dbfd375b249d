"""Upload jobs survive the process that ran them: a job whose process died,
or that nobody claimed, is resumed by the next process that starts (or by
``doclib check --repair``); a job of a live process is left alone."""

import shutil
import socket
import subprocess
import sys

from sqlalchemy import select

from doclib import jobs, store
from doclib.auth import principal_for_role
from doclib.ingest import IngestOptions
from doclib.maintenance import check
from doclib.search import search


def _dead_owner() -> str:
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True)
    return f"{socket.gethostname()}:{int(out.stdout)}:1"  # that process has exited


def _queue(lib, fixtures_dir, status="queued", owner=None):
    upload = jobs.incoming_dir(lib) / "tmp-upload.txt"
    shutil.copy(fixtures_dir / "en_summit.txt", upload)
    job_id = jobs.create(lib, None, upload, IngestOptions(access="public", title="Summit"),
                         "summit.txt")
    with lib.db.begin() as conn:
        conn.execute(store.jobs.update().where(store.jobs.c.id == job_id)
                     .values(status=status, owner=owner))
    return job_id, upload


def _job(lib, job_id):
    with lib.db.connect() as conn:
        return conn.execute(select(store.jobs).where(store.jobs.c.id == job_id)).one()


def test_a_dead_process_job_is_resumed_at_start(lib, fixtures_dir):
    job_id, upload = _queue(lib, fixtures_dir, "processing", _dead_owner())
    assert jobs.interrupted(lib) == [job_id]
    runner = jobs.Runner(lib)
    assert runner.recovery.result(timeout=120) == [job_id]
    runner.shutdown()
    row = _job(lib, job_id)
    assert row.status == "ready" and row.owner == jobs.me() and row.document_id
    assert not upload.exists()
    res = search(lib, principal_for_role("visitor"), "Aarhus")
    assert [r["document"]["title"] for r in res["results"]] == ["Summit"]
    assert jobs.interrupted(lib) == []


def test_a_queued_job_nobody_claimed_is_resumed(lib, fixtures_dir):
    job_id, _ = _queue(lib, fixtures_dir)
    runner = jobs.Runner(lib)
    assert runner.recovery.result(timeout=120) == [job_id]
    runner.shutdown()
    assert _job(lib, job_id).status == "ready"


def test_a_live_process_keeps_its_job(lib, fixtures_dir):
    job_id, upload = _queue(lib, fixtures_dir, "processing", jobs.me())
    assert jobs.owner_alive(jobs.me()) and not jobs.owner_alive(_dead_owner())
    assert jobs.interrupted(lib) == [] and not jobs.claim(lib, job_id)
    runner = jobs.Runner(lib)
    assert runner.recovery.result(timeout=60) == []
    runner.shutdown()
    assert _job(lib, job_id).status == "processing" and upload.exists()


def test_claiming_is_exclusive(lib, fixtures_dir):
    job_id, _ = _queue(lib, fixtures_dir)
    assert jobs.claim(lib, job_id) is True
    assert jobs.claim(lib, job_id) is False  # this process holds it and is alive
    assert _job(lib, job_id).status == "processing"


def test_a_lost_upload_fails_with_a_reason(lib, fixtures_dir):
    job_id, upload = _queue(lib, fixtures_dir, "processing", _dead_owner())
    upload.unlink()
    runner = jobs.Runner(lib)
    runner.recovery.result(timeout=60)
    runner.shutdown()
    row = _job(lib, job_id)
    assert row.status == "failed" and "lost" in row.report and "upload it again" in row.report


def test_check_repair_resumes_interrupted_uploads(lib, fixtures_dir):
    job_id, _ = _queue(lib, fixtures_dir, "processing", _dead_owner())
    report = check(lib)
    entry = next(x for x in report["checks"] if x["name"] == "interrupted uploads")
    assert not report["ok"] and not entry["ok"] and str(job_id) in entry["detail"]
    repaired = check(lib, repair=True)
    assert "resumed 1 interrupted upload jobs" in repaired["repaired"] and repaired["ok"]
    assert _job(lib, job_id).status == "ready" and check(lib)["ok"]

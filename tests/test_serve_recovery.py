"""A real crash: `doclib serve` (gunicorn, one worker) takes an upload, the
worker is killed with SIGKILL in the middle of the ingestion (OCR of a
scanned PDF), gunicorn starts a new worker, and the new worker finishes the
job.  Nothing uploaded is lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import by_hand, library_url, served

pytestmark = pytest.mark.integration


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _upload(url: str, token: str, path: Path) -> dict:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"access\"\r\n\r\npublic\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{path.name}\"\r\nContent-Type: application/pdf\r\n\r\n").encode() \
        + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_killed_worker_job_is_finished_by_its_successor(tmp_path, fixtures_dir):
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (scripts/setup.sh installs it): without OCR "
                    "the ingestion is too quick to be interrupted")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("storage:\n  data_dir: .\nweb:\n  workers: 1\n", encoding="utf-8")
    env = {**os.environ, "DOCLIB_CONFIG": str(cfg)}
    doclib = [sys.executable, "-m", "doclib"]
    subprocess.run(doclib + ["users", "add", "cur@example.org", "--role", "curator"],
                   input="curator-pass-123\n", text=True, check=True, env=env,
                   capture_output=True)
    token = subprocess.run(doclib + ["users", "token", "cur@example.org"], text=True,
                           check=True, env=env, capture_output=True).stdout.split()[-1]
    with served(env) as base:
        job_id = _upload(base + "/api/v1/documents", token,
                         fixtures_dir / "scan_ar_en.pdf")["job"]
        db = library_url(tmp_path / "library" / "doclib.db")
        owner = None
        for _ in range(400):  # the worker claims the job and starts reading it
            with by_hand(db) as conn:
                status, owner = conn.execute(text("SELECT status, owner FROM jobs WHERE id = :j"),
                                             {"j": job_id}).one()
            if status == "processing":
                break
            time.sleep(0.025)
        assert status == "processing", status
        killed = int(owner.rsplit(":", 2)[1])
        os.kill(killed, signal.SIGKILL)
        deadline = time.time() + 120
        job = {}
        while time.time() < deadline:
            try:
                job = _get(f"{base}/api/v1/jobs/{job_id}", token)["job"]
            except OSError:  # the new worker is starting
                job = {}
            if job.get("status") not in (None, "queued", "processing"):
                break
            time.sleep(0.2)
        assert job.get("status") == "ready", job
        with by_hand(db) as conn:
            owner = conn.execute(text("SELECT owner FROM jobs WHERE id = :j"),
                                 {"j": job_id}).scalar_one()
        assert int(owner.rsplit(":", 2)[1]) != killed  # finished by the new worker
        assert job["report"]["ocr"] >= 1
        assert not list((tmp_path / "library" / "incoming").iterdir())

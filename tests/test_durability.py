"""An upload acknowledged to a curator survives a crash (issue 10.4): before
the 202, the stored upload and its folder are fsynced and the job row is
committed with synchronous=FULL.

A power cut cannot be made here; what can be checked is what the kernel is
asked: a child process answers the upload with the real app, records every
os.fsync (the path behind the descriptor) and the SQLite synchronous level
of the connection that inserts the job, and is SIGKILLed right after the
202; a new process then finds the upload intact and queued, and ingests it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import FakeEmbedder, make_config
from doclib import accounts, jobs, store
from doclib.auth import principal_for_role
from doclib.library import Library
from doclib.search import search

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

_UPLOAD_THEN_DIE = r"""
import json, os, signal, sys, threading
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder, make_config
from pathlib import Path
from sqlalchemy import event
from doclib.web import create_app

events = []
real_fsync = os.fsync

def fsync(fd):
    real_fsync(fd)
    events.append([threading.current_thread().name, "fsync", os.readlink(f"/proc/self/fd/{{fd}}")])

os.fsync = fsync
app = create_app(make_config(Path({data!r}), **{{"web.warm_up": False}}), embedder=FakeEmbedder())
lib = app.extensions["doclib"]

@event.listens_for(lib.db.engine, "before_cursor_execute")
def before(conn, cursor, statement, params, context, executemany):
    if statement.lstrip().upper().startswith("INSERT INTO JOBS"):
        level = cursor.connection.execute("PRAGMA synchronous").fetchone()[0]
        events.append([threading.current_thread().name, "insert job", level])

with open({upload!r}, "rb") as f:
    r = app.test_client().post("/api/v1/documents", headers={{"Authorization": {auth!r}}},
                               data={{"file": (f, "summit.txt"), "title": "Summit",
                                      "type": "report", "access": "public"}})
print(json.dumps({{"status": r.status_code, "answer": r.get_json(), "events": events}}),
      flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # right after the 202: no clean exit
"""


@pytest.mark.sqlite_only("SQLite's synchronous=FULL and fsyncs (PostgreSQL: the server's commit)")
def test_an_acknowledged_upload_is_on_disk_before_the_202_and_survives_a_kill(
        tmp_path, fixtures_dir):
    data = tmp_path / "data"
    lib = Library(make_config(data), embedder=FakeEmbedder())
    with lib.db.begin() as conn:
        uid = accounts.add_user(conn, "curator@example.org", "curator-pass-1", "curator")
        token = accounts.create_token(conn, uid)
    lib.close()
    upload = fixtures_dir / "en_summit.txt"
    script = _UPLOAD_THEN_DIE.format(tests=str(TESTS), data=str(data), upload=str(upload),
                                     auth=f"Bearer {token}")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(REPO / "src"),
                                            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == -9, proc.stderr[-3000:]  # killed, not exited
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["status"] == 202, out
    job_id = out["answer"]["job"]

    # what the request thread asked before the job row was written
    request = [e[1:] for e in out["events"] if e[0] == "MainThread"]
    insert = [what for what, _ in request].index("insert job")
    fsynced = [path for what, path in request[:insert] if what == "fsync"]
    incoming = data / "library" / "incoming"
    stored = [p for p in fsynced if Path(p).parent == incoming]
    assert len(stored) == 1, fsynced  # the upload's file ...
    assert str(incoming) in fsynced[fsynced.index(stored[0]):], fsynced  # ... then its folder
    assert request[insert] == ["insert job", 2]  # 2: synchronous=FULL on that connection

    # a new process: the upload is there, whole, and queued for it
    lib = Library(make_config(data), embedder=FakeEmbedder())
    try:
        with lib.db.connect() as conn:
            row = conn.execute(select(store.jobs).where(store.jobs.c.id == job_id)).one()
            level = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        assert level == 2  # every doclib connection commits with FULL
        assert row.status in ("queued", "processing")  # the dead process may have begun it
        kept = jobs.incoming_dir(lib) / json.loads(row.payload)["file"]
        assert str(kept) == stored[0]
        assert hashlib.sha256(kept.read_bytes()).digest() == \
            hashlib.sha256(upload.read_bytes()).digest()
        assert jobs.interrupted(lib) == [job_id]
        runner = jobs.Runner(lib)
        assert runner.recovery.result(timeout=120) == [job_id]
        runner.shutdown()
        hits = search(lib, principal_for_role("visitor"), "Aarhus")
        assert [r["document"]["title"] for r in hits["results"]] == ["Summit"]
    finally:
        lib.close()

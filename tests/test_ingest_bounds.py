"""One upload cannot hold the ingestion worker for hours (issue 10.3): the
extracted text (``extract.max_words``) and the passages
(``chunk.max_chunks``) of a document are bounded before anything is
embedded; a curator cancels a job (API, CLI), and a worker that gets
SIGTERM stops its job between two embedding batches and leaves it queued.

Real parts throughout: the extraction child process, SQLite, the job
thread, gunicorn for SIGTERM; the embedder is the fake one, slowed down
where a test needs a job that lasts."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import doclib.embed
from conftest import FakeEmbedder, make_config
from doclib import accounts, jobs, store
from doclib.cli import main
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed_passages(self, texts):
        self.calls += len(texts)
        return super().embed_passages(texts)


class SlowEmbedder(FakeEmbedder):
    """The fake embedder at ``delay`` seconds a passage; ``started`` is set
    at the first passage it is given."""

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__()
        self.delay = delay
        self.started = threading.Event()

    def embed_passages(self, texts):
        if texts:
            self.started.set()
        time.sleep(self.delay * len(texts))
        return super().embed_passages(texts)


VOCAB = [f"{a}{b}" for a in ("pre", "con", "dis", "re", "un", "sub", "inter", "trans")
         for b in ("vention", "cord", "trust", "silience", "ity", "text", "action", "form",
                   "port", "duct", "gress", "mit", "spect", "scribe", "tract", "verse")]


def _words(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    return [rnd.choice(VOCAB) for _ in range(n)]


def _text_file(path: Path, sentences: int, words_per_sentence: int = 12, seed: int = 1) -> Path:
    words = _words(sentences * words_per_sentence, seed)
    lines = [" ".join(words[i:i + words_per_sentence]).capitalize() + "."
             for i in range(0, len(words), words_per_sentence)]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _counts(lib):
    with lib.db.connect() as conn:
        return conn.execute(select(func.count(store.chunks.c.id))).scalar_one()


def _doc(lib, doc_id):
    with lib.db.connect() as conn:
        return conn.execute(select(store.documents).where(store.documents.c.id == doc_id)).one()


def _job(lib, job_id):
    with lib.db.connect() as conn:
        return conn.execute(select(store.jobs).where(store.jobs.c.id == job_id)).one()


# ------------------------------------------------------------- the bounds
def test_a_small_docx_that_inflates_is_too_large_and_nothing_is_indexed(tmp_path):
    """The issue's case: a DOCX of a few hundred kB whose XML inflates to
    megabytes passes the zip checks; its text is refused by extract.max_words
    (default 200,000) in the extraction child, before chunking or embedding."""
    import docx

    d = docx.Document()
    words = _words(240_000)
    for i in range(0, len(words), 120):
        d.add_paragraph(" ".join(words[i:i + 120]))
    path = tmp_path / "inflates.docx"
    d.save(path)
    assert path.stat().st_size < 1_000_000  # small on the wire

    emb = CountingEmbedder()
    lib = Library(make_config(tmp_path / "data"), embedder=emb)
    try:
        r = ingest_file(lib, path)
        assert r.status == "failed"
        assert r.error == "too large: 240,000 words, limit 200,000 (extract.max_words)"
        doc = _doc(lib, r.document_id)
        assert doc.status == "failed" and doc.error == r.error
        assert emb.calls == 0 and _counts(lib) == 0 and len(lib.vectors) == 0
    finally:
        lib.close()


def test_too_many_passages_is_refused_before_embedding(tmp_path):
    emb = CountingEmbedder()
    lib = Library(make_config(tmp_path / "data", **{"chunk.max_chunks": 10,
                                                     "chunk.max_words": 30}), embedder=emb)
    try:
        ok = ingest_file(lib, _text_file(tmp_path / "short.txt", 8), IngestOptions(title="A"))
        assert ok.status == "ready" and 0 < ok.chunks <= 10
        before, calls = _counts(lib), emb.calls
        r = ingest_file(lib, _text_file(tmp_path / "long.txt", 120))
        assert r.status == "failed" and r.error.startswith("too large: ")
        assert r.error.endswith(" passages, limit 10 (chunk.max_chunks)")
        assert _doc(lib, r.document_id).status == "failed"
        # a new version of a ready document that is too large: the old one stays
        again = ingest_file(lib, _text_file(tmp_path / "long2.txt", 120, seed=2),
                            replace_id=ok.document_id)
        assert again.status == "failed" and "too large" in again.error
        assert "previous version was kept" in again.error
        assert _doc(lib, ok.document_id).status == "ready"
        assert emb.calls == calls and _counts(lib) == before == len(lib.vectors)
    finally:
        lib.close()


def test_the_bounds_are_settings_with_defaults():
    from doclib.config import ChunkConfig, ExtractConfig

    assert ExtractConfig().max_words == 200_000 and ChunkConfig().max_chunks == 3_000
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "`extract.max_words`" in readme and "`chunk.max_chunks`" in readme


# ----------------------------------------------------------- cancellation
@pytest.fixture
def slow_app(tmp_path):
    from doclib.web import create_app

    emb = SlowEmbedder(0.05)
    app = create_app(make_config(tmp_path / "data", **{"web.warm_up": False}), embedder=emb)
    lib = app.extensions["doclib"]
    with lib.db.begin() as conn:
        uid = accounts.add_user(conn, "curator@example.org", "curator-pass-1", "curator")
        token = accounts.create_token(conn, uid)
    app.testing = True
    yield app, emb, {"Authorization": f"Bearer {token}"}
    app.extensions["doclib_jobs"].shutdown()
    lib.close()


def _upload(client, headers, path: Path) -> int:
    with open(path, "rb") as f:
        r = client.post("/api/v1/documents", headers=headers,
                        data={"file": (f, path.name), "title": path.stem, "type": "report"})
    assert r.status_code == 202, r.get_json()
    return r.get_json()["job"]


def test_a_curator_cancels_a_running_and_a_queued_job_through_the_api(slow_app, tmp_path):
    app, emb, headers = slow_app
    lib = app.extensions["doclib"]
    client = app.test_client()
    # about 200 passages at 0.05 s each: ten seconds of embedding
    running = _upload(client, headers, _text_file(tmp_path / "big.txt", 2400))
    waiting = _upload(client, headers, _text_file(tmp_path / "next.txt", 10))
    assert emb.started.wait(30)

    r = client.post(f"/api/v1/jobs/{waiting}/cancel", headers=headers)
    assert r.status_code == 200 and r.get_json()["job"]["status"] == "cancelled"
    t0 = time.monotonic()
    r = client.post(f"/api/v1/jobs/{running}/cancel", headers=headers)
    assert r.status_code == 200 and r.get_json()["job"]["status"] == "cancelling"
    runner = app.extensions["doclib_jobs"]
    runner.wait(running, timeout=30)
    runner.wait(waiting, timeout=30)
    assert time.monotonic() - t0 < 5  # stopped between two batches, not at the end

    row = _job(lib, running)
    assert row.status == "cancelled" and "cancelled" in json.loads(row.report)["error"]
    doc = _doc(lib, row.document_id)
    assert doc.status == "failed" and "cancelled" in doc.error
    assert _counts(lib) == 0 and len(lib.vectors) == 0
    assert _job(lib, waiting).status == "cancelled" and _job(lib, waiting).document_id is None
    assert list(jobs.incoming_dir(lib).iterdir()) == []
    got = client.get(f"/api/v1/jobs/{running}", headers=headers).get_json()["job"]
    assert got["status"] == "cancelled"
    page = client.get(f"/curate/jobs/{running}", headers={**headers, "Accept-Language": "ar"})
    assert "أُلغيت" in page.get_data(as_text=True)  # the job page names the status
    # a finished job cannot be cancelled; members cannot cancel at all
    r = client.post(f"/api/v1/jobs/{running}/cancel", headers=headers)
    assert r.status_code == 409 and "already" in r.get_json()["error"]
    assert client.post(f"/api/v1/jobs/{running}/cancel").status_code == 401


def test_doclib_jobs_cancel_stops_another_process_job(slow_app, tmp_path, monkeypatch):
    app, emb, headers = slow_app
    lib = app.extensions["doclib"]
    data = tmp_path / "data"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"storage:\n  data_dir: {data}\nembed:\n  second_model: ''\n",
                   encoding="utf-8")
    monkeypatch.setenv("DOCLIB_CONFIG", str(cfg))
    monkeypatch.setattr(doclib.embed, "make_embedder", lambda c: FakeEmbedder())
    monkeypatch.setattr("doclib.library.make_embedder", lambda c: FakeEmbedder())
    job_id = _upload(app.test_client(), headers, _text_file(tmp_path / "big.txt", 2400))
    assert emb.started.wait(30)
    res = CliRunner().invoke(main, ["jobs", "cancel", str(job_id)], catch_exceptions=False)
    assert res.exit_code == 0 and "cancelling" in res.output
    app.extensions["doclib_jobs"].wait(job_id, timeout=30)
    assert _job(lib, job_id).status == "cancelled"
    res = CliRunner().invoke(main, ["jobs", "cancel", str(job_id)])
    assert res.exit_code == 2 and "already" in res.output
    res = CliRunner().invoke(main, ["jobs", "list", "--json"], catch_exceptions=False)
    listed = [json.loads(x) for x in res.output.splitlines()]
    assert [(x["id"], x["status"]) for x in listed] == [(job_id, "cancelled")]


# ------------------------------------------------------------------ SIGTERM
_SERVE = """
import sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
from doclib import config as config_mod
import doclib.web

class Slow(FakeEmbedder):
    def embed_passages(self, texts):
        if len(texts) > 1:
            open({marker!r}, "a").close()
        time.sleep(0.1 * len(texts))
        return super().embed_passages(texts)

make = doclib.web.create_app
doclib.web.create_app = lambda cfg: make(cfg, embedder=Slow())
from doclib import serve
serve.run(config_mod.load({config!r}), "127.0.0.1", {port}, 1)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    parts.append((f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                  f'filename="{path.name}"\r\nContent-Type: text/plain\r\n\r\n').encode()
                 + path.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def test_sigterm_stops_the_job_between_batches_and_leaves_it_queued(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  data_dir: {data}\nembed:\n  second_model: ''\n"
                      "web:\n  warm_up: false\n", encoding="utf-8")
    lib = Library(make_config(data), embedder=FakeEmbedder())
    with lib.db.begin() as conn:
        uid = accounts.add_user(conn, "curator@example.org", "curator-pass-1", "curator")
        token = accounts.create_token(conn, uid)
    lib.close()
    port, marker = _free_port(), tmp_path / "embedding-started"
    script = _SERVE.format(tests=str(TESTS), marker=str(marker), config=str(config), port=port)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/openapi.json", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        # about 200 passages at 0.1 s each: twenty seconds of embedding
        body, boundary = _multipart(_text_file(tmp_path / "big.txt", 2400),
                                    {"title": "Big", "type": "report"})
        req = urllib.request.Request(f"{base}/documents", data=body, method="POST", headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=30) as answer:
            job_id = json.loads(answer.read())["job"]
        for _ in range(300):
            if marker.exists():
                break
            time.sleep(0.1)
        assert marker.exists(), "the job never started embedding"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with proc.stderr:
        stderr = proc.stderr.read().decode("utf-8", "replace")
    assert stopped_in < 10, stderr  # not the 20 s of the job, nor gunicorn's 30 s grace

    lib = Library(make_config(data), embedder=FakeEmbedder())
    try:
        row = _job(lib, job_id)
        assert row.status == "queued" and row.owner is None, (row, stderr)
        assert "doclib stopped" in json.loads(row.report)["note"]
        with lib.db.connect() as conn:
            statuses = conn.execute(select(store.documents.c.status)).scalars().all()
        assert statuses == ["queued"] and _counts(lib) == 0
        assert len(list(jobs.incoming_dir(lib).iterdir())) == 1  # the upload is kept
        assert jobs.interrupted(lib) == [job_id]
        runner = jobs.Runner(lib)  # the next start resumes it
        assert runner.recovery.result(timeout=120) == [job_id]
        runner.shutdown()
        assert _job(lib, job_id).status == "ready" and _counts(lib) > 100
    finally:
        lib.close()


def test_a_job_cancelled_while_its_process_died_ends_cancelled_not_stuck(tmp_path):
    """A worker stops (its job and document queued again); the job is then
    claimed by a process that dies while a curator cancels it: the next
    start ends the job cancelled and its document failed, neither left
    queued nor processing."""
    lib = Library(make_config(tmp_path / "data"), embedder=FakeEmbedder())
    try:
        upload = jobs.incoming_dir(lib) / "up.txt"
        _text_file(upload, 60)
        job_id = jobs.create(lib, None, upload, IngestOptions(title="T"), "t.txt")
        assert jobs.claim(lib, job_id)
        stopping = threading.Event()
        stopping.set()
        jobs.run(lib, job_id, stopping)  # the worker stops: back to the queue
        row = _job(lib, job_id)
        assert row.status == "queued" and upload.exists()
        with lib.db.connect() as conn:
            doc_status = conn.execute(select(store.documents.c.status)).scalar_one()
        assert doc_status == "queued"
        # it is claimed again by a process that dies while a curator cancels it
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
        with lib.db.begin() as conn:
            conn.execute(store.jobs.update().where(store.jobs.c.id == job_id).values(
                status="cancelling", owner=f"{socket.gethostname()}:{dead}:1"))
        assert jobs.interrupted(lib) == [job_id]
        runner = jobs.Runner(lib)
        assert runner.recovery.result(timeout=60) == [job_id]
        runner.shutdown()
        assert _job(lib, job_id).status == "cancelled" and not upload.exists()
        with lib.db.connect() as conn:
            doc = conn.execute(select(store.documents)).one()
        assert doc.status == "failed" and "cancelled" in doc.error
        assert _counts(lib) == 0
    finally:
        lib.close()

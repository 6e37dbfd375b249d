"""Disk full while an upload is stored or the index is saved (issue 10.12):
a clear error, not a traceback; a batch goes on with the other files; no
document is left "processing"; search keeps working.

The disk is a real one that fills up: a small tmpfs mounted in a private
mount namespace (``unshare``; as root or with user namespaces), over the
folder of the originals or of the index.  Where namespaces are not
available, the originals' case falls back on a file-size limit
(RLIMIT_FSIZE: the kernel refuses the write with EFBIG) and the others are
skipped."""

from __future__ import annotations

import json
import random
import resource
import shlex
import shutil
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

_SCENARIO = r"""
import json, sys, time
sys.path.insert(0, {tests!r})
args = json.loads(sys.argv[1])
from conftest import FakeEmbedder
import doclib.embed, doclib.library
dim = args["dim"]
doclib.embed.make_embedder = lambda cfg: FakeEmbedder(dim=dim)
doclib.library.make_embedder = lambda cfg: FakeEmbedder(dim=dim)
from sqlalchemy import select
from doclib import accounts, config as config_mod, store
from doclib.auth import principal_for_role
from doclib.library import Library
from doclib.search import search

out = {{}}
if args["mode"] == "cli":
    from doclib.cli import main
    try:
        main(["ingest", "--json", "--access", "public", *args["files"]])
    except SystemExit as e:
        out["exit"] = e.code
else:  # the web: upload through the API
    from doclib.web import create_app
    app = create_app(config_mod.load(), embedder=FakeEmbedder(dim=dim))
    lib = app.extensions["doclib"]
    with lib.db.begin() as conn:
        uid = accounts.add_user(conn, "c@example.org", "curator-pass-1", "curator")
        headers = {{"Authorization": "Bearer " + accounts.create_token(conn, uid)}}
    client = app.test_client()
    out["answers"] = []
    for path in args["files"]:
        with open(path, "rb") as f:
            r = client.post("/api/v1/documents", headers=headers, data={{
                "file": (f, path.rsplit("/", 1)[1]), "type": "report", "access": "public"}})
        out["answers"].append([r.status_code, r.get_json()])
        if r.status_code == 202:
            app.extensions["doclib_jobs"].wait(r.get_json()["job"], timeout=60)
    out["incoming"] = sorted(p.name for p in (lib.config.library_dir / "incoming").iterdir())
lib = Library(config_mod.load(), embedder=FakeEmbedder(dim=dim))
with lib.db.connect() as conn:
    out["documents"] = [[r.original_filename, r.status, r.error] for r in conn.execute(
        select(store.documents).order_by(store.documents.c.id))]
    out["jobs"] = [[r.status, json.loads(r.report)] for r in conn.execute(
        select(store.jobs).order_by(store.jobs.c.id))]
hits = search(lib, principal_for_role("visitor"), args["query"])
out["found"] = sorted(r["document"]["id"] for r in hits["results"])
out["vectors"] = len(lib.vectors)
with lib.db.connect() as conn:
    out["chunks"] = conn.execute(select(store.chunks.c.id)).all().__len__()
print("SUMMARY " + json.dumps(out))
"""


@cache
def _namespaces() -> bool:
    """Whether a private mount namespace with a tmpfs can be made here."""
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


def _words(n: int, seed: int) -> str:
    rnd = random.Random(seed)
    vocab = ["prevention", "resilience", "community", "dialogue", "municipal", "youth",
             "network", "summit", "workshop", "practice", "trust", "partners", "Aarhus",
             "Amman", "Tunis", "Beirut", "exchange", "schools", "families", "report"]
    sentences = []
    for _ in range(n // 12):
        sentences.append(" ".join(rnd.choice(vocab) for _ in range(12)).capitalize() + ".")
    return "\n".join(sentences)


def _run(tmp_path: Path, mode: str, files: list[Path], query: str, *,
         small: str, size: str, dim: int = 64, fsize_limit: int | None = None
         ) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run the scenario in a child process whose ``small`` folder (library
    or index) sits on a tmpfs of ``size`` (or, with ``fsize_limit``, under a
    file-size limit); the database stays on the real disk."""
    data = tmp_path / "data"
    folders = {"library": data / "library", "index": data / "index"}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  data_dir: {data}\n  library_dir: {folders['library']}\n"
        f"  index_dir: {folders['index']}\n  database_url: sqlite:///{data / 'doclib.db'}\n"
        "embed:\n  second_model: ''\n", encoding="utf-8")
    script = _SCENARIO.format(tests=str(TESTS))
    cmd = [sys.executable, "-c", script, json.dumps({
        "mode": mode, "files": [str(f) for f in files], "query": query, "dim": dim})]
    env = {"DOCLIB_CONFIG": str(config), "PYTHONPATH": str(REPO / "src"),
           "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)}
    preexec = None
    if fsize_limit is not None:
        def preexec() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
    else:
        mount = f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(folders[small]))}"
        cmd = ["unshare", "-rm", "sh", "-c", f'{mount} && exec "$0" "$@"', *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300,
                          preexec_fn=preexec)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("SUMMARY ")]
    assert lines, f"no summary; stderr:\n{proc.stderr[-3000:]}"
    return proc, json.loads(lines[-1][len("SUMMARY "):])


def _reports(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]


def _files(tmp_path: Path, big_words: int) -> list[Path]:
    src = tmp_path / "src"
    src.mkdir()
    out = []
    for name, n, seed in (("a.txt", 300, 1), ("big.txt", big_words, 2), ("c.txt", 300, 3)):
        p = src / name
        p.write_text(_words(n, seed), encoding="utf-8")
        out.append(p)
    return out


@pytest.mark.parametrize("how", ["tmpfs", "fsize"])
def test_cli_batch_goes_on_when_an_original_cannot_be_stored(tmp_path, how):
    if how == "tmpfs" and not _namespaces():
        pytest.skip("no mount namespace here; the fsize case covers it")
    # big.txt: about 1.3 MB, more than the 1 MiB tmpfs, or the 1 MB size limit
    files = _files(tmp_path, 200_000)
    assert files[1].stat().st_size > 1_100_000
    proc, out = _run(tmp_path, "cli", files, "Aarhus prevention", small="library",
                     size="1m", fsize_limit=1_000_000 if how == "fsize" else None)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert out["exit"] == 1  # one file failed
    reports = _reports(proc)
    assert [r["status"] for r in reports] == ["ready", "failed", "ready"]
    reason = "No space left on device" if how == "tmpfs" else "File too large"
    assert reports[1]["error"] == (f"disk full: the file could not be stored ({reason}); "
                                   "free some space and try again")
    assert [d[0] for d in out["documents"]] == ["a.txt", "c.txt"]  # nothing of big.txt
    assert all(d[1] == "ready" for d in out["documents"])
    assert len(out["found"]) == 2 and out["vectors"] == out["chunks"] > 0


def test_cli_batch_goes_on_when_the_index_cannot_be_saved(tmp_path):
    if not _namespaces():
        pytest.skip("needs a mount namespace for a small tmpfs")
    # vectors of 512 floats: a.txt and c.txt fit in 128 kB, big.txt (about 60
    # passages, 120 kB) does not
    files = _files(tmp_path, 9_000)
    proc, out = _run(tmp_path, "cli", files, "Aarhus prevention", small="index",
                     size="128k", dim=512)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    reports = _reports(proc)
    assert [r["status"] for r in reports] == ["ready", "failed", "ready"], reports
    assert reports[1]["error"] == ("disk full: the vector index could not be saved (No space "
                                   "left on device); free some space and try again")
    statuses = {d[0]: d[1] for d in out["documents"]}
    assert statuses == {"a.txt": "ready", "big.txt": "failed", "c.txt": "ready"}
    # search keeps working, over the two documents, from the index as saved
    assert len(out["found"]) == 2 and out["vectors"] == out["chunks"] > 0


def test_an_upload_that_does_not_fit_is_a_clear_507_and_the_next_one_is_taken(tmp_path):
    if not _namespaces():
        pytest.skip("needs a mount namespace for a small tmpfs")
    files = _files(tmp_path, 200_000)
    proc, out = _run(tmp_path, "web", files, "Aarhus prevention", small="library", size="1m")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (s1, a1), (s2, a2), (s3, a3) = out["answers"]
    assert s1 == s3 == 202
    assert s2 == 507 and a2 == {"ok": False, "status": 507, "error": (
        "disk full: the upload could not be stored (No space left on device); "
        "free some space and try again")}
    assert out["incoming"] == []  # nothing half-written left behind
    assert [j[0] for j in out["jobs"]] == ["ready", "ready"]
    assert [d[1] for d in out["documents"]] == ["ready", "ready"]
    assert len(out["found"]) == 2

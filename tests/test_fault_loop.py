"""A fault loop (issue 10.15): `doclib ingest` and `doclib reindex` are
SIGKILLed at each step of their writes, one kill per run, and after each
kill the library is opened again (as a restart does), repaired with
`doclib check --repair`, and must agree with itself: the check passes, no
document is left processing, every original on disk belongs to a document
and every document's original is there (no half-written or orphaned file
in the data folder), the FAISS file on disk loads as it is and holds
exactly the chunks of the ready documents with their stored vectors, each
audience's lexical table holds exactly the chunks it may see, and every
ready document is found, as a curator, by a search for a word only it
contains (a replaced one by its old or its new word, never both).  After
a kill before a step that changes what a restart sees (a commit, a rename,
a deletion), an ingestion of the same folder then finishes the job and the
library still agrees.  The CLI's batch saves the FAISS file once, at its
end (``Indexes.batch``): a kill before that save leaves a file behind the
database, which the restart must not trust.

The steps are counted in a dry run: every SQLite commit, fsync, rename and
deletion of a file, FAISS write, embedding batch and start of the
extraction child.  A kill "at step N" happens just before the Nth step
does anything, so each run stops at another point, deterministically (the
steps of a killed run are checked against the dry run's).  Points are each
step that changes something, once per path through ingest_file and
preceding step (``_points``).  The runs are forked from one process that
has imported doclib already (a fork server: a run costs its steps, not
Python's start-up); each runs the real CLI and the real extraction
subprocess, with the fake embedder (vectors are not what is tested here).

The folder ingested holds every path of the write path: new documents
(Arabic Markdown, a fixture PDF), a new version of a ready document (same
source path, other content: staged until it commits), a file whose earlier
ingestion failed (retried in place) and an unchanged one.

What it found (fixed since): orphaned and half-written originals and
index temp files (now `doclib check`'s "stray files", which --repair
removes), and a retried document whose earlier original was deleted
before the row naming the new one committed (the row then named a
missing file; now deleted after the commit)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from conftest import FakeEmbedder, make_config
from doclib import audience, store
from doclib.auth import principal_for_role
from doclib.errors import Cancelled
from doclib.index.vector import VectorIndex
from doclib.ingest import IngestOptions, ingest_file, ingest_paths
from doclib.library import Library
from doclib.maintenance import check
from doclib.search import search

pytestmark = pytest.mark.sqlite_only(
    "resets the library by copying its data folder, the SQLite file in it")

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# A process that imports doclib once, then forks one child per run: the
# child counts the steps (see the module docstring), kills itself with
# SIGKILL before step ``kill_at`` (0: never) and otherwise runs the CLI.
_FORK_SERVER = r"""
import json, os, signal, sys
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
import doclib.embed, doclib.library

class Counting(FakeEmbedder):
    def embed_passages(self, texts):
        step("embed a batch")
        return super().embed_passages(texts)

    embed_queries = FakeEmbedder.embed_passages

doclib.embed.make_embedder = lambda cfg: Counting()
doclib.library.make_embedder = lambda cfg: Counting()

import subprocess
import faiss
from sqlalchemy import event
from sqlalchemy.engine import Engine
import doclib.extract
import doclib.ingest
import doclib.index.vector  # noqa: F401  (imported before the fork)
import doclib.maintenance  # noqa: F401
from doclib.cli import main

DATA = {data!r}
state = {{"kill_at": 0, "count": 0, "trace": None, "file": "-"}}

def step(label):
    if state["trace"] is None:  # the fork server itself
        return
    state["count"] += 1
    state["trace"].write(f"{{state['file']}}: {{label}}\n")
    state["trace"].flush()
    if state["count"] == state["kill_at"]:
        os.kill(os.getpid(), signal.SIGKILL)

def where(path):
    # the file's role, without its random name: the same in every run
    path = os.fsdecode(path)
    if not path.startswith(DATA):
        return path
    rel = os.path.relpath(path, DATA)
    name = os.path.basename(rel)
    temp = name.startswith(".")
    if "/files/" in path:
        what = "originals folder" if os.path.isdir(path) else "original"
    else:
        what = name[1:].rsplit(".", 1)[0] if temp else name
    return what + (" (temp)" if temp else "")

real_fsync, real_replace, real_unlink = os.fsync, os.replace, os.unlink

def fsync(fd):
    step("fsync " + where(os.readlink(f"/proc/self/fd/{{fd}}")))
    return real_fsync(fd)

def replace(src, dst, **kw):
    step("rename to " + where(dst))
    return real_replace(src, dst, **kw)

def unlink(path, **kw):
    step("unlink " + where(path))
    return real_unlink(path, **kw)

os.fsync, os.replace, os.unlink = fsync, replace, unlink

real_write_index = faiss.write_index

def write_index(index, path, *args):
    if isinstance(path, str):  # a file (serialize_index writes to memory)
        step("faiss write")
    return real_write_index(index, path, *args)

faiss.write_index = write_index

@event.listens_for(Engine, "begin")
def _begin(conn):
    conn.info["wrote"] = False

@event.listens_for(Engine, "before_cursor_execute")
def _statement(conn, cursor, statement, params, context, executemany):
    if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
        conn.info["wrote"] = True

@event.listens_for(Engine, "commit")
def _commit(conn):
    step("commit" if conn.info.get("wrote") else "commit (read only)")

class Popen(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "doclib.extract.worker" in args[0]:
            step("extraction child started")

class _Subprocess:
    def __getattr__(self, name):
        return Popen if name == "Popen" else getattr(subprocess, name)

doclib.extract.subprocess = _Subprocess()

def fork_started(self, pid):
    step("extraction child started")  # forked by the fork server, running

doclib.extract.zygote.ForkServer.started = fork_started

real_ingest_file = doclib.ingest.ingest_file

def ingest_file(lib, path, *args, **kwargs):
    state["file"] = os.path.basename(str(path))
    try:
        return real_ingest_file(lib, path, *args, **kwargs)
    finally:
        state["file"] = "-"

doclib.ingest.ingest_file = ingest_file

for line in sys.stdin:
    cmd = json.loads(line)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        out = os.open(cmd["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        state.update(kill_at=cmd["kill_at"], trace=open(cmd["trace"], "w", encoding="utf-8"))
        code = 0
        try:
            main(cmd["argv"], prog_name="doclib")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 70
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({{"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                      "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}}),
          flush=True)
"""


class ForkServer:
    """Runs `doclib ARGV` in a forked child, killed at step ``kill_at``."""

    def __init__(self, tmp: Path, config: Path, data: Path) -> None:
        self.tmp = tmp
        script = _FORK_SERVER.format(tests=str(TESTS), data=str(data))
        env = {"DOCLIB_CONFIG": str(config), "PYTHONPATH": str(REPO / "src"),
               "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp),
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def run(self, argv: list[str], kill_at: int = 0) -> tuple[dict, list[str], str]:
        trace, output = self.tmp / "trace.txt", self.tmp / "output.txt"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"argv": argv, "kill_at": kill_at,
                                          "trace": str(trace), "output": str(output)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the fork server died"
        return (json.loads(line), trace.read_text(encoding="utf-8").splitlines(),
                output.read_text(encoding="utf-8"))

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


# --------------------------------------------------------------- the folder
def _text(marker: str, topic: str, n: int = 3) -> str:
    return "\n\n".join(
        f"The {topic} workshop discussed {marker} with city partners and youth workers, and "
        f"how trust is built in schools and families ({i}). Participants from Amman and Tunis "
        f"compared notes on {topic} practice and on {marker} in municipal networks ({i})."
        for i in range(n))


AR_TEXT = ("# ورشة المجتمع\n\nناقش المشاركون في الورشة {marker} مع شركاء المدينة "
           "والعاملين مع الشباب، وكيف تبنى الثقة في المدارس والأسر.\n\n"
           "قارن المشاركون من عمّان وتونس تجاربهم في الوقاية المحلية وفي {marker} "
           "داخل شبكات البلديات.\n")

# a word only each document holds (the PDF's: only it names Jutland)
MARKERS = {"new.md": "زنبرقوت", "summit.pdf": "jutland",
           "changed.txt": ("quorandel", "tamblewick"),  # before, after
           "retry.txt": "plimbartis", "unchanged.txt": "skorvaldin"}
# the path each file takes through ingest_file
CASES = {"changed.txt": "new version", "retry.txt": "retry", "unchanged.txt": "unchanged",
         "new.md": "new document", "summit.pdf": "new document", "-": "-"}


def _folder(tmp: Path) -> tuple[Path, Path]:
    """The folder to ingest and the template library (before the run):
    changed.txt ready with its old text, retry.txt failed, unchanged.txt
    ready; then changed.txt gets its new text."""
    src = tmp / "src"
    src.mkdir()
    (src / "new.md").write_text(AR_TEXT.format(marker=MARKERS["new.md"]), encoding="utf-8")
    shutil.copy(TESTS / "fixtures" / "documents" / "en_summit_writer.pdf", src / "summit.pdf")
    (src / "changed.txt").write_text(_text(MARKERS["changed.txt"][0], "dialogue"),
                                     encoding="utf-8")
    (src / "retry.txt").write_text(_text(MARKERS["retry.txt"], "exchange"), encoding="utf-8")
    (src / "unchanged.txt").write_text(_text(MARKERS["unchanged.txt"], "network"),
                                       encoding="utf-8")
    template = tmp / "template"
    lib = Library(make_config(template), embedder=FakeEmbedder())

    def cancelled() -> None:
        raise Cancelled("cancelled in the template")

    try:
        for name in ("changed.txt", "unchanged.txt"):
            assert ingest_file(lib, src / name, source_path=str((src / name).resolve())
                               ).status == "ready"
        failed = ingest_file(lib, src / "retry.txt", stop=cancelled,
                             source_path=str((src / "retry.txt").resolve()))
        assert failed.status == "cancelled", failed
    finally:
        lib.close()
    (src / "changed.txt").write_text(_text(MARKERS["changed.txt"][1], "dialogue", n=4),
                                     encoding="utf-8")
    return src, template


def _reset(template: Path, data: Path) -> None:
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)


# the steps of a FAISS save after its start: the same on every path
_SAVING = {"fsync vectors.faiss (temp)", "rename to vectors.faiss", "fsync index",
           "fsync manifest.json (temp)", "rename to manifest.json"}


def _points(steps: list[str]) -> list[int]:
    """The steps to kill at: each that changes something (not a commit that
    wrote nothing), once per path through ingest_file and preceding step
    (the second new document goes the way of the first; the inside of an
    index save is the same on every path)."""
    seen, out = set(), []
    for n, label in enumerate(steps, 1):
        file, what = label.split(": ", 1)
        before = steps[n - 2].split(": ", 1)[1] if n > 1 else ""
        key = ("index save" if what in _SAVING else CASES[file], what, before)
        if what != "commit (read only)" and key not in seen:
            seen.add(key)
            out.append(n)
    return out


# ----------------------------------------------------------- the invariants
def _assert_agrees(lib: Library, finished: bool = False) -> None:
    """The database, the originals, the FAISS file and the lexical tables
    agree; every ready document is found by its word (see the docstring)."""
    d, c = store.documents, store.chunks
    with lib.db.connect() as conn:
        docs = conn.execute(select(d.c.id, d.c.status, d.c.stored_name, d.c.access,
                                   d.c.original_filename)).all()
        chunks = conn.execute(select(c.c.id, c.c.document_id, c.c.text, c.c.embedding)).all()
        tables = {level: {r[0] for r in conn.exec_driver_sql(f"SELECT rowid FROM {table}")}
                  for level, table in audience.LEXICAL_TABLES.items()}
    statuses = {r.original_filename: r.status for r in docs}
    assert not set(statuses.values()) & {"processing", "queued"}, statuses
    if finished:
        assert sorted(statuses) == sorted(MARKERS) and set(statuses.values()) == {"ready"}, \
            statuses
    ready = {r.id for r in docs if r.status == "ready"}
    owners = {r.id: r.document_id for r in chunks}
    assert set(owners.values()) == ready, statuses  # chunks of ready documents only
    # each audience's lexical table: exactly the chunks it may see
    access = {r.id: r.access for r in docs}
    for level, ids in tables.items():
        assert ids == {cid for cid, doc in owners.items() if access[doc] <= level}, level
    # the FAISS file on disk loads as it is, with the stored vectors
    vi = VectorIndex(lib.config.index_dir, lib.embedder.dim, lib.embedder.id)
    assert vi.try_load(lib.index.db_fingerprint()) is None
    assert sorted(vi.ids().tolist()) == sorted(owners)
    for r in chunks:  # as the index stores them (flat16: in half precision)
        want = np.frombuffer(r.embedding, np.float32)
        if vi.kind == "flat16":
            want = want.astype(np.float16).astype(np.float32)
        assert np.array_equal(vi.vector(r.id), want)
    # the originals: one file per document that has one and per previous
    # version a replacement kept (versions.py), nothing else
    with lib.db.connect() as conn:
        kept = {r[0] for r in conn.execute(select(store.document_versions.c.stored_name))}
    stored = {r.stored_name for r in docs if r.stored_name} | kept
    on_disk = {p.relative_to(lib.files.root).as_posix()
               for p in lib.files.root.rglob("*") if p.is_file()}
    assert on_disk == stored, ("stray", sorted(on_disk - stored), "missing",
                               sorted(stored - on_disk))
    left = sorted(p.name for p in Path(lib.config.index_dir).iterdir()
                  if p.name.startswith((".vectors", ".manifest")))
    assert not left, ("half-written index files", left)
    # every ready document is found by its word, as a curator
    curator = principal_for_role("curator")
    for doc in ready:
        name = next(r.original_filename for r in docs if r.id == doc)
        text = " ".join(r.text.lower() for r in chunks if r.document_id == doc)
        words = MARKERS[name] if isinstance(MARKERS[name], tuple) else (MARKERS[name],)
        held = [w for w in words if w in text]
        assert len(held) == 1, (name, held)  # the old or the new version, never both
        hits = search(lib, curator, held[0], k=5)["results"]
        assert hits and hits[0]["document"]["id"] == doc, (name, held[0], hits[:2])


def _restarted(cfg) -> Library:
    """The library opened again and `doclib check --repair`ed; the check
    passes afterwards."""
    lib = Library(cfg, embedder=FakeEmbedder())
    repaired = check(lib, repair=True)
    assert repaired["ok"], [x for x in repaired["checks"] if not x["ok"]]
    after = check(lib)
    assert after["ok"] and all(x["ok"] for x in after["checks"]), after
    return lib


def _kill_loop(tmp: Path, template: Path, argv: list[str],
               then: Callable[[Library, str], None]) -> list[str]:
    """Run `doclib ARGV` on a copy of ``template`` once to its end, then
    once per point (``_points``) killed there; after each kill, restart,
    repair, check that everything agrees and call ``then(lib, step)``.
    Every point is tried; the failures are reported together.  The
    steps killed at."""
    data = tmp / "data"
    cfg = make_config(data)
    config = tmp / "config.yaml"
    config.write_text(f"storage:\n  data_dir: {data}\nembed:\n  second_model: ''\n",
                      encoding="utf-8")
    server = ForkServer(tmp, config, data)
    failures, seen = [], []
    try:
        _reset(template, data)
        done, steps, output = server.run(argv)
        assert done == {"signal": None, "exit": 0}, output
        lib = Library(cfg, embedder=FakeEmbedder())
        try:
            _assert_agrees(lib, finished=True)
        finally:
            lib.close()
        points = _points(steps)
        for n in points:
            _reset(template, data)
            killed, trace, output = server.run(argv, kill_at=n)
            assert killed["signal"] == signal.SIGKILL, (n, steps[n - 1], output)
            assert trace == steps[:n], n  # deterministic: the steps of the dry run
            seen.append(steps[n - 1])
            try:
                lib = _restarted(cfg)
                try:
                    _assert_agrees(lib)
                    then(lib, steps[n - 1])
                finally:
                    lib.close()
            except AssertionError as e:
                failures.append(f"killed before step {n} ({steps[n - 1]}; after "
                                f"{steps[n - 2] if n > 1 else 'nothing'}): "
                                + str(e).splitlines()[0][:300])
    finally:
        server.close()
    assert not failures, f"{len(failures)} of {len(points)} points:\n" + "\n".join(failures)
    return seen


def test_an_ingestion_killed_at_each_step_leaves_a_library_that_agrees(tmp_path):
    src, template = _folder(tmp_path)

    def finish(lib: Library, step: str) -> None:
        # after a step that changes what a restart sees, the next ingestion
        # of the folder finishes the job (the extraction children cost most
        # of the time: not after every step)
        if step.split(": ", 1)[1].split(" ")[0] in ("commit", "rename", "unlink"):
            reports = list(ingest_paths(lib, [str(src)], IngestOptions()))
            assert {r.status for r in reports} <= {"ready", "unchanged"}, reports
            _assert_agrees(lib, finished=True)

    seen = _kill_loop(tmp_path, template, ["ingest", str(src)], finish)
    kinds = {(CASES[label.split(": ")[0]], label.split(": ")[1].split(" ")[0]) for label in seen}
    for case in ("new document", "new version", "retry"):
        assert {(case, k) for k in ("commit", "fsync", "rename", "embed",
                                    "extraction")} <= kinds, (case, sorted(kinds))
    # a batch saves the FAISS file once, after its documents committed: a
    # kill before that save leaves a file behind the database
    assert ("-", "faiss") in kinds
    # a new version removes no file: the one it replaces is kept as a previous version
    assert ("retry", "unlink") in kinds and ("new version", "unlink") not in kinds
    assert {label.split(": ")[1] for label in seen} >= _SAVING


def test_a_reindex_killed_at_each_step_leaves_a_library_that_agrees(tmp_path):
    src, template = _folder(tmp_path)
    lib = Library(make_config(template), embedder=FakeEmbedder())
    try:
        reports = list(ingest_paths(lib, [str(src)], IngestOptions()))
        assert {r.status for r in reports} <= {"ready", "unchanged"}, reports
    finally:
        lib.close()
    seen = _kill_loop(tmp_path, template, ["reindex"], lambda lib, step: None)
    assert {label.split(": ")[1] for label in seen} >= {
        "commit", "faiss write", "fsync vectors.faiss (temp)", "rename to vectors.faiss",
        "fsync manifest.json (temp)", "rename to manifest.json"}, seen

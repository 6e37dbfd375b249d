"""The extraction fork server (``doclib.extract.zygote``): children forked
from a process that imported the parsers once, under the same limits as a
new interpreter, with the same results; a server that fails or is busy
never loses a file (a new interpreter extracts it), a killed or stopped
child is killed by its server (never by a pid that may have been reused),
and an exchange that did not end never hands its replies to the next file.

A FIFO with no writer makes a child that waits forever without using CPU:
what the wall-clock limit and a stop are for."""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

import doclib.extract as extract_mod
from doclib.config import ExtractConfig
from doclib.errors import OverLimits
from doclib.extract import extract, zygote

CFG = ExtractConfig()
INTERPRETER = replace(CFG, fork_server=False)


@pytest.fixture(autouse=True)
def fresh_server():
    """Each test starts with no server (one that earlier tests started is
    ended) and no failures counted, and the server it made is ended after it."""
    def end() -> None:
        if zygote._server is not None and zygote._server.usable():
            zygote._server.close()
        zygote._server = None
        zygote._failures = 0
    end()
    yield
    end()


@pytest.fixture
def no_interpreter(monkeypatch):
    """Fail the test if a file is extracted by a new interpreter."""
    def refuse(*args, **kwargs):
        raise AssertionError("a new interpreter ran: the fork server was not used")
    monkeypatch.setattr(extract_mod, "_run_interpreter", refuse)


def _server() -> zygote.ForkServer:
    assert zygote._server is not None and zygote._server.usable()
    return zygote._server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _note(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text + "\n", encoding="utf-8")
    return p


def _fifo(tmp_path: Path) -> Path:
    p = tmp_path / "never.txt"
    os.mkfifo(p)
    return p


def _watch_children(monkeypatch) -> list[int]:
    pids: list[int] = []
    monkeypatch.setattr(zygote.ForkServer, "started", lambda self, pid: pids.append(pid))
    return pids


def test_forked_children_give_what_a_new_interpreter_gives(fixtures_dir, tmp_path,
                                                           monkeypatch):
    ar = _note(tmp_path, "note.txt", "ورشة عمل حول دور الأمهات في الوقاية من التطرف العنيف.")
    cases = [(fixtures_dir / "ar_summit_writer.pdf", "pdf"),
             (fixtures_dir / "en_summit_chromium.pdf", "pdf"), (ar, "txt")]
    expected = [extract(path, kind, INTERPRETER).to_json() for path, kind in cases]
    monkeypatch.setattr(extract_mod, "_run_interpreter", None)  # the fork path only
    assert [extract(path, kind, CFG).to_json() for path, kind in cases] == expected
    server = _server()
    assert server.children == 3  # one server, one child a file


def test_the_wall_clock_limit_kills_a_forked_child(tmp_path, monkeypatch, no_interpreter):
    pids = _watch_children(monkeypatch)
    small = _note(tmp_path, "small.txt", "a short note")
    extract(small, "txt", CFG)
    server = _server()
    t = time.monotonic()
    with pytest.raises(OverLimits, match="took longer than 2 s"):
        extract(_fifo(tmp_path), "txt", replace(CFG, timeout_s=2))
    assert 2 <= time.monotonic() - t < 8
    # killed by its server and reaped: gone, and the server takes the next file
    assert not _alive(pids[-1])
    assert extract(small, "txt", CFG).pages[0].text.strip() == "a short note"
    assert _server() is server and zygote._failures == 0


def test_a_stop_request_kills_the_forked_childs_session(tmp_path, monkeypatch,
                                                        no_interpreter):
    pids = _watch_children(monkeypatch)

    class Cancelled(Exception):
        pass

    calls: list[float] = []

    def stop() -> None:
        calls.append(time.monotonic())
        if len(calls) >= 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        extract(_fifo(tmp_path), "txt", CFG, stop=stop)
    assert len(calls) == 3 and not _alive(pids[-1])
    server = _server()
    small = _note(tmp_path, "small.txt", "after the stop")
    assert extract(small, "txt", CFG).pages[0].text.strip() == "after the stop"
    assert _server() is server


def test_a_server_that_dies_under_its_child_costs_one_time_limit(tmp_path, monkeypatch):
    pids = _watch_children(monkeypatch)
    ran: list[float] = []
    real = extract_mod._run_interpreter

    def interpreter(*args, **kwargs):
        ran.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_mod, "_run_interpreter", interpreter)
    extract(_note(tmp_path, "a.txt", "first"), "txt", CFG)
    server_pid = _server().proc.pid
    threading.Timer(1.0, os.kill, (server_pid, signal.SIGKILL)).start()
    t = time.monotonic()
    with pytest.raises(OverLimits, match="took longer than 3 s"):
        extract(_fifo(tmp_path), "txt", replace(CFG, timeout_s=3))
    # the new interpreter had what was left of the 3 s, not 3 s more
    assert time.monotonic() - t < 5.5 and len(ran) == 1
    assert not _alive(pids[-1])
    assert extract(_note(tmp_path, "b.txt", "second"), "txt", CFG).pages[0].text.strip() \
        == "second"
    assert _server().proc.pid != server_pid


def test_an_exchange_cut_short_never_answers_the_next_file(tmp_path, monkeypatch):
    a = _note(tmp_path, "a.txt", "the first file")
    b = _note(tmp_path, "b.txt", "the second file")
    extract(a, "txt", CFG)
    first = _server()
    real = zygote.ForkServer._reply
    state = {"cut": True}

    def reply(self, rid, key, timeout):
        if state.pop("cut", False) and key == "pid":
            real(self, rid, key, timeout)
            raise KeyboardInterrupt  # between the pid and the exit replies
        return real(self, rid, key, timeout)

    monkeypatch.setattr(zygote.ForkServer, "_reply", reply)
    with pytest.raises(KeyboardInterrupt):
        extract(a, "txt", CFG)
    # that server was ended: the next file gets its own answer from a new one
    assert not first.usable()
    assert extract(b, "txt", CFG).pages[0].text.strip() == "the second file"
    assert extract(a, "txt", CFG).pages[0].text.strip() == "the first file"


def test_a_kill_that_crosses_its_childs_exit_is_ignored(tmp_path, no_interpreter):
    # a timeout or a stop just as the child ends: the parent's kill reaches
    # the server after the exit reply; the next file must not pay for it
    path = _note(tmp_path, "a.txt", "one file")
    extract(path, "txt", CFG)
    server = _server()
    zygote._send(server.sock, {"id": 1, "kill": True})
    assert extract(path, "txt", CFG).pages[0].text.strip() == "one file"
    assert _server() is server and zygote._failures == 0


def test_a_dead_server_is_replaced(tmp_path, no_interpreter):
    path = _note(tmp_path, "a.txt", "first file")
    extract(path, "txt", CFG)
    dead = _server().proc.pid
    os.kill(dead, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(dead) and zygote._server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert extract(path, "txt", CFG).pages[0].text.strip() == "first file"
    assert _server().proc.pid != dead


def test_many_open_files_do_not_break_the_fork_path(tmp_path, no_interpreter):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("cannot open 1,100 files here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        path = _note(tmp_path, "a.txt", "past fd 1024")
        assert extract(path, "txt", CFG).pages[0].text.strip() == "past fd 1024"
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_threads_at_once_each_get_their_file(tmp_path):
    # one server takes one request at a time: the others run a new interpreter
    paths = [_note(tmp_path, f"{i}.txt", f"file number {i}") for i in range(4)]
    extract(paths[0], "txt", CFG)
    server = _server()
    got: dict[int, str] = {}

    def work(i: int) -> None:
        got[i] = extract(paths[i], "txt", CFG).pages[0].text.strip()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert got == {i: f"file number {i}" for i in range(4)}
    assert server.children >= 2 and _server() is server


def _in_forked_process(path: str, queue: multiprocessing.Queue) -> None:
    text = extract(Path(path), "txt", CFG).pages[0].text.strip()
    queue.put((text, _server().proc.pid))


def test_a_forked_process_starts_its_own_server(tmp_path):
    path = _note(tmp_path, "a.txt", "from a forked process")
    extract(path, "txt", CFG)
    mine = _server()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_in_forked_process, args=(str(path), queue))
    proc.start()
    text, theirs = queue.get(timeout=60)
    proc.join(30)
    assert text == "from a forked process" and theirs != mine.proc.pid
    # the parent's server was not disturbed by the child's
    assert extract(path, "txt", CFG).pages[0].text.strip() == "from a forked process"
    assert _server() is mine
    # and it still ends when its one owner closes it (no copy of its socket
    # left open in the forked process)
    t = time.monotonic()
    mine.close()
    assert mine.proc.returncode == 0 and time.monotonic() - t < 2

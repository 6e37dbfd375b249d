"""The extraction fork server (``doclib.extract.zygote``): children forked
from a process that imported the parsers once, under the same limits as a
new interpreter, with the same results; a server that fails or is busy
never loses a file (a new interpreter extracts it)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from doclib.config import ExtractConfig
from doclib.errors import OverLimits
from doclib.extract import extract, zygote

CFG = ExtractConfig()
INTERPRETER = replace(CFG, fork_server=False)


def _server_pid() -> int:
    assert zygote._server is not None and zygote._server.usable()
    return zygote._server.proc.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_forked_children_give_what_a_new_interpreter_gives(fixtures_dir, tmp_path):
    ar = tmp_path / "note.txt"
    ar.write_text("ورشة عمل حول دور الأمهات في الوقاية من التطرف العنيف.\n", encoding="utf-8")
    cases = [(fixtures_dir / "ar_summit_writer.pdf", "pdf"),
             (fixtures_dir / "en_summit_chromium.pdf", "pdf"), (ar, "txt")]
    for path, kind in cases:
        forked = extract(path, kind, CFG)
        assert forked.to_json() == extract(path, kind, INTERPRETER).to_json()
    first = _server_pid()
    extract(ar, "txt", CFG)
    assert _server_pid() == first  # one server, many children


def test_the_wall_clock_limit_kills_a_forked_child_and_the_server_goes_on(fixtures_dir,
                                                                          tmp_path):
    from pypdf import PdfReader, PdfWriter

    page = PdfReader(fixtures_dir / "en_summit_writer.pdf").pages[0]
    w = PdfWriter()
    for _ in range(800):
        w.add_page(page)
    big = tmp_path / "long.pdf"
    w.write(big)
    small = tmp_path / "small.txt"
    small.write_text("a short note\n", encoding="utf-8")
    extract(small, "txt", CFG)
    server = _server_pid()
    t = time.monotonic()
    with pytest.raises(OverLimits, match="longer than 1 s|more than 1 s of CPU"):
        extract(big, "pdf", replace(CFG, timeout_s=1))
    assert time.monotonic() - t < 10
    # the server reaped its child and takes the next file
    assert extract(small, "txt", CFG).pages[0].text.strip() == "a short note"
    assert _server_pid() == server


def test_a_stop_request_kills_the_forked_childs_session(fixtures_dir, tmp_path):
    from pypdf import PdfReader, PdfWriter

    page = PdfReader(fixtures_dir / "en_summit_writer.pdf").pages[0]
    w = PdfWriter()
    for _ in range(800):
        w.add_page(page)
    big = tmp_path / "long.pdf"
    w.write(big)
    calls = []

    class Cancelled(Exception):
        pass

    def stop() -> None:
        calls.append(time.monotonic())
        if len(calls) >= 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        extract(big, "pdf", CFG, stop=stop)
    small = tmp_path / "small.txt"
    small.write_text("after the stop\n", encoding="utf-8")
    assert extract(small, "txt", CFG).pages[0].text.strip() == "after the stop"


def test_a_dead_server_loses_no_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("first file\n", encoding="utf-8")
    extract(path, "txt", CFG)
    dead = _server_pid()
    os.kill(dead, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while zygote._server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    # the file is extracted all the same, and a new server takes the next
    assert extract(path, "txt", CFG).pages[0].text.strip() == "first file"
    assert extract(path, "txt", CFG).pages[0].text.strip() == "first file"
    assert _server_pid() != dead and not _alive(dead)


def test_threads_at_once_each_get_their_file(tmp_path):
    # one server takes one request at a time: the others run a new interpreter
    paths = []
    for i in range(4):
        p = tmp_path / f"{i}.txt"
        p.write_text(f"file number {i}\n", encoding="utf-8")
        paths.append(p)
    got: dict[int, str] = {}

    def work(i: int) -> None:
        got[i] = extract(paths[i], "txt", CFG).pages[0].text.strip()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert got == {i: f"file number {i}" for i in range(4)}


def _in_forked_process(path: str, queue: multiprocessing.Queue) -> None:
    text = extract(Path(path), "txt", CFG).pages[0].text.strip()
    queue.put((text, _server_pid()))


def test_a_forked_process_starts_its_own_server(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("from a forked process\n", encoding="utf-8")
    extract(path, "txt", CFG)
    mine = _server_pid()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_in_forked_process, args=(str(path), queue))
    proc.start()
    text, theirs = queue.get(timeout=60)
    proc.join(30)
    assert text == "from a forked process" and theirs != mine
    # the parent's server was not disturbed by the child's
    assert extract(path, "txt", CFG).pages[0].text.strip() == "from a forked process"
    assert _server_pid() == mine

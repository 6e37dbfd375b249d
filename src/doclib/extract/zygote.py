"""The extraction fork server: ``python -m doclib.extract.zygote FD``.

Starting a Python interpreter and importing the parsers costs 0.1 s for a
text file and about 0.3 s for a PDF, more than parsing a small file.  This
process pays that once: it imports the extractors, then, for each request
from its parent, forks a child that puts itself in a session of its own,
takes the address-space and CPU limits, extracts one file and exits.  The
child is the same as ``worker``'s (the same ``run``, the same one JSON
object on its stdout), only born by ``fork`` from a process that holds
nothing but parsers: no library, no database, no configuration secrets.

The protocol, over a SOCK_SEQPACKET socket pair (one message per packet):

- parent -> server: ``{"path", "kind", "config"}`` with two file
  descriptors attached (``SCM_RIGHTS``): the child's stdout and stderr;
- server -> parent: ``{"pid": N}`` once the child is forked (the parent
  kills its session on a timeout or a stop), then ``{"exit": code}`` once it
  is reaped (``os.waitstatus_to_exitcode``: negative for a signal).

The server handles one request at a time and ends when its parent's end of
the socket closes.  ``extract.fork_server: false`` runs a new interpreter
per file instead (``worker``).
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

MAX_MESSAGE = 1 << 16
STARTUP_S = 60.0   # the server's first answer comes after its imports
REAP_S = 10.0      # a killed child is reaped by then


def preload() -> None:
    """Import what the extractors import when they run, once."""
    import docx  # noqa: F401
    import pdfplumber  # noqa: F401
    import pptx  # noqa: F401
    import pypdf  # noqa: F401

    from . import blocks, ocr, office, pdf, plain, slides, worker  # noqa: F401


def limit(memory_mb: int, cpu_s: int) -> None:
    """The child's own session (its parent kills the whole of it) and limits."""
    os.setsid()
    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))


def _child(sock: socket.socket, request: dict[str, object], fds: list[int]) -> None:
    """In the forked child: never returns."""
    code = 70
    try:
        sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in fds:
            os.close(fd)
        cfg = request["config"]
        assert isinstance(cfg, dict)
        limit(int(cfg["memory_mb"]), int(cfg["timeout_s"]))
        from .worker import run

        code = run(str(request["path"]), str(request["kind"]), cfg)
    except BaseException:  # noqa: BLE001 - a child must never return into the server
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(sock: socket.socket) -> None:
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 2)
        except (ConnectionError, OSError):
            return
        if not msg:
            return  # the parent closed its end
        try:
            request = json.loads(msg)
            if len(fds) != 2:
                raise ValueError("two file descriptors expected")
        except ValueError as e:
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"refused": str(e)}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            _child(sock, request, fds)
        for fd in fds:
            os.close(fd)
        try:
            sock.send(json.dumps({"pid": pid}).encode())
        except OSError:  # the parent is gone: its child goes too
            _kill_session(pid)
        _, status = os.waitpid(pid, 0)
        try:
            sock.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
        except OSError:
            return


# ---------------------------------------------------------------- the parent's side
class Unavailable(Exception):
    """The fork server cannot take this request (busy with another thread's,
    failed, or gone): run a new interpreter instead."""


class Timeout(Exception):
    """The child ran past its wall-clock limit and was killed."""


class ForkServer:
    """A running fork server, its socket and its process (the parent's view)."""

    def __init__(self, env: dict[str, str]) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "doclib.extract.zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self.sock = mine
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self.broken = False

    def usable(self) -> bool:
        return not self.broken and self.owner == os.getpid() and self.proc.poll() is None

    def close(self) -> None:
        """End the server (it exits when its socket closes) and reap it."""
        self.broken = True
        self.sock.close()
        if self.owner == os.getpid():
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _reply(self, timeout: float) -> dict[str, int]:
        self.sock.settimeout(timeout)
        try:
            msg = self.sock.recv(MAX_MESSAGE)
        except OSError as e:  # socket.timeout is an OSError
            raise Unavailable(f"no answer from the fork server ({e})") from None
        if not msg:
            raise Unavailable("the fork server ended")
        reply = json.loads(msg)
        if not isinstance(reply, dict) or "refused" in reply:
            raise Unavailable(f"the fork server refused the request: {reply}")
        return reply

    def run(self, path: str, kind: str, config: dict[str, object], timeout_s: float,
            stop: Callable[[], None] | None) -> tuple[int, bytes, bytes]:
        """(exit code, stdout, stderr) of a child extracting ``path``.
        Raises ``Unavailable`` if the server cannot take the request (no
        child ran), ``Timeout`` past ``timeout_s``, or what ``stop`` raises
        (the child's session killed first in both cases)."""
        global _failures
        if not self.lock.acquire(blocking=False):
            raise Unavailable("the fork server is busy")
        try:
            return self._run(path, kind, config, timeout_s, stop)
        except Unavailable:
            _failures += 1
            self.close()
            raise
        finally:
            self.lock.release()

    def _run(self, path: str, kind: str, config: dict[str, object], timeout_s: float,
             stop: Callable[[], None] | None) -> tuple[int, bytes, bytes]:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            try:
                socket.send_fds(self.sock, [json.dumps({"path": path, "kind": kind,
                                                        "config": config}).encode()],
                                [out_w, err_w])
            except OSError as e:
                raise Unavailable(f"the fork server is gone ({e})") from None
            finally:
                os.close(out_w)
                os.close(err_w)
            pid = int(self._reply(STARTUP_S)["pid"])
            deadline = time.monotonic() + timeout_s
            try:
                out, err = _read_both(out_r, err_r, deadline, stop)
            except BaseException:
                _kill_session(pid)
                self._reap()
                raise
            return self._reap(), out, err
        finally:
            os.close(out_r)
            os.close(err_r)

    def _reap(self) -> int:
        try:
            return int(self._reply(REAP_S)["exit"])
        except (Unavailable, KeyError, ValueError):
            self.close()
            raise Unavailable("the fork server lost a child") from None


def _read_both(out_r: int, err_r: int, deadline: float,
               stop: Callable[[], None] | None) -> tuple[bytes, bytes]:
    """The child's stdout and stderr until both close; ``Timeout`` at the
    deadline; ``stop`` every 0.2 s."""
    data: dict[int, list[bytes]] = {out_r: [], err_r: []}
    open_fds = [out_r, err_r]
    next_stop = time.monotonic() + 0.2
    while open_fds:
        now = time.monotonic()
        if now >= deadline:
            raise Timeout
        if stop is not None and now >= next_stop:
            stop()
            next_stop = now + 0.2
        wait = min(deadline, next_stop) - now if stop is not None else deadline - now
        ready, _, _ = select.select(open_fds, [], [], max(wait, 0.0))
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                data[fd].append(chunk)
            else:
                open_fds.remove(fd)
    return b"".join(data[out_r]), b"".join(data[err_r])


def _kill_session(pid: int) -> None:
    """Kill the child and whatever it started (the session it made; the
    child itself if it had not made it yet)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


_server: ForkServer | None = None
_server_lock = threading.Lock()
_failures = 0
MAX_FAILURES = 3   # then this process runs a new interpreter per file


def server(env: dict[str, str]) -> ForkServer:
    """This process's fork server, started on first use (again after it
    failed, and in a process forked from the one that started it); after
    ``MAX_FAILURES`` failures, ``Unavailable`` (a server that cannot start,
    its imports broken, would cost a start per file)."""
    global _server
    if _failures >= MAX_FAILURES:
        raise Unavailable("the fork server failed too often")
    with _server_lock:
        if _server is None or not _server.usable():
            if _server is not None and _server.owner == os.getpid():
                _server.close()
            _server = ForkServer(env)
        return _server


@atexit.register
def _end() -> None:
    if _server is not None and _server.owner == os.getpid():
        _server.close()


def main() -> int:
    sock = socket.socket(fileno=int(sys.argv[1]))
    preload()
    serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())

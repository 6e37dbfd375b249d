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

- parent -> server: ``{"id", "path", "kind", "config"}`` with two file
  descriptors attached (``SCM_RIGHTS``): the child's stdout and stderr;
- server -> parent: ``{"id", "pid"}`` once the child is forked;
- parent -> server, on a timeout or a stop: ``{"id", "kill": true}``; the
  server kills the child's session (the child is not reaped yet, so its
  pid cannot have been reused);
- server -> parent: ``{"id", "exit": code}`` once the child is reaped
  (``os.waitstatus_to_exitcode``: negative for a signal).

Every reply names its request: an exchange that did not end cleanly closes
the socket, and a server whose parent's end closes kills its running
child's session and ends.  The server handles one request at a time.
``extract.fork_server: false`` runs a new interpreter per file instead
(``worker``).
"""

from __future__ import annotations

import atexit
import itertools
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
from typing import Any

MAX_MESSAGE = 1 << 16
STARTUP_S = 60.0   # the server's first answer comes after its imports
REAP_S = 10.0      # a killed child is reaped by then
MAX_FAILURES = 3   # in a row: then this process runs a new interpreter per file


def preload() -> None:
    """Import what the extractors import when they run, once."""
    import docx  # noqa: F401
    import pdfplumber  # noqa: F401
    import pptx  # noqa: F401
    import pypdf  # noqa: F401

    from . import blocks, ocr, office, pdf, plain, slides, worker  # noqa: F401


def limit(memory_mb: int, cpu_s: int) -> None:
    """The child's own session (killed as a whole) and its limits."""
    os.setsid()
    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))


def kill_session(pid: int) -> None:
    """SIGKILL the session ``pid`` leads (the child and what it started),
    or the child alone if it has not made its session yet."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- the server
def _child(sock: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
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


def _send(sock: socket.socket, message: dict[str, Any]) -> bool:
    try:
        sock.send(json.dumps(message).encode())
        return True
    except OSError:
        return False


def _watch(sock: socket.socket, pid: int, rid: int) -> int | None:
    """Wait for the child ``pid`` to end (its exit code), killing its
    session when asked; None if the parent went away (the child's session
    is killed and reaped first)."""
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    try:
        while True:
            for fd, _event in poller.poll():
                if fd == pidfd:
                    _, status = os.waitpid(pid, 0)
                    return os.waitstatus_to_exitcode(status)
                try:
                    msg = sock.recv(MAX_MESSAGE)
                except OSError:
                    msg = b""
                if not msg:
                    kill_session(pid)
                    os.waitpid(pid, 0)
                    return None
                try:
                    request = json.loads(msg)
                except ValueError:
                    continue
                if isinstance(request, dict) and request.get("id") == rid and \
                        request.get("kill"):
                    kill_session(pid)
    finally:
        os.close(pidfd)


def serve(sock: socket.socket) -> None:
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 2)
        except OSError:
            return
        if not msg:
            return  # the parent closed its end
        rid = None
        try:
            request = json.loads(msg)
            rid = request.get("id")
            if not fds and request.get("kill"):
                continue  # a kill that crossed its child's exit: nothing left to kill
            if rid is None or len(fds) != 2 or not isinstance(request.get("config"), dict):
                raise ValueError("a request, its config and two file descriptors expected")
        except (ValueError, TypeError, AttributeError) as e:
            for fd in fds:
                os.close(fd)
            if not _send(sock, {"id": rid, "refused": str(e)}):
                return
            continue
        pid = os.fork()
        if pid == 0:
            _child(sock, request, fds)
        for fd in fds:
            os.close(fd)
        if not _send(sock, {"id": rid, "pid": pid}):
            kill_session(pid)
            os.waitpid(pid, 0)
            return
        code = _watch(sock, pid, rid)
        if code is None or not _send(sock, {"id": rid, "exit": code}):
            return


# ---------------------------------------------------------------- the parent's side
class Unavailable(Exception):
    """The fork server cannot take this request (busy with another thread's,
    failed, or gone) and no child ran: run a new interpreter instead."""


class Lost(Exception):
    """The fork server went away while its child ran (the child's session
    was killed): the file may be tried again in the time that is left."""


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
        self.children = 0          # forked for this process (tests and benches read it)
        self._ids = itertools.count(1)
        self._done = True          # the last exchange ended (both replies read)

    def usable(self) -> bool:
        return not self.broken and self.owner == os.getpid() and self.proc.poll() is None

    def close(self) -> None:
        """End the server: its end of the socket closes, so it kills a
        running child's session and exits; reap it."""
        self.broken = True
        self.sock.close()
        if self.owner == os.getpid():
            try:
                self.proc.wait(timeout=REAP_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def started(self, pid: int) -> None:
        """Called once a child is forked (the fault loop counts it as a step)."""

    def run(self, path: str, kind: str, config: dict[str, Any], deadline: float,
            stop: Callable[[], None] | None) -> tuple[int, bytes, bytes]:
        """(exit code, stdout, stderr) of a child extracting ``path``, killed
        at ``deadline`` (``time.monotonic``).
        Raises ``Unavailable`` if no child ran, ``Lost`` if the server went
        away while one did, ``Timeout`` past ``timeout_s``, or what
        ``stop`` raises (the child's session is killed in the last two)."""
        global _failures
        if not self.lock.acquire(blocking=False):
            raise Unavailable("the fork server is busy")
        self._done = False
        try:
            result = self._run(path, kind, config, deadline, stop)
            _failures = 0
            return result
        except (Unavailable, Lost):
            _failures += 1
            raise
        finally:
            if not self._done:
                # an exchange that did not end: its replies must never be read
                # as another request's (and closing kills a running child)
                self.close()
            self.lock.release()

    def _run(self, path: str, kind: str, config: dict[str, Any], deadline: float,
             stop: Callable[[], None] | None) -> tuple[int, bytes, bytes]:
        rid = next(self._ids)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            try:
                socket.send_fds(self.sock, [json.dumps({"id": rid, "path": path, "kind": kind,
                                                        "config": config}).encode()],
                                [out_w, err_w])
            except OSError as e:
                raise Unavailable(f"the fork server is gone ({e})") from None
            finally:
                os.close(out_w)
                os.close(err_w)
            try:
                pid = self._reply(rid, "pid", max(0.1, min(STARTUP_S,
                                                           deadline - time.monotonic())))
            except Lost:
                raise Unavailable("the fork server did not start a child") from None
            # the child as a process, not a number: once its server is gone
            # nobody reaps it for us, and its pid could be reused
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                pidfd = -1
            try:
                self.children += 1
                self.started(pid)
                result = self._collect(out_r, err_r, rid, deadline, stop)
                self._done = True
                return result
            except Lost:
                _kill_if_alive(pid, pidfd)  # its server is gone: nobody else will
                raise
            except BaseException:
                # a timeout or a stop: the server kills the child's session and
                # says when it is reaped; if it does not, run() closes it
                if _send(self.sock, {"id": rid, "kill": True}):
                    try:
                        self._reply(rid, "exit", REAP_S)
                        self._done = True
                    except Lost:
                        pass
                raise
            finally:
                if pidfd >= 0:
                    os.close(pidfd)
        finally:
            os.close(out_r)
            os.close(err_r)

    def _reply(self, rid: int, key: str, timeout: float) -> int:
        """The value of ``key`` in the server's reply to request ``rid``;
        ``Lost`` if none comes."""
        self.sock.settimeout(timeout)
        try:
            msg = self.sock.recv(MAX_MESSAGE)
        except OSError as e:  # socket.timeout is an OSError
            raise Lost(f"no answer from the fork server ({e})") from None
        try:
            reply = json.loads(msg) if msg else None
            if not isinstance(reply, dict) or reply.get("id") != rid:
                raise Lost(f"the fork server answered {reply!r} to request {rid}")
            return int(reply[key])
        except (ValueError, KeyError, TypeError):
            raise Lost(f"the fork server answered {msg!r} to request {rid}") from None

    def _collect(self, out_r: int, err_r: int, rid: int, deadline: float,
                 stop: Callable[[], None] | None) -> tuple[int, bytes, bytes]:
        """The child's stdout, stderr and exit code: the pipes are read until
        the server says the child was reaped (then drained of what is left:
        a grandchild that kept them open cannot hold the parent); ``Timeout``
        at the deadline; ``stop`` every 0.2 s."""
        data: dict[int, list[bytes]] = {out_r: [], err_r: []}
        poller = select.poll()   # not select(): a process may hold more than 1024 fds
        for fd in (out_r, err_r, self.sock.fileno()):
            poller.register(fd, select.POLLIN)
        next_stop = time.monotonic() + 0.2
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise Timeout
            if stop is not None and now >= next_stop:
                stop()
                next_stop = now + 0.2
            wait = (min(deadline, next_stop) if stop is not None else deadline) - now
            for fd, _event in poller.poll(max(0, int(wait * 1000)) + 1):
                if fd == self.sock.fileno():
                    code = self._reply(rid, "exit", REAP_S)
                    for pipe in (out_r, err_r):
                        data[pipe].extend(_drain(pipe))
                    return code, b"".join(data[out_r]), b"".join(data[err_r])
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    data[fd].append(chunk)
                else:
                    poller.unregister(fd)


def _kill_if_alive(pid: int, pidfd: int) -> None:
    """Kill the child's session if the child (``pidfd``) is still running:
    then its pid, and its session's, are still its own."""
    if pidfd < 0:
        return
    poller = select.poll()   # not select(): the fd may be past 1024
    poller.register(pidfd, select.POLLIN)
    if poller.poll(0):
        return  # it ended: the pid may be someone else's now
    kill_session(pid)


def _drain(fd: int) -> list[bytes]:
    """What a pipe holds now, without waiting for its other end to close."""
    os.set_blocking(fd, False)
    out = []
    try:
        while chunk := os.read(fd, 1 << 16):
            out.append(chunk)
    except BlockingIOError:
        pass
    return out


_server: ForkServer | None = None
_server_lock = threading.Lock()
_failures = 0


def server(env: dict[str, str]) -> ForkServer:
    """This process's fork server, started on first use (again after it
    failed, and in a process forked from the one that started it); after
    ``MAX_FAILURES`` failures in a row, ``Unavailable`` (a server that
    cannot start, its imports broken, would cost a start per file)."""
    global _server
    if _failures >= MAX_FAILURES:
        raise Unavailable("the fork server failed too often")
    with _server_lock:
        if _server is None or not _server.usable():
            old = _server
            # a server another thread is using is closed by that thread
            if old is not None and old.owner == os.getpid() and \
                    old.lock.acquire(blocking=False):
                try:
                    old.close()
                finally:
                    old.lock.release()
            _server = ForkServer(env)
        return _server


def _forget_after_fork() -> None:
    """In a process forked from this one: the parent's server is not ours
    (our copy of its socket is closed, or it would never see its parent
    leave), and a lock another thread held at the fork is not held here."""
    global _server, _server_lock
    if _server is not None:
        _server.broken = True
        _server.sock.close()
    _server = None
    _server_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _end() -> None:
    if _server is not None and _server.owner == os.getpid() and not _server.broken:
        _server.close()


def main() -> int:
    sock = socket.socket(fileno=int(sys.argv[1]))
    preload()
    serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A private PostgreSQL server for the test suite: Debian's ``postgresql``
(installed by ``scripts/setup.sh test``), a fresh cluster in a temporary
folder, listening on 127.0.0.1 on a free port, trust authentication for the
one role it makes, durability off (a test server).  As root the cluster
runs as the ``postgres`` user (``initdb`` refuses root).

``python tests/pgserver.py`` starts one by hand and prints its URL.
"""

from __future__ import annotations

import glob
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

ROLE = "doclib"


def binaries() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (newest version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self) -> None:
        bindir = binaries()
        if bindir is None:
            raise RuntimeError("PostgreSQL's server programs are not installed (Debian: "
                               "apt-get install postgresql; scripts/setup.sh test does it)")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="doclib-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self._as: list[str] = []
        self._template: str | None = None
        self._stopped = False
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", ROLE, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "start")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bindir / program), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def _create(self, template: str = "template1") -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={ROLE} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def new_database(self) -> str:
        """A fresh database with doclib's schema at its newest revision
        (copied from a template migrated once: a migration costs 0.2 s, a
        copy 0.1, made ahead by a thread while the tests run); its URL."""
        if self._template is None:
            from doclib.store import Database

            self._template = self._create()
            db = Database(self.url(self._template))
            db.migrate()
            db.dispose()
            self._ready: queue.Queue[str] = queue.Queue(maxsize=4)
            threading.Thread(target=self._fill, daemon=True).start()
        return self.url(self._ready.get(timeout=120))

    def _fill(self) -> None:
        while not self._stopped:
            try:
                name = self._create(self._template or "template1")
            except Exception:  # noqa: BLE001 - the server is stopping
                return
            self._ready.put(name)

    def stop(self) -> None:
        self._stopped = True
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    server = Server()
    print(server.url(), "(folder", server.dir, "); stop with: pg_ctl -D", server.data, "stop",
          file=sys.stdout)

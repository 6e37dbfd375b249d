"""Shared fixtures: a fresh library per test on a temporary folder, a fake
deterministic embedder for unit tests, the real model for integration tests."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from doclib import config as config_mod
from doclib.library import Library
from doclib.text import lexical_terms

# the document fixtures travel with the repository (a copy of
# ../shared/fixtures/documents, see its README): a fresh clone tests alone
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "documents"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # pgserver
SAMPLE = REPO / "library" / "sample"


class FakeEmbedder:
    """Deterministic bag-of-stems embedder: texts sharing stems are close.

    Fast and stable; enough to exercise the whole pipeline without the model.
    """

    dim = 64

    def __init__(self, dim: int = 64, ident: str = "fake/1") -> None:
        self.dim = dim
        self.id = ident

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for term in lexical_terms(text) or ["<empty>"]:
            h = hashlib.sha256(term.encode()).digest()
            rng = np.random.default_rng(int.from_bytes(h[:8], "little"))
            v += rng.standard_normal(self.dim).astype(np.float32)
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.array([self._vec(t) for t in texts], np.float32).reshape(len(texts), self.dim)

    embed_queries = embed_passages


# --------------------------------------------------------- the database engine
# `pytest --database postgresql` runs the suite on a private PostgreSQL server
# (tests/pgserver.py): each library a test makes gets a database of its own
# (by data folder), and $DOCLIB_DATABASE_URL names a fresh one for each test,
# so a library configured by a file or in a subprocess uses PostgreSQL too.
# Tests of what only SQLite has (its file, its backup API) are marked
# ``sqlite_only``.  DOCLIB_REQUIRE_POSTGRES=1 (make test) makes a server that
# cannot start a failure, not a skip.
_PG: dict[str, object] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--database", choices=("sqlite", "postgresql"), default="sqlite",
                     help="the database engine the suite's libraries use")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): a test of what only SQLite has")
    if config.getoption("--database") == "postgresql":
        from pgserver import Server

        # a library a test does not close leaves its pooled connections to the
        # garbage collector, which psycopg reports (sqlite3 does not)
        config.addinivalue_line(
            "filterwarnings", "ignore:.*was deleted while still open:ResourceWarning")

        try:
            _PG["server"] = Server()
        except Exception as e:  # noqa: BLE001 - reported below
            if os.environ.get("DOCLIB_REQUIRE_POSTGRES") == "1":
                raise pytest.UsageError(f"PostgreSQL test server: {e}") from e
            _PG["error"] = str(e)


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _PG.pop("server", None)
    if server is not None:
        server.stop()  # type: ignore[attr-defined]


# modules that open no database: the PostgreSQL pass leaves them out (they
# ran in the SQLite pass; nothing in them changes with the engine)
NO_DATABASE = ("test_text.py", "test_chunk.py", "test_fork_server.py", "test_layers.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--database") != "postgresql":
        return
    kept = [item for item in items if item.path.name not in NO_DATABASE]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
    for item in items:
        if "error" in _PG:
            item.add_marker(pytest.mark.skip(reason=f"no PostgreSQL: {_PG['error']}"))
        elif (mark := item.get_closest_marker("sqlite_only")) is not None:
            item.add_marker(pytest.mark.skip(reason="SQLite only: " + (mark.args or ("",))[0]))


def on_postgres() -> bool:
    return "server" in _PG


def database_for(data_dir: Path) -> str | None:
    """The database of the library in ``data_dir`` (None: SQLite's default)."""
    server = _PG.get("server")
    if server is None:
        return None
    urls: dict[str, str] = _PG.setdefault("urls", {})  # type: ignore[assignment]
    key = str(Path(data_dir).resolve())
    if key not in urls:
        # the test's first library takes the test's database: a config file
        # the test writes for the same folder (no URL in it) opens it too
        urls[key] = _PG.pop("unclaimed", None) or server.new_database()  # type: ignore
    return urls[key]


@pytest.fixture(autouse=True)
def _database_per_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server = _PG.get("server")
    if server is not None:
        url = server.new_database()  # type: ignore[attr-defined]
        monkeypatch.setenv("DOCLIB_DATABASE_URL", url)
        _PG["unclaimed"] = url
    yield
    _PG.pop("unclaimed", None)


def library_url(sqlite_path: Path) -> str:
    """The database URL of a library configured without one, whose SQLite
    file would be ``sqlite_path`` (on PostgreSQL: the test's database)."""
    if on_postgres():
        return os.environ["DOCLIB_DATABASE_URL"]
    return "sqlite:///" + str(sqlite_path)


@contextmanager
def by_hand(url: str) -> Iterator[object]:
    """A transaction on a library's database through an engine of its own,
    as another program (or an operator in a SQL shell) would have."""
    from sqlalchemy import create_engine

    from doclib.store import engine_url

    engine = create_engine(engine_url(url))
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def make_config(tmp_path: Path, **overrides: object) -> config_mod.Config:
    # the second model (MiniLM, torch) is off in unit tests; its own tests and
    # the end-to-end ones (CLI, browser) run it
    storage: dict[str, str] = {"data_dir": str(tmp_path)}
    if (url := database_for(tmp_path)) is not None:
        storage["database_url"] = url
    cfg = config_mod.from_dict({"storage": storage, "embed": {"second_model": ""}}, tmp_path)
    return config_mod.with_overrides(cfg, overrides) if overrides else cfg


@pytest.fixture
def config(tmp_path: Path) -> config_mod.Config:
    return make_config(tmp_path)


@pytest.fixture
def lib(config: config_mod.Config):
    library = Library(config, embedder=FakeEmbedder())
    yield library
    library.close()


@pytest.fixture(scope="session")
def use_embedder():
    from doclib.config import EmbedConfig
    from doclib.embed import USEEmbedder

    return USEEmbedder(EmbedConfig())


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


# ------------------------------------------------------------------ web
ROLE_PASSWORDS = {"member": "member-pass-1", "curator": "curator-pass-1",
                  "admin": "admin-pass-1"}


def build_web(root: Path, embedder=None, **overrides: object):
    """A real app over a real library (the sample library ingested) with one
    account per role; ``overrides`` are dotted config keys."""
    from doclib import accounts
    from doclib.ingest import IngestOptions, ingest_paths
    from doclib.web import create_app

    cfg = make_config(root, **{"web.login_attempts": 5, **overrides})
    app = create_app(cfg, embedder=embedder or FakeEmbedder())
    lib = app.extensions["doclib"]
    reports = list(ingest_paths(lib, [str(SAMPLE)], IngestOptions()))
    assert all(r.status == "ready" for r in reports), reports
    with lib.db.begin() as conn:
        for role, pw in ROLE_PASSWORDS.items():
            accounts.add_user(conn, f"{role}@example.org", pw, role)
    app.testing = True
    return app


def csrf_of(html: str) -> str:
    import re

    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, role: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    r = client.post("/login", data={"email": f"{role}@example.org",
                                    "password": ROLE_PASSWORDS[role],
                                    "csrf_token": csrf_of(page), "next": "/"})
    assert r.status_code == 302, r.get_data(as_text=True)


def _close_web(app) -> None:
    app.extensions["doclib_jobs"].shutdown()
    app.extensions["doclib"].close()


@pytest.fixture(scope="module")
def web_app(tmp_path_factory):
    app = build_web(tmp_path_factory.mktemp("web"))
    yield app
    _close_web(app)


@pytest.fixture
def app(tmp_path):
    """A web app of its own for one test (which may change its library)."""
    application = build_web(tmp_path)
    yield application
    _close_web(application)


@pytest.fixture
def client_for(web_app):
    def make(role: str = "visitor"):
        c = web_app.test_client()
        if role != "visitor":
            login(c, role)
        return c

    return make


def doc_ids(app) -> dict[str, int]:
    """Sample documents by file name (those in the trash left out)."""
    from sqlalchemy import select

    from doclib import store

    lib = app.extensions["doclib"]
    with lib.db.connect() as conn:
        return {r.original_filename: r.id for r in conn.execute(
            select(store.documents.c.id, store.documents.c.original_filename)
            .where(store.documents.c.status != "deleted"))}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(env: dict[str, str]) -> Iterator[str]:
    """A real `doclib serve` (gunicorn) on 127.0.0.1 with ``env``'s config;
    yields its base URL once /health answers, stops it after."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "doclib", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("doclib serve did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def assert_unauthorized(r) -> None:
    """A 401 in the API's error shape, asking for a bearer token."""
    assert r.status_code == 401, (r.status_code, r.get_data(as_text=True)[:200])
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    data = r.get_json()
    assert set(data) == {"ok", "error", "status"}
    assert data["ok"] is False and data["status"] == 401 and data["error"]


@pytest.fixture
def cli_fake(tmp_path, monkeypatch):
    """``doclib`` through click's runner on a library in tmp_path/data, with
    the fake embedder and no second model."""
    from click.testing import CliRunner

    import doclib.embed
    from doclib.cli import main

    (tmp_path / "config.yaml").write_text(
        "storage:\n  data_dir: data\nembed:\n  second_model: ''\n", encoding="utf-8")
    monkeypatch.setenv("DOCLIB_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setattr(doclib.embed, "make_embedder", lambda cfg: FakeEmbedder())
    monkeypatch.setattr("doclib.library.make_embedder", lambda cfg: FakeEmbedder())
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)

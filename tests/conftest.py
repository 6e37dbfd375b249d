"""Shared fixtures: a fresh library per test on a temporary folder, a fake
deterministic embedder for unit tests, the real model for integration tests."""

from __future__ import annotations

import hashlib
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


def make_config(tmp_path: Path, **overrides: object) -> config_mod.Config:
    # the second model (MiniLM, torch) is off in unit tests; its own tests and
    # the end-to-end ones (CLI, browser) run it
    cfg = config_mod.from_dict({"storage": {"data_dir": str(tmp_path)},
                                "embed": {"second_model": ""}}, tmp_path)
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

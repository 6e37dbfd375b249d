"""FAISS against a NumPy brute-force oracle; manifest, atomic save, rebuild."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doclib.index.vector import EXACT, VectorIndex, fingerprint


def random_index(tmp_path, n=300, dim=32, seed=0, kind=EXACT):
    """An index of ``kind`` and its vectors: for ``flat16`` already rounded
    to half precision, so the oracle scores what the index stores."""
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    if kind == "flat16":
        vecs = vecs.astype(np.float16).astype(np.float32)
    ids = rng.choice(10_000, size=n, replace=False).astype(np.int64)
    docs = ids // 10
    vi = VectorIndex(tmp_path, dim, "test/1", kind=kind)
    vi.replace_all(ids, vecs, docs)
    return vi, ids, vecs, docs


def oracle(query, ids, vecs, allowed, k):
    mask = np.isin(ids, allowed)
    scores = vecs[mask] @ query
    order = np.argsort(-scores, kind="stable")[:k]
    return ids[mask][order], scores[order]


@pytest.mark.parametrize("kind", ["flat16", "flat"])
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.floats(0.0, 1.0), k=st.integers(1, 50))
def test_filtered_search_matches_numpy_oracle(tmp_path_factory, kind, seed, share, k):
    vi, ids, vecs, _ = random_index(tmp_path_factory.mktemp("vi"), seed=seed % 7, kind=kind)
    rng = np.random.default_rng(seed)
    allowed = ids[rng.random(len(ids)) < share]
    q = rng.standard_normal(vecs.shape[1]).astype(np.float32)
    q /= np.linalg.norm(q)
    scores, got = vi.search(q, k, allowed)
    want_ids, want_scores = oracle(q, ids, vecs, allowed, k)
    assert set(got.tolist()) <= set(allowed.tolist())
    assert len(got) == len(want_ids)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-5)
    # ties aside, the same ids in the same order
    assert got.tolist() == want_ids.tolist() or np.allclose(scores, want_scores)


def test_unfiltered_search_and_owners(tmp_path):
    vi, ids, vecs, docs = random_index(tmp_path)
    q = vecs[5]
    scores, got = vi.search(q, 3, None)
    assert got[0] == ids[5] and scores[0] == pytest.approx(float(q @ q), abs=1e-5)
    allowed = vi.allowed_chunks([docs[5]])
    assert ids[5] in allowed and set(allowed) <= set(ids[docs == docs[5]])


def test_remove_and_add(tmp_path):
    vi, ids, vecs, docs = random_index(tmp_path)
    vi.remove(ids[:10])
    assert len(vi) == len(ids) - 10
    _, got = vi.search(vecs[0], 5, None)
    assert ids[0] not in got
    vi.add(ids[:1], vecs[:1], int(docs[0]))
    _, got = vi.search(vecs[0], 1, None)
    assert got[0] == ids[0]
    assert ids[0] in vi.allowed_chunks([docs[0]])


def test_save_load_roundtrip_and_manifest(tmp_path):
    vi, ids, vecs, _ = random_index(tmp_path)
    vi.save()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["embedder_id"] == "test/1" and manifest["dim"] == 32
    assert manifest["schema_version"] == 1 and manifest["count"] == len(ids)
    fresh = VectorIndex(tmp_path, 32, "test/1")
    assert fresh.try_load(fingerprint(ids)) is None
    assert len(fresh) == len(ids)


@pytest.mark.parametrize("damage,reason", [
    (lambda p: p.joinpath("vectors.faiss").write_bytes(
        p.joinpath("vectors.faiss").read_bytes()[:1000]), "damaged"),
    (lambda p: p.joinpath("vectors.faiss").unlink(), "damaged or missing"),
    (lambda p: p.joinpath("manifest.json").write_text("{not json"), "unreadable"),
])
def test_damaged_index_fails_closed(tmp_path, damage, reason):
    vi, ids, _, _ = random_index(tmp_path)
    vi.save()
    damage(tmp_path)
    assert reason in VectorIndex(tmp_path, 32, "test/1").try_load(fingerprint(ids))


def test_mismatches_are_reported(tmp_path):
    vi, ids, _, _ = random_index(tmp_path)
    vi.save()
    assert "embedder_id" in VectorIndex(tmp_path, 32, "other/2").try_load(fingerprint(ids))
    assert "dim" in VectorIndex(tmp_path, 16, "test/1").try_load(fingerprint(ids))
    assert "database" in VectorIndex(tmp_path, 32, "test/1").try_load([1, 2, 3])


def test_crash_during_save_keeps_previous_index(tmp_path, monkeypatch):
    vi, ids, vecs, docs = random_index(tmp_path)
    vi.save()
    before = (tmp_path / "vectors.faiss").read_bytes()
    vi.remove(ids[:50])
    import faiss

    def boom(index, path):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", boom)
    with pytest.raises(OSError):
        vi.save()
    assert (tmp_path / "vectors.faiss").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".vectors")]
    monkeypatch.undo()
    assert VectorIndex(tmp_path, 32, "test/1").try_load(fingerprint(ids)) is None


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.floats(0.0, 1.0), k=st.integers(1, 30),
       nq=st.integers(1, 5))
def test_search_many_matches_one_query_at_a_time(tmp_path_factory, seed, share, k, nq):
    """Several queries in one pass (the echo's) give each query's own
    top-k, with an allow-list made once and reused."""
    from doclib.index.vector import Allowed

    vi, ids, vecs, _ = random_index(tmp_path_factory.mktemp("vi"), seed=seed % 7)
    rng = np.random.default_rng(seed)
    allowed = Allowed(ids[rng.random(len(ids)) < share])
    qs = rng.standard_normal((nq, vecs.shape[1])).astype(np.float32)
    many_scores, many_ids = vi.search_many(qs, k, allowed)
    for q, s, got in zip(qs, many_scores, many_ids, strict=True):
        want_ids, want_scores = oracle(q, ids, vecs, allowed.ids, k)
        assert sorted(got.tolist()) == sorted(want_ids.tolist())
        np.testing.assert_allclose(np.sort(s), np.sort(want_scores), rtol=1e-5, atol=1e-5)


def test_version_changes_with_every_change_of_contents(tmp_path):
    vi, ids, vecs, docs = random_index(tmp_path, n=20)
    seen = {vi.version}
    vi.add(np.array([20_001]), vecs[:1], 7)
    seen.add(vi.version)
    vi.remove([20_001])
    seen.add(vi.version)
    vi.replace_all(ids, vecs, docs)
    seen.add(vi.version)
    assert len(seen) == 4
    # a new index (a reload) never takes a version an allow-list was made at,
    # even where it gets the id() of a freed one
    other = VectorIndex(tmp_path, vecs.shape[1], "test/1")
    other.replace_all(ids, vecs, docs)
    assert other.version not in seen


def test_a_loaded_index_is_memory_mapped_and_copied_before_a_change(tmp_path):
    """A saved index loads memory-mapped (shared between processes); adding
    or removing then works on a copy (FAISS would abort the process if a
    mapped index were written to), and the saved file is unchanged until
    the next save."""
    vi, ids, vecs, docs = random_index(tmp_path, n=50)
    vi.save()
    other = VectorIndex(tmp_path, vecs.shape[1], "test/1")
    assert other.try_load(fingerprint(ids)) is None and other.mapped
    other.set_owners(ids, docs)
    q = vecs[3]
    assert other.search(q, 1, None)[1][0] == ids[3]
    other.add(np.array([99_999]), vecs[3:4] * 1.0, 999)
    assert not other.mapped and len(other) == 51
    # the copy holds every vector under its own chunk id
    for i, cid in enumerate(ids.tolist()):
        np.testing.assert_array_equal(other.vector(cid), vecs[i])
    other.remove([int(ids[3])])
    assert other.search(q, 1, None)[1][0] == 99_999
    again = VectorIndex(tmp_path, vecs.shape[1], "test/1")
    assert again.try_load(fingerprint(ids)) is None and len(again) == 50


def _hnsw(tmp_path, n=600, dim=32, seed=1, exact_max=50):
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(n, dtype=np.int64) * 3 + 5
    vi = VectorIndex(tmp_path, dim, "test/1", ef_search=64, exact_max=exact_max)
    vi.replace_all(ids, vecs, ids // 30, kind="hnsw")
    return vi, ids, vecs


def test_hnsw_plans_exact_for_few_allowed_and_approximate_for_many(tmp_path):
    """Few allowed chunks: exact over them (the oracle's answer); many: HNSW,
    whose top 10 stays close to the oracle's on this small index."""
    vi, ids, vecs = _hnsw(tmp_path)
    rng = np.random.default_rng(3)
    hits = total = 0
    for _trial in range(20):
        q = rng.standard_normal(vecs.shape[1]).astype(np.float32)
        few = ids[rng.random(len(ids)) < 0.05]  # ~30 allowed <= exact_max
        scores, got = vi.search(q, 10, few)
        want, want_scores = oracle(q, ids, vecs, few, 10)
        assert got.tolist() == want.tolist()
        np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-5)
        many = ids[rng.random(len(ids)) < 0.6]
        _s, got = vi.search(q, 10, many)
        assert np.isin(got, many).all()
        want, _ = oracle(q, ids, vecs, many, 10)
        hits += len(set(got.tolist()) & set(want.tolist()))
        total += 10
    assert hits / total >= 0.9


def test_hnsw_removal_leaves_dead_vectors_never_returned_and_saved(tmp_path):
    vi, ids, vecs = _hnsw(tmp_path)
    gone = ids[:100]
    vi.remove(gone)
    assert vi.dead == 100 and len(vi) == len(ids) - 100
    for i in range(5):
        _s, got = vi.search(vecs[i], 10, None)
        assert not np.isin(got, gone).any()
    assert vi.vector(int(gone[0])) is None
    vi.save()
    again = VectorIndex(tmp_path, vecs.shape[1], "test/1")
    assert again.try_load(fingerprint(ids[100:])) is None
    assert again.kind == "hnsw" and again.dead == 100 and len(again) == len(ids) - 100
    again.set_owners(ids[100:], ids[100:] // 30)
    _s, got = again.search(vecs[0], 10, None)
    assert not np.isin(got, gone).any()
    # adding to a loaded (memory-mapped) HNSW index works on a copy
    again.add(np.array([10**6]), vecs[:1], 999)
    assert again.search(vecs[0], 1, None)[1][0] == 10**6


def test_indexes_choose_the_kind_by_size_and_rebuild_when_outgrown(tmp_path):
    from conftest import FakeEmbedder
    from doclib.index.indexes import Indexes
    from doclib.store import Database

    idx = Indexes(Database(f"sqlite:///{tmp_path}/x.db"), tmp_path, FakeEmbedder,
                  ann_above=1000)
    assert idx.kind_for(999) == "flat16" and idx.kind_for(1000) == "hnsw"
    assert idx.kind_for(600, "hnsw") == "hnsw" and idx.kind_for(400, "hnsw") == "flat16"
    vi, ids, _ = _hnsw(tmp_path / "h")
    assert not idx._outgrown(vi)  # 600 chunks in HNSW: it stays down to 500
    idx.ann_above = 1300
    assert idx._outgrown(vi)  # ... down to 650 only
    idx.ann_above = 1000
    vi.remove(ids[:130])  # a quarter of the live ones dead (470 live)
    assert idx._outgrown(vi)


def test_a_saved_single_precision_index_loads_and_a_start_rebuilds_it_in_half(tmp_path):
    """An index saved before ``flat16`` (``flat``: 2 KB a vector) is still
    read as it is; a service starting (``Indexes.open``) makes it ``flat16``
    (1 KB a vector) from the stored embeddings, and finds the same."""
    from sqlalchemy import select

    from conftest import FakeEmbedder, make_config
    from doclib import store
    from doclib.ingest import IngestOptions, ingest_file
    from doclib.library import Library

    lib = Library(make_config(tmp_path), embedder=FakeEmbedder())
    try:
        for i, words in enumerate(("schools mentoring pupils", "mothers online recruitment")):
            path = tmp_path / f"{i}.txt"
            path.write_text(f"{words} in the city programme. " * 40, encoding="utf-8")
            assert ingest_file(lib, path, IngestOptions(access="public")).status == "ready"
        with lib.db.connect() as conn:
            ids, docs, vecs = lib.index.stored_vectors()
            n = conn.execute(select(store.chunks.c.id)).all().__len__()
        old = VectorIndex(lib.index.dir, vecs.shape[1], lib.embedder.id, kind="flat")
        old.replace_all(ids, vecs, docs)
        old.save()
        size = (lib.index.dir / "vectors.faiss").stat().st_size
        lib.index.drop()
        assert lib.index.vectors.kind == "flat" and len(lib.index.vectors) == n
        def top_document():  # the document of the passage nearest the first one
            hit = int(lib.index.vectors.search(vecs[0], 1, None)[1][0])
            return lib.index.vectors.owners([hit])[hit]

        assert top_document() == docs[0]
        lib.index.open()
        assert lib.index.vectors.kind == "flat16"
        assert (lib.index.dir / "vectors.faiss").stat().st_size < size * 0.6
        lib.index.drop()
        assert lib.index.vectors.kind == "flat16"  # as saved
        assert top_document() == docs[0]
    finally:
        lib.close()

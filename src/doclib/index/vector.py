"""The dense index: FAISS IndexIDMap2 over an exact inner-product scan
(``flat16``: vectors kept in half precision, 1 KB each at 512-d, scanned
40% faster than ``flat``'s single precision, with 0.998 of the same top
ten at 100k) or, for large libraries, an approximate one (``hnsw``:
HNSW32), ids = chunk ids, with a manifest, atomic saves and rebuild from
the database.  A saved ``flat`` index (made before ``flat16``) still loads;
``Indexes.open`` rebuilds it as ``flat16``.

HNSW cannot remove a vector: a removed chunk's vector stays in the graph,
listed in the manifest as dead, and is never returned (a search always
runs with an allow-list of live chunks); ``Indexes.open`` rebuilds the
index when too many are dead.  A filtered HNSW search loses recall when
few chunks are allowed, so the plan follows the caller's allow-list:
exact (the allowed vectors gathered and scored) up to ``exact_max`` of
them, HNSW above, with a search breadth that grows as the allowed share
shrinks.

The database is the source of truth (every chunk row carries its embedding);
the FAISS file is a cache of it.  On load the manifest (schema version,
embedder id, dimension, an id fingerprint) is compared with the file and the
database; any mismatch or a damaged file means a rebuild, never a silently
wrong index.  Searches take an allow-list of chunk ids as an
``IDSelectorBitmap`` so the access filter runs inside FAISS, before top-k.
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..store import atomic_write, private_dir

SCHEMA_VERSION = 1
INDEX_TYPES = {"hnsw": "IndexIDMap2(IndexHNSWFlat)", "flat": "IndexIDMap2(IndexFlatIP)",
               "flat16": "IndexIDMap2(IndexScalarQuantizer fp16)"}
INDEX_FILE = "vectors.faiss"
MANIFEST_FILE = "manifest.json"


def fingerprint(ids: np.ndarray) -> list[int]:
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size == 0:
        return [0, 0, 0]
    return [int(ids.size), int(ids.max()), int(ids.sum() % (1 << 62))]


class Allowed:
    """An allow-list of chunk ids with the bitmap FAISS reads, made once
    (a visible set's list is reused by every search while it holds)."""

    def __init__(self, ids: np.ndarray | list[int]) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.size = int(self.ids.size)
        self._bitmap: np.ndarray | None = None
        self._positions: tuple[Any, np.ndarray] | None = None

    def positions(self, by_position: np.ndarray, key: Any) -> np.ndarray:
        """The bitmap of these chunks' positions in an index's storage
        (``by_position``: its chunk ids in storage order), made once per
        ``key`` (the index and its version)."""
        if self._positions is None or self._positions[0] != key:
            bits = np.isin(by_position, self.ids)
            self._positions = (key, np.packbits(bits, bitorder="little"))
        return self._positions[1]

    def bitmap(self) -> np.ndarray:
        if self._bitmap is None:
            bits = np.zeros(int(self.ids.max()) + 1 if self.size else 1, dtype=bool)
            bits[self.ids] = True
            self._bitmap = np.packbits(bits, bitorder="little")
        return self._bitmap


KINDS = ("flat16", "flat", "hnsw")
EXACT = "flat16"  # the exact kind new indexes are made of
_VERSIONS = itertools.count(1)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40


class VectorIndex:
    """In-memory FAISS index plus its on-disk copy in ``index_dir``.
    ``kind`` is the index made by ``replace_all`` (a loaded one keeps its
    own); ``ef_search`` and ``exact_max``: the HNSW plan (module docstring)."""

    def __init__(self, index_dir: Path, dim: int, embedder_id: str, kind: str = EXACT,
                 ef_search: int = 128, exact_max: int = 20000) -> None:
        import faiss

        if kind not in KINDS:
            raise ValueError(f"vector index kind must be one of {', '.join(KINDS)}")
        self._faiss = faiss
        self.dir = Path(index_dir)
        self.dim = dim
        self.embedder_id = embedder_id
        self.kind = kind
        self.ef_search = ef_search
        self.exact_max = exact_max
        # removed from an HNSW index: still in its graph, never returned
        self._dead = np.zeros(0, np.int64)
        # an HNSW index's chunk ids by position in its storage (made when needed)
        self._positions: np.ndarray | None = None
        self.index = self._empty(kind)
        self.loaded_stamp: float | None = None
        self._lock = threading.RLock()
        # chunk id -> document id, kept beside the index to turn a visible
        # document set into allowed chunk ids without a database round trip
        self._owner_ids = np.zeros(0, np.int64)
        self._owner_docs = np.zeros(0, np.int64)
        # new at every change of contents, and never the same in two
        # indexes of one process (a new index may get a freed one's id()):
        # an allow-list made at one version is only reused at that version
        self.version = next(_VERSIONS)
        # loaded memory-mapped from the saved file (read-only, its pages
        # shared by every process that maps it): copied before a change
        self.mapped = False

    def _empty(self, kind: str) -> Any:
        faiss = self._faiss
        if kind == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            return faiss.IndexIDMap2(inner)
        if kind == "flat16":
            return faiss.IndexIDMap2(faiss.IndexScalarQuantizer(
                self.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT))
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def dead(self) -> int:
        """Vectors of removed chunks still in the index (HNSW)."""
        return int(self._dead.size)

    def _owned(self) -> None:
        """Make the index an in-memory copy before it changes: FAISS aborts
        the process (an assertion, not an exception) when a memory-mapped
        index is written to."""
        if self.mapped:
            faiss = self._faiss
            if self.kind != "hnsw":  # its vectors copied: 0.2 s at 100k, not 1.3
                inner = self.index.index
                copy = self._empty(self.kind)
                if inner.ntotal:
                    copy.add_with_ids(inner.reconstruct_n(0, inner.ntotal),
                                      faiss.vector_to_array(self.index.id_map))
                self.index = copy
            else:
                self.index = faiss.deserialize_index(faiss.serialize_index(self.index))
            self.mapped = False

    def set_owners(self, chunk_ids: np.ndarray, doc_ids: np.ndarray) -> None:
        with self._lock:
            self._owner_ids = np.asarray(chunk_ids, np.int64)
            self._owner_docs = np.asarray(doc_ids, np.int64)
            self.version = next(_VERSIONS)
            self._positions = None

    def allowed_chunks(self, doc_ids: np.ndarray | list[int]) -> np.ndarray:
        """Chunk ids in the index that belong to the given documents."""
        with self._lock:
            mask = np.isin(self._owner_docs, np.asarray(doc_ids, np.int64))
            return self._owner_ids[mask]

    # ------------------------------------------------------------ contents
    def ids(self) -> np.ndarray:
        """The live chunk ids in the index."""
        ids = self._faiss.vector_to_array(self.index.id_map).astype(np.int64)
        return ids[~np.isin(ids, self._dead)] if self._dead.size else ids

    def vector(self, chunk_id: int) -> np.ndarray | None:
        """The stored vector of one chunk (None if it is not in the index)."""
        with self._lock:
            if self._dead.size and np.isin(int(chunk_id), self._dead):
                return None
            try:
                return np.asarray(self.index.reconstruct(int(chunk_id)), np.float32)
            except RuntimeError:
                return None

    def owners(self, chunk_ids: np.ndarray | list[int]) -> dict[int, int]:
        """chunk id -> document id for chunks in the index."""
        with self._lock:
            mask = np.isin(self._owner_ids, np.asarray(chunk_ids, np.int64))
            return dict(zip(self._owner_ids[mask].tolist(), self._owner_docs[mask].tolist(),
                            strict=True))

    def __len__(self) -> int:
        return int(self.index.ntotal) - int(self._dead.size)

    def replace_all(self, ids: np.ndarray, vectors: np.ndarray, doc_ids: np.ndarray,
                    kind: str | None = None) -> None:
        """Make the index anew (of ``kind``, else this index's)."""
        with self._lock:
            self.set_owners(ids, doc_ids)
            if kind is not None:
                self.kind = kind
            fresh = self._empty(self.kind)
            self._dead = np.zeros(0, np.int64)
            if len(ids):
                fresh.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                   np.asarray(ids, dtype=np.int64))
            self.index = fresh
            self.mapped = False

    def add(self, ids: np.ndarray, vectors: np.ndarray, doc_id: int) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._owned()
            self._owner_ids = np.concatenate([self._owner_ids, np.asarray(ids, np.int64)])
            self._owner_docs = np.concatenate([self._owner_docs,
                                               np.full(len(ids), doc_id, np.int64)])
            self.version = next(_VERSIONS)
            self._positions = None
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int] | np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            gone = np.asarray(ids, np.int64)
            keep = ~np.isin(self._owner_ids, gone)
            if self.kind == "hnsw":  # the graph keeps them; they are never returned
                present = self._faiss.vector_to_array(self.index.id_map).astype(np.int64)
                self._dead = np.union1d(self._dead, gone[np.isin(gone, present)])
            else:
                self._owned()
                self.index.remove_ids(self._faiss.IDSelectorBatch(gone))
            self._owner_ids, self._owner_docs = self._owner_ids[keep], self._owner_docs[keep]
            self.version = next(_VERSIONS)
            self._positions = None

    # -------------------------------------------------------------- search
    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | Allowed | None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, chunk ids) among ``allowed`` chunk ids (None = all)."""
        d, i = self.search_many(query.reshape(1, -1), k, allowed)
        return d[0], i[0]

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | Allowed | None
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Top-k (scores, chunk ids) of each query (a row of ``queries``)
        among ``allowed`` chunk ids (None = all), in one pass over the
        index."""
        faiss = self._faiss
        q = np.ascontiguousarray(queries, dtype=np.float32)
        empty = ([np.zeros(0, np.float32)] * len(q), [np.zeros(0, np.int64)] * len(q))
        with self._lock:
            n = len(self)
            if n == 0 or k <= 0 or len(q) == 0:
                return empty
            if allowed is None and self._dead.size:
                allowed = Allowed(self._owner_ids)  # never a dead vector
            if allowed is None:
                params = None
                if self.kind == "hnsw":
                    params = faiss.SearchParametersHNSW()
                    params.efSearch = max(self.ef_search, k)
                d, i = self.index.search(q, min(k, n), params=params)
            else:
                if not isinstance(allowed, Allowed):
                    allowed = Allowed(allowed)
                if allowed.size == 0:
                    return empty
                if self.kind == "hnsw" and allowed.size <= self.exact_max:
                    return self._exact(q, k, allowed)
                bitmap = allowed.bitmap()
                # n is the size of the bitmap in BYTES; ids past it are not members
                sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
                if self.kind == "hnsw":
                    # fewer allowed: a wider search finds as many of them
                    share = allowed.size / max(n, 1)
                    params = faiss.SearchParametersHNSW()
                    params.efSearch = int(min(4096, max(self.ef_search, k,
                                                        self.ef_search * 0.5 / share)))
                    params.sel = sel
                else:
                    params = faiss.SearchParameters(sel=sel)
                d, i = self.index.search(q, min(k, n, allowed.size), params=params)
        keep = i >= 0
        return [d[r][keep[r]] for r in range(len(q))], [i[r][keep[r]] for r in range(len(q))]

    def _exact(self, q: np.ndarray, k: int, allowed: Allowed
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Exact top-k among a few allowed vectors: the HNSW index's own
        flat storage searched with a bitmap of their positions in it (the
        filtered scan of a flat index costs in proportion to the allowed)."""
        faiss = self._faiss
        if self._positions is None:  # position in the storage -> chunk id
            self._positions = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        bitmap = allowed.positions(self._positions, (id(self), self.version))
        storage = faiss.downcast_index(self.index.index).storage
        sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        d, i = storage.search(q, min(k, allowed.size), params=faiss.SearchParameters(sel=sel))
        keep = i >= 0
        return ([d[r][keep[r]] for r in range(len(q))],
                [self._positions[i[r][keep[r]]] for r in range(len(q))])

    # ---------------------------------------------------------- persistence
    @property
    def index_path(self) -> Path:
        return self.dir / INDEX_FILE

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST_FILE

    def manifest(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "embedder_id": self.embedder_id,
            "dim": self.dim,
            "count": len(self),
            "fingerprint": fingerprint(self.ids()),
            "index_type": INDEX_TYPES[self.kind],
            "kind": self.kind,
            "dead": self._dead.tolist(),
        }

    def save_size(self, adding: int = 0) -> int:
        """About the size of the file a save writes, in bytes, now or once
        ``adding`` more vectors are in (a little over: each vector with its
        id, an HNSW graph's links, a header)."""
        per = self.dim * (2 if self.kind == "flat16" else 4) + 8 + (
            (2 * HNSW_M + 2) * 4 + 8 if self.kind == "hnsw" else 0)
        total = (int(self.index.ntotal) + adding) * per
        return total + total // 100 + (64 << 10)

    def save(self) -> None:
        private_dir(self.dir)
        with self._lock:
            manifest = self.manifest()
            atomic_write(self.index_path,
                          lambda p: self._faiss.write_index(self.index, p))
        atomic_write(self.manifest_path, lambda p: Path(p).write_text(
            json.dumps(manifest, indent=2), encoding="utf-8"))
        self.loaded_stamp = self.stamp()

    def stamp(self) -> float | None:
        try:
            return self.manifest_path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def try_load(self, expected_fingerprint: list[int]) -> str | None:
        """Load the saved index if it is whole and matches; else say why not."""
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return "no saved index"
        except (OSError, ValueError):
            return "manifest unreadable"
        for key, want in (("schema_version", SCHEMA_VERSION), ("embedder_id", self.embedder_id),
                          ("dim", self.dim)):
            if manifest.get(key) != want:
                return f"manifest {key} is {manifest.get(key)!r}, expected {want!r}"
        stamp = self.stamp()
        try:
            # memory-mapped: loaded at once whatever its size, and the
            # processes of one service share its pages (a rename by the
            # next save leaves this mapping on the old file)
            index = self._faiss.read_index(str(self.index_path), self._faiss.IO_FLAG_MMAP_IFC)
        except Exception:
            return "index file damaged or missing"
        if index.d != self.dim or not isinstance(index, self._faiss.IndexIDMap2):
            return "index type or dimension mismatch"
        inner = self._faiss.downcast_index(index.index)
        kind = "hnsw" if isinstance(inner, self._faiss.IndexHNSW) else \
            "flat16" if isinstance(inner, self._faiss.IndexScalarQuantizer) else "flat"
        dead = np.asarray(manifest.get("dead") or [], np.int64)
        ids = self._faiss.vector_to_array(index.id_map).astype(np.int64)
        if dead.size:
            ids = ids[~np.isin(ids, dead)]
        fp = fingerprint(ids)
        if fp != manifest.get("fingerprint") or index.ntotal - dead.size != manifest.get("count") \
                or kind != manifest.get("kind", "flat"):
            return "index file does not match its manifest"
        if fp != expected_fingerprint:
            return "index does not match the database"
        with self._lock:
            self.index = index
            self.kind = kind
            self._dead = dead
            self.mapped = True
            self.version = next(_VERSIONS)
            self._positions = None
        self.loaded_stamp = stamp
        return None

"""The dense index: FAISS IndexIDMap2 over an exact inner-product index,
ids = chunk ids, with a manifest, atomic saves and rebuild from the database.

The database is the source of truth (every chunk row carries its embedding);
the FAISS file is a cache of it.  On load the manifest (schema version,
embedder id, dimension, an id fingerprint) is compared with the file and the
database; any mismatch or a damaged file means a rebuild, never a silently
wrong index.  Searches take an allow-list of chunk ids as an
``IDSelectorBitmap`` so the access filter runs inside FAISS, before top-k.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..store import atomic_write, private_dir

SCHEMA_VERSION = 1
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

    def bitmap(self) -> np.ndarray:
        if self._bitmap is None:
            bits = np.zeros(int(self.ids.max()) + 1 if self.size else 1, dtype=bool)
            bits[self.ids] = True
            self._bitmap = np.packbits(bits, bitorder="little")
        return self._bitmap


class VectorIndex:
    """In-memory FAISS index plus its on-disk copy in ``index_dir``."""

    def __init__(self, index_dir: Path, dim: int, embedder_id: str) -> None:
        import faiss

        self._faiss = faiss
        self.dir = Path(index_dir)
        self.dim = dim
        self.embedder_id = embedder_id
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.loaded_stamp: float | None = None
        self._lock = threading.RLock()
        # chunk id -> document id, kept beside the index to turn a visible
        # document set into allowed chunk ids without a database round trip
        self._owner_ids = np.zeros(0, np.int64)
        self._owner_docs = np.zeros(0, np.int64)
        # bumped by every change of contents: an allow-list made at one
        # version is only reused at that version
        self.version = 0
        # loaded memory-mapped from the saved file (read-only, its pages
        # shared by every process that maps it): copied before a change
        self.mapped = False

    def _owned(self) -> None:
        """Make the index an in-memory copy before it changes: FAISS aborts
        the process (an assertion, not an exception) when a memory-mapped
        index is written to."""
        if self.mapped:
            faiss = self._faiss
            self.index = faiss.deserialize_index(faiss.serialize_index(self.index))
            self.mapped = False

    def set_owners(self, chunk_ids: np.ndarray, doc_ids: np.ndarray) -> None:
        with self._lock:
            self._owner_ids = np.asarray(chunk_ids, np.int64)
            self._owner_docs = np.asarray(doc_ids, np.int64)
            self.version += 1

    def allowed_chunks(self, doc_ids: np.ndarray | list[int]) -> np.ndarray:
        """Chunk ids in the index that belong to the given documents."""
        with self._lock:
            mask = np.isin(self._owner_docs, np.asarray(doc_ids, np.int64))
            return self._owner_ids[mask]

    # ------------------------------------------------------------ contents
    def ids(self) -> np.ndarray:
        return self._faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def vector(self, chunk_id: int) -> np.ndarray | None:
        """The stored vector of one chunk (None if it is not in the index)."""
        with self._lock:
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
        return int(self.index.ntotal)

    def replace_all(self, ids: np.ndarray, vectors: np.ndarray, doc_ids: np.ndarray) -> None:
        with self._lock:
            self.set_owners(ids, doc_ids)
            fresh = self._faiss.IndexIDMap2(self._faiss.IndexFlatIP(self.dim))
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
            self.version += 1
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int] | np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._owned()
            keep = ~np.isin(self._owner_ids, np.asarray(ids, np.int64))
            self._owner_ids, self._owner_docs = self._owner_ids[keep], self._owner_docs[keep]
            self.version += 1
            sel = self._faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))
            self.index.remove_ids(sel)

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
            n = int(self.index.ntotal)
            if n == 0 or k <= 0 or len(q) == 0:
                return empty
            if allowed is None:
                d, i = self.index.search(q, min(k, n))
            else:
                if not isinstance(allowed, Allowed):
                    allowed = Allowed(allowed)
                if allowed.size == 0:
                    return empty
                bitmap = allowed.bitmap()
                # n is the size of the bitmap in BYTES; ids past it are not members
                sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
                params = faiss.SearchParameters(sel=sel)
                d, i = self.index.search(q, min(k, n, allowed.size), params=params)
        keep = i >= 0
        return [d[r][keep[r]] for r in range(len(q))], [i[r][keep[r]] for r in range(len(q))]

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
            "index_type": "IndexIDMap2(IndexFlatIP)",
        }

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
        ids = self._faiss.vector_to_array(index.id_map).astype(np.int64)
        fp = fingerprint(ids)
        if fp != manifest.get("fingerprint") or index.ntotal != manifest.get("count"):
            return "index file does not match its manifest"
        if fp != expected_fingerprint:
            return "index does not match the database"
        with self._lock:
            self.index = index
            self.mapped = True
            self.version += 1
        self.loaded_stamp = stamp
        return None

"""A library's two indexes: the vector index's life and the single writer.

The database is the source of truth (every chunk row carries its text and
its embedding); the FAISS file is a cache of it.  This room owns:

- the vector index's life: load, reload when another process saved,
  rebuild from the database, the fingerprint that ties the file to the
  database, and the embedder check (a library embedded with one model is
  never searched with vectors of another);
- reads never write: ``vectors`` loads the saved index, or builds one in
  memory from the database when the saved one is missing, damaged or does
  not match; only ``open`` (a service starting, ``doclib check``) and the
  writer save it;
- the single writer (``write_lock``, across processes) and its API
  (``writing``: ``replace_document``, ``remove_documents``,
  ``remove_chunks``; ``reindex``): the chunk rows, both indexes and the
  FAISS file change together, the file saved before the transaction
  commits; if anything fails the rows roll back and the saved index stays;
- batches (``batch``: many documents ingested at once): the writers of a
  batch change the index in memory and save it at most every
  ``BATCH_SAVE_EVERY`` seconds and at the end, not once per document (at
  100k passages each save writes 200 MB).  The rows commit meanwhile, so
  the saved file may lag the database for that long; it never lies: its
  fingerprint then differs from the database's, and whoever loads it
  builds the index from the database instead (a crash mid-batch loses
  nothing), while a process that loaded it before applies the committed
  changes at its next use (``_catch_up``, when the documents' generation
  moved).
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from .. import audience, store
from ..embed import Embedder, files_digest
from ..errors import IndexStale, storage_error
from ..store import Database
from ..text import LEXICAL_VERSION
from . import lexical
from .vector import EXACT, VectorIndex, fingerprint

# the hashes of the embedder's model files, by path, size and times (embed.files_digest)
DIGEST_CACHE = "model-digests.json"
# inside a batch, the vector index is saved at most this often (seconds)
BATCH_SAVE_EVERY = 30.0


def set_meta(conn: Connection, values: dict[str, str]) -> None:
    for key, value in values.items():
        conn.execute(store.meta.delete().where(store.meta.c.key == key))
        conn.execute(store.meta.insert().values(key=key, value=value))


def chunk_ids(conn: Connection, doc_id: int) -> list[int]:
    """The ids of a document's chunks."""
    return [r[0] for r in conn.execute(select(store.chunks.c.id)
                                       .where(store.chunks.c.document_id == doc_id))]


# the advisory lock of the one writer on PostgreSQL (a fixed number of doclib's)
WRITER_LOCK = 0x646F636C69620000


class Indexes:
    """The lexical and vector indexes of one library (``db``; the FAISS
    file in ``index_dir``), for vectors of ``embedder()`` (made on first use)."""

    def __init__(self, db: Database, index_dir: Path, embedder: Callable[[], Embedder],
                 ann_above: int = 0, ef_search: int = 128, exact_max: int = 20000) -> None:
        self.db = db
        # the approximate (HNSW) index from this many chunks on (0: never)
        self.ann_above = ann_above
        self.ef_search = ef_search
        self.exact_max = exact_max
        self.dir = Path(index_dir)
        self._embedder = embedder
        self._vectors: VectorIndex | None = None
        self._digest: str | None = None
        self._lock = threading.RLock()
        self._write_mutex = threading.RLock()
        self._write_depth = 0
        # inside ``batch``: how deep, when the index was last saved, and
        # whether the in-memory index holds changes the file does not
        self._batch_depth = 0
        self._saved_at = 0.0
        self._save_every = BATCH_SAVE_EVERY
        self._unsaved = False
        # the documents' generation the loaded index was last checked at
        self._seen_generation: str | None = None

    # ------------------------------------------------------------ embedder
    @property
    def embedder_digest(self) -> str:
        """The digest of the files that determine the embedder's vectors
        (its ``model_files``; '' when it names none), computed once per
        process; the files' hashes are cached in the index folder, so an
        unchanged model is not read again."""
        if self._digest is None:
            with self._lock:
                if self._digest is None:
                    files = getattr(self._embedder(), "model_files", None)
                    try:
                        self._digest = files_digest(files(), self.dir / DIGEST_CACHE) \
                            if files else ""
                    except OSError:  # unreadable: the model could not be loaded either
                        self._digest = ""
        return self._digest

    def _stored_meta(self) -> dict[str, str]:
        with self.db.connect() as conn:
            return dict(conn.execute(select(store.meta.c.key, store.meta.c.value)).all())

    def record_embedder(self, conn: Connection) -> None:
        """Note in ``meta`` the model the stored vectors are of."""
        e = self._embedder()
        set_meta(conn, {"embedder_id": e.id, "embedding_dim": str(e.dim)})
        # no digest (an embedder that names no files): none of another model stays
        conn.execute(store.meta.delete().where(store.meta.c.key == "embedder_digest"))
        if self.embedder_digest:
            set_meta(conn, {"embedder_digest": self.embedder_digest})

    def check_embedder(self, record: bool = True) -> None:
        """Refuse to mix vectors of two models (clear error naming the fix):
        another dimension, another id, or the same id whose model files
        changed (other weights or pooling at the same path).  A library from
        before the files' digest was kept gets it recorded here (``record``;
        never on a read)."""
        rows = self._stored_meta()
        stored_id, dim = rows.get("embedder_id"), rows.get("embedding_dim")
        stored_dim = int(dim) if dim else None
        if stored_id is None or not self.has_chunks():
            return
        e = self._embedder()
        if stored_dim != e.dim:
            raise IndexStale(
                f"the library was embedded with {stored_id} (dimension {stored_dim}) but the "
                f"configured embedder {e.id} has dimension {e.dim}; run `doclib reindex` to "
                "re-embed every document")
        if stored_id != e.id:
            raise IndexStale(
                f"the library was embedded with {stored_id} but the configured embedder is "
                f"{e.id}; run `doclib reindex` to re-embed every document")
        digest, stored_digest = self.embedder_digest, rows.get("embedder_digest")
        if digest and stored_digest and digest != stored_digest:
            raise IndexStale(
                f"the library was embedded with {stored_id} (model files {stored_digest[:12]}) "
                f"but the files of the configured {e.id} have changed (now {digest[:12]}: "
                "other weights or configuration, such as the pooling, under the same name); "
                "run `doclib reindex` to re-embed every document")
        if digest and not stored_digest and record:  # a library from before the digest
            with self.db.begin() as conn:
                set_meta(conn, {"embedder_digest": digest})

    def has_chunks(self) -> bool:
        with self.db.connect() as conn:
            return conn.execute(select(store.chunks.c.id).limit(1)).first() is not None

    # -------------------------------------------------------- the vectors
    def db_fingerprint(self) -> list[int]:
        with self.db.connect() as conn:
            n, mx, sm = conn.execute(select(func.count(store.chunks.c.id),
                                            func.max(store.chunks.c.id),
                                            func.sum(store.chunks.c.id))).one()
        if not n:
            return [0, 0, 0]
        return [int(n), int(mx), int(sm) % (1 << 62)]

    def _new_index(self) -> VectorIndex:
        e = self._embedder()
        return VectorIndex(self.dir, e.dim, e.id, ef_search=self.ef_search,
                           exact_max=self.exact_max)

    def kind_for(self, chunks: int, current: str | None = None) -> str:
        """The index kind for a library of ``chunks``: HNSW from ``ann_above``
        on; one already HNSW stays so down to half of it (no flip-flop)."""
        if not self.ann_above:
            return EXACT
        floor = self.ann_above // 2 if current == "hnsw" else self.ann_above
        return "hnsw" if chunks >= floor else EXACT

    def _outgrown(self, vi: VectorIndex) -> bool:
        """Whether the loaded index should be rebuilt: its kind no longer
        suits the library's size, or a quarter of its vectors are dead."""
        return vi.kind != self.kind_for(len(vi), vi.kind) or vi.dead > len(vi) // 4

    @property
    def vectors(self) -> VectorIndex:
        """The dense index for reading: loaded, reloaded after another
        process saved, or (when the saved one is missing, damaged or does
        not match the database) built in memory from the stored
        embeddings.  Never writes a file."""
        with self._lock:
            if self._vectors is None:
                self.check_embedder(record=False)
                self._vectors = self._new_index()
                self._load()
            elif self._vectors.stamp() != self._vectors.loaded_stamp:
                self._load()
            else:
                self._catch_up()
            return self._vectors

    def _generation(self) -> str | None:
        with self.db.connect() as conn:
            return audience.generation(conn)

    def _catch_up(self) -> None:
        """Bring the loaded index up to the database's committed chunks when
        the file did not change but the documents did (a batch commits
        before it saves, and may die before it does): checked when the
        documents' generation moved, by the fingerprint; the chunks added
        or removed since are applied from the stored embeddings."""
        assert self._vectors is not None
        gen = self._generation()
        if gen is None or gen == self._seen_generation:
            return
        vi = self._vectors
        held = vi.ids()
        if self.db_fingerprint() != fingerprint(held):
            with self.db.connect() as conn:
                now = np.fromiter(conn.execute(select(store.chunks.c.id)).scalars(), np.int64)
            vi.remove(held[~np.isin(held, now)])
            ids, docs, vecs = self.stored_vectors(now[~np.isin(now, held)].tolist())
            for doc in np.unique(docs):
                mine = docs == doc
                vi.add(ids[mine], vecs[mine], int(doc))
        self._seen_generation = gen

    def _load(self) -> bool:
        """Load the saved index, or fill it from the database (in memory:
        the saved file stays until a writer or ``open`` saves); whether the
        saved one was whole and matched."""
        assert self._vectors is not None
        stamp = self._vectors.stamp()
        # a change committed from here on is caught up by the next use
        self._seen_generation = self._generation()
        if self._vectors.try_load(self.db_fingerprint()) is None:
            self._vectors.set_owners(*self.chunk_owners())
            return True
        ids, docs, vecs = self.stored_vectors()
        self._vectors.replace_all(ids, vecs, docs, kind=self.kind_for(len(ids)))
        # until another process saves, this copy is the one to read
        self._vectors.loaded_stamp = stamp
        return False

    def open(self) -> None:
        """Make the saved index whole: load it, or rebuild it from the
        database and save it (a service starting, ``doclib check``)."""
        with self._lock:
            self.check_embedder()
            self._vectors = self._new_index()
            if not self._load():
                with self.write_lock():
                    self._vectors.save()
            elif self._outgrown(self._vectors):
                self.rebuild()

    def drop(self) -> None:
        """Forget the in-memory index; the next use reloads or rebuilds it."""
        with self._lock:
            self._vectors = None

    def rebuild(self) -> None:
        """Rebuild the FAISS index from the embeddings stored in the
        database and save it."""
        with self._lock:
            if self._vectors is None:
                self._vectors = self._new_index()
            ids, docs, vecs = self.stored_vectors()
            self._vectors.replace_all(ids, vecs, docs, kind=self.kind_for(len(ids)))
            with self.write_lock():
                self._vectors.save()

    def chunk_owners(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, document ids) from the database, ordered by chunk id."""
        with self.db.connect() as conn:
            rows = conn.execute(select(store.chunks.c.id, store.chunks.c.document_id)
                                .order_by(store.chunks.c.id)).all()
        return (np.asarray([r[0] for r in rows], np.int64),
                np.asarray([r[1] for r in rows], np.int64))

    def stored_vectors(self, only: Sequence[int] | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chunk ids, document ids, embeddings) as stored in the database
        (of the chunks ``only``, if given)."""
        dim = self._embedder().dim
        ids: list[int] = []
        docs: list[int] = []
        blobs: list[bytes] = []
        c = store.chunks
        query = select(c.c.id, c.c.document_id, c.c.embedding).order_by(c.c.id)
        batches = [query] if only is None else [
            query.where(c.c.id.in_([int(i) for i in only[k:k + 500]]))
            for k in range(0, len(only), 500)]
        with self.db.connect() as conn:
            for cid, did, blob in (row for q in batches for row in conn.execute(q)):
                if len(blob) != dim * 4:
                    raise IndexStale(f"chunk {cid} has an embedding of dimension "
                                     f"{len(blob) // 4}, expected {dim}; run `doclib reindex`")
                ids.append(cid)
                docs.append(did)
                blobs.append(blob)
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
        vecs = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dim)
        return np.asarray(ids, np.int64), np.asarray(docs, np.int64), vecs

    # ------------------------------------------------------------ lexical
    def ensure_lexical_version(self) -> None:
        """Rebuild the lexical index when its terms were made by another
        version of ``text.lexical_terms``."""
        with self.db.connect() as conn:
            stored = conn.execute(select(store.meta.c.value).where(
                store.meta.c.key == "lexical_version")).scalar()
        if stored == LEXICAL_VERSION:
            return
        with self.write_lock(), self.db.begin() as conn:
            lexical.rebuild(conn)
            set_meta(conn, {"lexical_version": LEXICAL_VERSION})

    def rebuild_lexical(self) -> None:
        """Re-derive every chunk's terms in every audience's table."""
        with self.write_lock(), self.db.begin() as conn:
            lexical.rebuild(conn)

    # ------------------------------------------------------------- writing
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """One writer at a time, across processes (flock on the index
        folder) and, on PostgreSQL, across machines (an advisory lock held
        by a connection of its own for as long as the write lock is)."""
        path = self.dir / ".write.lock"
        with self._write_mutex:
            if self._write_depth:  # re-entrant within this process
                self._write_depth += 1
                try:
                    yield
                finally:
                    self._write_depth -= 1
                return
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                with self._database_lock():
                    self._write_depth = 1
                    yield
            finally:
                self._write_depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    @contextmanager
    def _database_lock(self) -> Iterator[None]:
        """PostgreSQL: the library's writer lock in the database (several
        machines writing to one database); nothing on SQLite."""
        if self.db.is_sqlite:
            yield
            return
        with self.db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(select(func.pg_advisory_lock(WRITER_LOCK)))
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(WRITER_LOCK)))

    @contextmanager
    def writing(self) -> Iterator[Writer]:
        """The single writer: the write lock and one transaction; the
        writer's changes to the vector index are applied and saved at the
        end of the block, before the transaction commits (inside a
        ``batch``: applied, and saved when due)."""
        with self.write_lock(), self.db.begin() as conn:
            writer = Writer(self, conn)
            yield writer
            writer.apply()

    @contextmanager
    def batch(self, save_every: float = BATCH_SAVE_EVERY) -> Iterator[None]:
        """Writers inside save the vector index at most every ``save_every``
        seconds, and it is saved once at the end (module docstring)."""
        with self._write_mutex:
            if not self._batch_depth:
                self._saved_at, self._save_every = time.monotonic(), save_every
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._write_mutex:
                self._batch_depth -= 1
                last = not self._batch_depth
            if last and self._unsaved:
                self.save_now()

    def save_now(self) -> None:
        """Save the vector index as it is in memory (the end of a batch)."""
        with self.write_lock(), self._lock:
            try:
                self.vectors.save()
            except (RuntimeError, OSError) as e:  # no space left: the rows are stored;
                self.drop()  # a later load (or another process's catch-up) uses them
                raise storage_error("the vector index could not be saved", e) from e
            self._saved(time.monotonic())

    def _saved(self, at: float) -> None:
        self._saved_at, self._unsaved = at, False

    def _check_room(self, vi: VectorIndex, adding: int = 0) -> None:
        """Refuse (the document's rows then roll back) a change of ``adding``
        vectors the next save would have no room for on disk: a batch's
        documents fail one by one when the disk fills, as they do when each
        is saved at once."""
        room = os.statvfs(self.dir)
        if room.f_bavail * room.f_frsize < vi.save_size(adding):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def _save_due(self) -> bool:
        """Whether a writer saves the index now: always outside a batch;
        inside, when the last save is ``save_every`` seconds old."""
        return not self._batch_depth or time.monotonic() - self._saved_at >= self._save_every

    def reindex(self, embed: Callable[[Sequence[Any]], tuple[np.ndarray, list[dict[str, Any]]]],
                progress: Callable[[int, int], None] | None = None, step: int = 256) -> int:
        """Re-embed every chunk (``embed``: chunk rows (id, text, language)
        -> their vectors and second-model column values) and rebuild both
        indexes from the database; the stored workshop vectors, of the
        previous model, are forgotten.  The number of chunks."""
        c = store.chunks
        with self.write_lock():
            with self.db.connect() as conn:
                rows = conn.execute(select(c.c.id, c.c.text, c.c.language)
                                    .order_by(c.c.id)).all()
            vectors: list[np.ndarray] = []
            second: list[dict[str, Any]] = []
            for i in range(0, len(rows), step):
                vecs, more = embed(rows[i:i + step])
                vectors.append(vecs)
                second.extend(more)
                if progress:
                    progress(min(i + step, len(rows)), len(rows))
            vecs = np.vstack(vectors) if vectors else \
                np.zeros((0, self._embedder().dim), np.float32)
            with self.db.begin() as conn:
                for r, v, v2 in zip(rows, vecs, second, strict=True):
                    conn.execute(c.update().where(c.c.id == r.id).values(embedding=v.tobytes(),
                                                                          **v2))
                lexical.rebuild(conn)
                conn.execute(store.workshops.update().values(embedding=None))
                self.record_embedder(conn)
            self.drop()
            self.rebuild()
        return len(rows)


class Writer:
    """Changes to a document's chunks in both indexes, in one transaction
    (``Indexes.writing``).  The chunk rows and the lexical tables change at
    once; the vector index at ``apply``."""

    def __init__(self, indexes: Indexes, conn: Connection) -> None:
        self.indexes = indexes
        self.conn = conn
        self._removed: list[int] = []
        self._added: list[tuple[np.ndarray, np.ndarray, int]] = []

    def remove_chunks(self, ids: list[int]) -> None:
        """Remove chunks from the lexical tables, the chunks table and the
        vector index."""
        if not ids:
            return
        lexical.remove(self.conn, ids)
        self.conn.execute(store.chunks.delete().where(store.chunks.c.id.in_(ids)))
        self._removed.extend(ids)

    def remove_documents(self, doc_ids: Iterable[int]) -> list[int]:
        """Remove the chunks of documents from both indexes (their rows
        stay: a deletion removes them after this); the chunk ids."""
        ids = [cid for doc_id in doc_ids for cid in chunk_ids(self.conn, doc_id)]
        self.remove_chunks(ids)
        return ids

    def replace_document(self, doc_id: int, values: dict[str, Any],
                         chunks: Callable[[Any], tuple[list[dict[str, Any]], np.ndarray]]
                         ) -> list[int]:
        """Swap a document's chunks and set its column values: its old
        chunks go, ``values`` are set (``audience.update_row``: its access
        decides which audiences' tables its new chunks' terms go to), then
        ``chunks(row)``, given the document's row as it is now, returns the
        new chunks' column values (``text``, ``ordinal`` ..., no id) and
        their vectors.  The new chunk ids."""
        conn = self.conn
        self.remove_documents([doc_id])
        audience.update_row(conn, doc_id, values)
        row = conn.execute(select(store.documents).where(store.documents.c.id == doc_id)).one()
        values_list, vectors = chunks(row)
        # ids above every chunk id ever given (the writer holds the write lock)
        store.hold_new_ids(conn, store.chunks)
        first = int(conn.execute(select(store.new_id(store.chunks))).scalar_one())
        rows = [dict(id=first + i, document_id=doc_id,
                     embedding=np.asarray(v, np.float32).tobytes(), **cv)
                for i, (cv, v) in enumerate(zip(values_list, vectors, strict=True))]
        ids = [int(r[0]) for r in conn.execute(
            store.chunks.insert().returning(store.chunks.c.id), rows)] if rows else []
        lexical.add(conn, zip(ids, [r["text"] for r in rows], strict=True))
        self.indexes.record_embedder(conn)
        if ids:
            self._added.append((np.asarray(ids, np.int64), vectors, doc_id))
        return ids

    def apply(self) -> None:
        """Apply the changes to the vector index and save it (when due, in
        a batch); on failure drop the in-memory copy so the next use
        reloads the last saved state (or builds it from the database)."""
        if not self._removed and not self._added:
            return
        vi = self.indexes.vectors
        due = self.indexes._save_due()
        if not due:  # inside a batch: saved later, if there is room (nothing changed yet)
            try:
                self.indexes._check_room(vi, sum(len(ids) for ids, _, _ in self._added))
            except OSError as e:
                raise storage_error("the vector index could not be saved", e) from None
        try:
            vi.remove(self._removed)
            for ids, vectors, doc_id in self._added:
                vi.add(ids, vectors, doc_id)
            if due:
                vi.save()
                self.indexes._saved(time.monotonic())
            else:  # the rows commit meanwhile; the batch saves later
                self.indexes._unsaved = True
        # faiss's "write error ... (No space left on device)"; no room left
        except (RuntimeError, OSError) as e:
            self.indexes.drop()
            raise storage_error("the vector index could not be saved", e) from None
        except BaseException:
            self.indexes.drop()
            raise

"""The Library: one object wiring config, database, file store, embedder and
the indexes, shared by the CLI and the web app.

It owns the consistency rules between the database (source of truth) and the
FAISS cache: load-or-rebuild on open, reload when another process saved, the
single-writer lock, and the embedder check (a library embedded with one model
is never searched with vectors of another).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from . import store
from .config import Config
from .embed import (
    Embedder,
    files_digest,
    make_embedder,
    make_second_embedder,
    second_model_id,
)
from .errors import ConfigError, IndexStale
from .index import lexical
from .index.vector import VectorIndex
from .store import Database, FileStore
from .text import LEXICAL_VERSION
from .topics import Thesaurus, TopicVectors, thesaurus_path, topic_vectors

# the hashes of the embedder's model files, by path, size and times (embed.files_digest)
DIGEST_CACHE = "model-digests.json"


def _set_meta(conn, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for key, value in values.items():
        conn.execute(store.meta.delete().where(store.meta.c.key == key))
        conn.execute(store.meta.insert().values(key=key, value=value))


class Library:
    def __init__(self, config: Config, embedder: Embedder | None = None,
                 migrate: bool = True) -> None:
        self.config = config
        store.ensure_writable_dir(config.library_dir, "library")
        store.ensure_writable_dir(config.index_dir, "index")
        for kept in ("files", "incoming"):  # folders an older version left readable
            store.tighten(config.library_dir / kept)
        self.db = Database(config.database_url)
        if not self.db.is_sqlite:
            raise ConfigError("the lexical index (FTS5) needs SQLite in this version; "
                              "PostgreSQL support is planned")
        if migrate:
            self.db.migrate()
        self.files = FileStore(config.library_dir)
        self._embedder = embedder
        self._second: Embedder | None = None
        self._digest: str | None = None
        self._vectors: VectorIndex | None = None
        self._topics: Any = None
        self._lock = threading.RLock()
        self._write_mutex = threading.RLock()
        self._write_depth = 0
        if migrate:
            self.ensure_lexical_version()
            self.enforce_speaker_notes()

    # ------------------------------------------------------------ embedder
    def _loaded(self, attr: str, make: Callable[[], Any]) -> Any:
        """``self.<attr>``, made once (thread-safe) on first use."""
        if getattr(self, attr) is None:
            with self._lock:
                if getattr(self, attr) is None:
                    setattr(self, attr, make())
        return getattr(self, attr)

    @property
    def embedder(self) -> Embedder:
        return self._loaded("_embedder", lambda: make_embedder(self.config.embed))

    @property
    def second_embedder(self) -> Embedder | None:
        """The second model (``embed.second_model``), loaded on first use;
        None when it is off."""
        if not self.config.embed.second_model:
            return None
        return self._loaded("_second", lambda: make_second_embedder(self.config.embed))

    @property
    def topics(self) -> TopicVectors | None:
        """The thesaurus (``related.topics``) with its vectors, made on first
        use; None when there is none."""
        path = thesaurus_path(self.config.related.topics, self.config.base_dir)
        if path is None:
            return None

        def make() -> TopicVectors:
            return topic_vectors(Thesaurus.load(path), self.embedder, self.embedder_digest,
                                 self.config.index_dir)

        return self._loaded("_topics", make)

    @property
    def second_id(self) -> str:
        """The configured second model's id ('' when off), without loading it."""
        return second_model_id(self.config.embed)

    def second_vectors(self, chunks: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Column values (``embedding2``, ``embedding2_model``) for
        (language, text) pairs: the second model's vector for chunks in its
        languages, nothing for the others."""
        langs = self.config.embed.second_language_list
        picked = [i for i, (lang, _) in enumerate(chunks) if lang in langs]
        out: list[dict[str, Any]] = [{"embedding2": None, "embedding2_model": None}
                                     for _ in chunks]
        second = self.second_embedder
        if second is None or not picked:
            return out
        vecs = second.embed_passages([chunks[i][1] for i in picked])
        for i, v in zip(picked, vecs, strict=True):
            out[i] = {"embedding2": np.asarray(v, np.float32).tobytes(),
                      "embedding2_model": self.second_id}
        return out

    def lacking_second_vectors(self, limit: int | None = None) -> list[Any]:
        """Chunks in the second model's languages without a vector of the
        configured second model (id, language, text), oldest first."""
        sid = self.second_id
        if not sid:
            return []
        c = store.chunks
        q = select(c.c.id, c.c.language, c.c.text).where(
            c.c.language.in_(list(self.config.embed.second_language_list)),
            (c.c.embedding2_model != sid) | c.c.embedding2_model.is_(None)).order_by(c.c.id)
        with self.db.connect() as conn:
            return list(conn.execute(q.limit(limit) if limit else q).all())

    def ensure_second_vectors(self, wait: bool = True, batch: int = 64) -> int:
        """Give every chunk in the second model's languages a vector of the
        configured second model: the chunks of a library from before it, or
        of another second model.  One process at a time does it (a lock
        file; with ``wait=False`` another process's run makes this one
        return 0 at once); batches are embedded outside the write lock.
        Searches skip the second model's re-scoring while candidates lack
        vectors.  Returns the number of chunks embedded."""
        if not self.second_id:
            return 0
        path = Path(self.config.index_dir) / ".second.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return 0
            done = 0
            while rows := self.lacking_second_vectors(batch):
                values = self.second_vectors([(r.language, r.text) for r in rows])
                c = store.chunks
                with self.write_lock(), self.db.begin() as conn:
                    for r, v in zip(rows, values, strict=True):
                        conn.execute(c.update().where(c.c.id == r.id).values(**v))
                done += len(rows)
            return done
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def warm_up(self) -> None:
        """Load what the first search needs (the index, the embedder, the
        second model) and run each model once, so that no user waits for it."""
        _ = self.vectors
        self.embedder.embed_queries(["warm up"])
        _ = self.topics
        second = self.second_embedder
        if second is not None:
            second.embed_queries(["warm up"])

    @property
    def embedder_digest(self) -> str:
        """The digest of the files that determine the embedder's vectors
        (its ``model_files``; '' when it names none), computed once per
        process; the files' hashes are cached in ``index_dir``, so an
        unchanged model is not read again."""
        def make() -> str:
            files = getattr(self.embedder, "model_files", None)
            try:
                return files_digest(files(), Path(self.config.index_dir) / DIGEST_CACHE) \
                    if files else ""
            except OSError:  # unreadable: the model could not be loaded either
                return ""

        return str(self._loaded("_digest", make))

    def _stored_meta(self) -> dict[str, str]:
        with self.db.connect() as conn:
            return dict(conn.execute(select(store.meta.c.key, store.meta.c.value)).all())

    def stored_embedder(self) -> tuple[str | None, int | None]:
        rows = self._stored_meta()
        dim = rows.get("embedding_dim")
        return rows.get("embedder_id"), (int(dim) if dim else None)

    def record_embedder(self, conn) -> None:  # type: ignore[no-untyped-def]
        e = self.embedder
        _set_meta(conn, {"embedder_id": e.id, "embedding_dim": str(e.dim)})
        # no digest (an embedder that names no files): none of another model stays
        conn.execute(store.meta.delete().where(store.meta.c.key == "embedder_digest"))
        if self.embedder_digest:
            _set_meta(conn, {"embedder_digest": self.embedder_digest})

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
            _set_meta(conn, {"lexical_version": LEXICAL_VERSION})

    def enforce_speaker_notes(self) -> int:
        """Remove the speaker-notes passages that ``extract.speaker_notes``
        no longer allows (the setting changed since they were indexed); the
        count.  Notes it newly allows come with ``doclib reindex --rechunk``."""
        from .ingest import enforce_notes

        return enforce_notes(self)

    def check_embedder(self) -> None:
        """Refuse to mix vectors of two models (clear error naming the fix):
        another dimension, another id, or the same id whose model files
        changed (other weights or pooling at the same path).  A library from
        before the files' digest was kept gets it recorded here."""
        rows = self._stored_meta()
        stored_id, dim = rows.get("embedder_id"), rows.get("embedding_dim")
        stored_dim = int(dim) if dim else None
        if stored_id is None or not self.has_chunks():
            return
        e = self.embedder
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
        if digest and not stored_digest:  # a library from before the digest
            with self.db.begin() as conn:
                _set_meta(conn, {"embedder_digest": digest})

    def has_chunks(self) -> bool:
        with self.db.connect() as conn:
            return conn.execute(select(store.chunks.c.id).limit(1)).first() is not None

    # ------------------------------------------------------------- vectors
    def db_fingerprint(self) -> list[int]:
        with self.db.connect() as conn:
            n, mx, sm = conn.execute(select(func.count(store.chunks.c.id),
                                            func.max(store.chunks.c.id),
                                            func.sum(store.chunks.c.id))).one()
        if not n:
            return [0, 0, 0]
        return [int(n), int(mx), int(sm) % (1 << 62)]

    @property
    def vectors(self) -> VectorIndex:
        """The dense index, loaded, reloaded after another process saved, or
        rebuilt from the database when missing, damaged or mismatched."""
        with self._lock:
            if self._vectors is None:
                self.check_embedder()
                self._vectors = VectorIndex(self.config.index_dir, self.embedder.dim,
                                            self.embedder.id)
                self._load_or_rebuild()
            elif self._vectors.stamp() != self._vectors.loaded_stamp:
                self._load_or_rebuild()
            return self._vectors

    def _load_or_rebuild(self) -> None:
        assert self._vectors is not None
        reason = self._vectors.try_load(self.db_fingerprint())
        if reason is None:
            self._vectors.set_owners(*self.chunk_owners())
            return
        self.rebuild_vectors()

    def drop_vectors(self) -> None:
        """Forget the in-memory index; the next use reloads or rebuilds it."""
        with self._lock:
            self._vectors = None

    def rebuild_vectors(self) -> None:
        """Rebuild the FAISS index from the embeddings stored in the database."""
        with self._lock:
            if self._vectors is None:
                self._vectors = VectorIndex(self.config.index_dir, self.embedder.dim,
                                            self.embedder.id)
            ids, docs, vecs = self.stored_vectors()
            self._vectors.replace_all(ids, vecs, docs)
            with self.write_lock():
                self._vectors.save()

    def chunk_owners(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, document ids) from the database, ordered by chunk id."""
        with self.db.connect() as conn:
            rows = conn.execute(select(store.chunks.c.id, store.chunks.c.document_id)
                                .order_by(store.chunks.c.id)).all()
        return (np.asarray([r[0] for r in rows], np.int64),
                np.asarray([r[1] for r in rows], np.int64))

    def stored_vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chunk ids, document ids, embeddings) as stored in the database."""
        dim = self.embedder.dim
        ids: list[int] = []
        docs: list[int] = []
        blobs: list[bytes] = []
        c = store.chunks
        with self.db.connect() as conn:
            for cid, did, blob in conn.execute(select(c.c.id, c.c.document_id, c.c.embedding)
                                               .order_by(c.c.id)):
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

    # ------------------------------------------------------------- writing
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """One writer at a time, across processes (flock on index_dir)."""
        path = Path(self.config.index_dir) / ".write.lock"
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
                self._write_depth = 1
                yield
            finally:
                self._write_depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    @contextmanager
    def storing(self) -> Iterator[None]:
        """Held, shared, by an ingestion from the moment it copies an
        original in until the row that names it has committed or the copy is
        removed again (the whole ingestion: a new version stays unnamed
        until it is ready).  ``storing_stopped`` takes it exclusively, so
        that ``doclib check --repair`` never removes an original a live
        ingestion is about to name; a process that dies lets it go (flock
        on index_dir, across processes and threads)."""
        fd = os.open(Path(self.config.index_dir) / ".storing.lock", os.O_RDWR | os.O_CREAT,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextmanager
    def storing_stopped(self) -> Iterator[bool]:
        """No ingestion is between copying an original and naming it while
        this is held; yields False at once (holding nothing) if one is."""
        fd = os.open(Path(self.config.index_dir) / ".storing.lock", os.O_RDWR | os.O_CREAT,
                     0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def close(self) -> None:
        self.db.dispose()

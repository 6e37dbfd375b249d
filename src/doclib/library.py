"""The Library: one object wiring config, database, file store, embedders
and the indexes, shared by the CLI and the web app.

The indexes' life (load, reload, rebuild, the embedder check, the single
writer) is ``index.indexes.Indexes`` (``lib.index``); the Library opens
them and makes the models.
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
from sqlalchemy import select

from . import events, store
from .audience import VisibleSets
from .config import Config
from .embed import Embedder, make_embedder, make_second_embedder, second_model_id
from .index.indexes import Indexes
from .index.vector import VectorIndex
from .store import Database, FileStore
from .topics import Thesaurus, TopicVectors, thesaurus_path, topic_vectors


class Library:
    def __init__(self, config: Config, embedder: Embedder | None = None,
                 migrate: bool = True) -> None:
        self.config = config
        store.ensure_writable_dir(config.library_dir, "library")
        store.ensure_writable_dir(config.index_dir, "index")
        for kept in ("files", "incoming"):  # folders an older version left readable
            store.tighten(config.library_dir / kept)
        self.db = Database(config.database_url)
        if migrate:
            self.db.migrate()
        self.files = FileStore(config.library_dir)
        self._embedder = embedder
        self._second: Embedder | None = None
        self._second_in_background = False
        self._topics: Any = None
        self._lock = threading.RLock()
        self.index = Indexes(self.db, config.index_dir, lambda: self.embedder,
                             ann_above=config.search.ann_above,
                             ef_search=config.search.ann_ef_search,
                             exact_max=config.search.ann_exact_max)
        # the visible sets this process built, reused while nothing changed
        self.visible_sets = VisibleSets()
        # the embedding worker processes of a batch ingestion (workers.py)
        self.embed_pool: Any = None
        if migrate:
            self.index.ensure_lexical_version()
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

    def second_ready(self) -> Embedder | None:
        """The second model for a search: loaded now if need be, except
        while a web worker loads it in the background (``warm_up`` with
        ``second=False``): None until it is there, and the search goes on
        without its re-scoring (the worker answers seconds sooner)."""
        if self._second is None and self._second_in_background:
            return None
        return self.second_embedder

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

        return self._loaded("_topics", lambda: self._topic_vectors(path, save=False))

    def _topic_vectors(self, path: Path, save: bool) -> TopicVectors:
        """The thesaurus at ``path`` with its vectors; reads never write:
        only a warm-up (a service starting) keeps them in the index folder
        (``save``), a request computes them in memory when they are not there."""
        return topic_vectors(Thesaurus.load(path), self.embedder, self.index.embedder_digest,
                             self.config.index_dir, save=save)

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
                with self.index.write_lock(), self.db.begin() as conn:
                    for r, v in zip(rows, values, strict=True):
                        conn.execute(c.update().where(c.c.id == r.id).values(**v))
                done += len(rows)
            return done
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def warm_up(self, second: bool = True) -> None:
        """Open the index (loaded, or rebuilt and saved: a search never
        writes it), load the models the first search needs and run each
        once, so that no user waits for them.  With ``second`` False the
        second model is left to ``warm_up_second`` (in the background:
        searches skip it until it is there, see ``second_ready``)."""
        self.index.open()
        with self.db.begin() as conn:  # workshops added while it was stopped
            events.embed_workshops(conn, self.embedder)
        self.embedder.embed_queries(["warm up"])
        path = thesaurus_path(self.config.related.topics, self.config.base_dir)
        if path is not None:
            with self._lock:
                self._topics = self._topic_vectors(path, save=True)
        if second:
            self.warm_up_second()
        else:
            self._second_in_background = True

    def warm_up_second(self) -> None:
        """Load the second model and run it once."""
        model = self.second_embedder
        if model is not None:
            model.embed_queries(["warm up"])

    def enforce_speaker_notes(self) -> int:
        """Remove the speaker-notes passages that ``extract.speaker_notes``
        no longer allows (the setting changed since they were indexed); the
        count.  Notes it newly allows come with ``doclib reindex --rechunk``."""
        from .ingest import enforce_notes

        return enforce_notes(self)

    @property
    def vectors(self) -> VectorIndex:
        """The dense index, for reading (``Indexes.vectors``)."""
        return self.index.vectors

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

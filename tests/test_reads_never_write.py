"""Reads never write: a search over a missing or damaged vector index
builds it in memory without taking the write lock or touching the file
(the service's start and ``doclib check`` save it), and related
workshops read the workshops' profile vectors without storing them
(``events.embed_workshops`` does, at the start, at a catalogue import and
at a reindex)."""

from __future__ import annotations

import fcntl
import os
import threading

from sqlalchemy import select

from conftest import FakeEmbedder, make_config
from doclib import events, store
from doclib.auth import principal_for_role
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.related import related_workshops
from doclib.search import search

VISITOR = principal_for_role("visitor")


def _library(tmp_path, fixtures_dir) -> Library:
    lib = Library(make_config(tmp_path), embedder=FakeEmbedder())
    with lib.db.begin() as conn:
        events.add_event(conn, {"slug": "aarhus-2024", "title": {"en": "Aarhus summit"}})
        events.add_workshop(conn, "aarhus-2024", {
            "number": 1, "title": {"en": "Youth work", "ar": "العمل مع الشباب"},
            "description": {"en": "Mentoring young people at risk"}})
    r = ingest_file(lib, fixtures_dir / "en_summit.txt",
                    IngestOptions(access="public", event="aarhus-2024", workshop=1))
    assert r.status == "ready"
    return lib


def _stored_workshop_vectors(lib: Library) -> list[bytes | None]:
    with lib.db.connect() as conn:
        return [r[0] for r in conn.execute(select(store.workshops.c.embedding))]


def test_a_search_over_a_damaged_index_neither_writes_nor_waits_for_the_writer(
        tmp_path, fixtures_dir):
    lib = _library(tmp_path, fixtures_dir)
    query = "summit in Aarhus"
    expected = search(lib, VISITOR, query)
    assert expected["total"] >= 1
    lib.close()
    index = lib.config.index_dir / "vectors.faiss"
    index.write_bytes(index.read_bytes()[:100])
    damaged = index.read_bytes()
    reader = Library(lib.config, embedder=FakeEmbedder())
    # a writer (another process, an upload) holds the write lock meanwhile
    fd = os.open(lib.config.index_dir / ".write.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    got: dict = {}
    try:
        t = threading.Thread(target=lambda: got.update(search(reader, VISITOR, query)),
                             daemon=True)
        t.start()
        t.join(timeout=60)
        assert not t.is_alive(), "the search waited for the write lock"
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert got["results"] == expected["results"]
    assert index.read_bytes() == damaged  # built in memory, the file untouched
    reader.warm_up()  # the service's start saves it
    assert index.read_bytes() != damaged
    assert Library(lib.config, embedder=FakeEmbedder()).index.vectors.try_load(
        reader.index.db_fingerprint()) is None
    reader.close()


def test_related_workshops_read_profile_vectors_and_store_none(tmp_path, fixtures_dir):
    lib = _library(tmp_path, fixtures_dir)
    assert _stored_workshop_vectors(lib) == [None]
    first = related_workshops(lib, VISITOR, query="mentoring young people")
    assert first and first[0]["workshop"]["number"] == 1
    assert _stored_workshop_vectors(lib) == [None]  # a GET stores nothing
    lib.warm_up()  # the service's start stores them
    stored = _stored_workshop_vectors(lib)
    assert stored[0] is not None and len(stored[0]) == 3 * lib.embedder.dim * 4
    assert related_workshops(lib, VISITOR, query="mentoring young people") == first
    lib.close()


def test_a_catalogue_import_and_a_reindex_store_the_profiles(tmp_path, fixtures_dir):
    from doclib.ingest import ingest_paths, reindex

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Mentoring young people at risk in Aarhus.", "utf-8")
    (folder / "catalogue.yaml").write_text(
        "events:\n  - slug: aarhus-2024\n    title: {en: Aarhus summit}\n    workshops:\n"
        "      - {number: 1, title: {en: Youth work}}\n"
        "documents:\n  - {file: a.txt, event: aarhus-2024, workshop: 1, access: public}\n",
        "utf-8")
    lib = Library(make_config(tmp_path / "data"), embedder=FakeEmbedder())
    assert [r.status for r in ingest_paths(lib, [str(folder)], IngestOptions())] == ["ready"]
    assert _stored_workshop_vectors(lib)[0] is not None
    reindex(lib)
    assert _stored_workshop_vectors(lib)[0] is not None
    lib.close()


def test_the_thesaurus_vectors_are_kept_by_a_start_not_by_a_request(tmp_path, fixtures_dir):
    """Related workshops need the thesaurus's vectors: a request computes
    them in memory (nothing written in the index folder); the service's
    start (warm-up) keeps them there for the next start."""
    from doclib import topics

    lib = _library(tmp_path, fixtures_dir)
    cache = lib.config.index_dir / topics.CACHE_FILE
    topics._PROCESS_CACHE.clear()
    related_workshops(lib, VISITOR, "mentoring young people")
    assert lib.topics is not None and not cache.exists()
    lib.close()
    topics._PROCESS_CACHE.clear()
    again = Library(lib.config, embedder=FakeEmbedder())
    again.warm_up()
    assert cache.exists() and (lib.config.index_dir / topics.CACHE_META).exists()
    again.close()

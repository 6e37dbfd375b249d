"""Batch ingestion with worker processes (``ingest_paths(..., workers=N)``,
``doclib ingest --workers N``): the same documents, passages and vectors
as one process, reports in the files' order; a worker whose model differs
from the library's fails the file instead of mixing vectors."""

import numpy as np
import pytest
from sqlalchemy import select

from conftest import FakeEmbedder, database_for, make_config
from doclib import config as config_mod
from doclib import store
from doclib.ingest import IngestOptions, ingest_paths
from doclib.library import Library

TEXTS = {
    "a-schools.txt": "Teachers in Rabat described a mentoring programme for pupils at risk. " * 30,
    "b-mothers.md": "# Mothers\n\nA network of mothers meets every week to talk about "
                    "online recruitment and how to answer it. " * 25,
    "c-prisons.txt": "برنامج إعادة التأهيل في السجون يساعد الشباب على العودة إلى المجتمع. " * 30,
    "d-media.txt": "Local radio stations ran a campaign against hate speech with youth "
                   "reporters. " * 28,
    "e-dialogue.txt": "الحوار بين الأديان في المدينة يجمع القادة الدينيين والشباب كل شهر. " * 30,
}


def _folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name, body in TEXTS.items():
        (src / name).write_text(body, encoding="utf-8")
    return src


def _chunks(lib):
    c, d = store.chunks, store.documents
    with lib.db.connect() as conn:
        return conn.execute(select(d.c.original_filename, c.c.ordinal, c.c.text, c.c.embedding,
                                   c.c.embedding2).join(d, d.c.id == c.c.document_id)
                            .order_by(d.c.original_filename, c.c.ordinal)).all()


@pytest.mark.parametrize("second", ["", "default"])
def test_two_workers_index_what_one_process_indexes(tmp_path, second):
    src = _folder(tmp_path)
    libs = []
    for name, workers in (("one", 1), ("two", 2)):
        overrides = {} if second == "default" else {"embed.second_model": ""}
        storage = {"data_dir": str(tmp_path / name)}
        if (url := database_for(tmp_path / name)) is not None:  # a library of its own
            storage["database_url"] = url
        cfg = config_mod.from_dict({"storage": storage}, tmp_path)
        cfg = config_mod.with_overrides(cfg, overrides) if overrides else cfg
        lib = Library(cfg)
        reports = list(ingest_paths(lib, [str(src)], IngestOptions(access="public"),
                                    workers=workers))
        assert [r.status for r in reports] == ["ready"] * len(TEXTS)
        assert [r.path.rsplit("/", 1)[1] for r in reports] == sorted(TEXTS)
        assert lib.embed_pool is None  # the workers are gone
        libs.append(lib)
    one, two = (_chunks(lib) for lib in libs)
    assert [(r[0], r[1], r[2]) for r in one] == [(r[0], r[1], r[2]) for r in two]
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(np.frombuffer(a[3], np.float32),
                                   np.frombuffer(b[3], np.float32), atol=1e-5)
        assert (a[4] is None) == (b[4] is None)
        if a[4] is not None:
            np.testing.assert_allclose(np.frombuffer(a[4], np.float32),
                                       np.frombuffer(b[4], np.float32), atol=1e-5)
    if second == "default":
        assert any(r[4] is not None for r in two)  # English passages have a second vector
    for lib in libs:
        lib.close()


def test_a_worker_with_another_model_fails_the_files_instead_of_mixing(tmp_path):
    src = _folder(tmp_path)
    lib = Library(make_config(tmp_path / "lib"), embedder=FakeEmbedder())
    try:
        reports = list(ingest_paths(lib, [str(src)], IngestOptions(access="public"), workers=2))
        assert {r.status for r in reports} == {"failed"}
        assert all("an ingestion worker embeds with" in r.error for r in reports)
        assert _chunks(lib) == []
    finally:
        lib.close()


def _saved_ids(data_dir):
    """The chunk ids in the saved FAISS file (None: no file)."""
    import faiss

    path = data_dir / "index" / "vectors.faiss"
    if not path.exists():
        return None
    index = faiss.read_index(str(path))  # kept alive while its id map is read
    return set(faiss.vector_to_array(index.id_map).tolist())


def _db_ids(lib):
    with lib.db.connect() as conn:
        return {r[0] for r in conn.execute(select(store.chunks.c.id))}


def test_a_batch_saves_the_vector_index_at_the_end_not_per_file(tmp_path, monkeypatch):
    """At 100k passages a save writes 200 MB: a batch of files saves once
    (a spy counts the real saves), and the file then matches the database:
    another process loads it as it is."""
    from doclib.index.vector import VectorIndex

    src = _folder(tmp_path)
    lib = Library(make_config(tmp_path / "lib"), embedder=FakeEmbedder())
    saves = []
    real = VectorIndex.save
    monkeypatch.setattr(VectorIndex, "save", lambda self: (saves.append(1), real(self))[1])
    try:
        reports = list(ingest_paths(lib, [str(src)], IngestOptions(access="public")))
        assert [r.status for r in reports] == ["ready"] * len(TEXTS)
        assert len(saves) == 1
        assert _saved_ids(tmp_path / "lib") == _db_ids(lib) != set()
        other = Library(make_config(tmp_path / "lib"), embedder=FakeEmbedder())
        assert other.index.vectors.try_load(other.index.db_fingerprint()) is None
        other.close()
    finally:
        lib.close()


CRASH = """
import os, sys
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder, make_config
from pathlib import Path
from doclib.ingest import IngestOptions, ingest_paths
from doclib.library import Library

lib = Library(make_config(Path({data!r})), embedder=FakeEmbedder())
with lib.index.batch(save_every=3600):
    for report in ingest_paths(lib, [{src!r}], IngestOptions(access="public")):
        assert report.status == "ready", report
    os._exit(0)  # killed before the batch saves the index
"""


def test_a_batch_killed_before_its_save_loses_no_passage(tmp_path):
    """The rows commit as the batch goes and the index file lags them; a
    process killed before the batch's save leaves a file that no longer
    matches the database, and the next reader builds the index from the
    database: every passage is searchable, none is lost."""
    import subprocess
    import sys
    from pathlib import Path

    src = _folder(tmp_path)
    data = tmp_path / "lib"
    lib = Library(make_config(data), embedder=FakeEmbedder())
    first = tmp_path / "first"
    first.mkdir()
    (first / "z.txt").write_text("Youth workers in Tunis met parents of teenagers. " * 20,
                                 encoding="utf-8")
    list(ingest_paths(lib, [str(first)], IngestOptions(access="public")))
    lib.close()
    before = _saved_ids(data)
    assert before
    tests = str(Path(__file__).resolve().parent)
    code = CRASH.format(tests=tests, data=str(data), src=str(src))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    assert _saved_ids(data) == before  # the batch never saved
    lib = Library(make_config(data), embedder=FakeEmbedder())
    try:
        everything = _db_ids(lib)
        assert len(everything) > len(before)
        assert set(lib.index.vectors.ids().tolist()) == everything
        lib.index.open()  # a service starting saves the whole index again
        assert _saved_ids(data) == everything
    finally:
        lib.close()


def test_a_process_already_serving_catches_up_with_a_batch_that_never_saved(tmp_path):
    """Another process (a web worker) loaded the index before a batch: the
    batch commits its rows and dies before its save, so the file never
    changes.  The serving process still picks the batch's passages up at
    its next use (the documents' generation moved, the fingerprint
    differs: the chunks are applied from the database), and a save it makes
    itself then holds them too."""
    from doclib.ingest import ingest_file

    data = tmp_path / "lib"
    batch = Library(make_config(data), embedder=FakeEmbedder())
    web = Library(make_config(data), embedder=FakeEmbedder())
    try:
        texts = list(TEXTS.items())
        for i, (name, body) in enumerate(texts[:3]):
            (tmp_path / name).write_text(body, encoding="utf-8")
            if i == 0:
                assert ingest_file(batch, tmp_path / name, IngestOptions(access="public")
                                   ).status == "ready"
                before = set(web.index.vectors.ids().tolist())  # loaded, serving
                assert before == _db_ids(web)
        crashed = batch.index.batch(save_every=3600)
        crashed.__enter__()  # and never left: the process "dies" before its save
        name = texts[1][0]
        assert ingest_file(batch, tmp_path / name, IngestOptions(access="public")
                           ).status == "ready"
        assert _saved_ids(data) == before  # the file did not change
        assert set(web.index.vectors.ids().tolist()) == _db_ids(web) > before
        # the serving process writes (an upload) and saves: the batch's rows are in it
        assert ingest_file(web, tmp_path / texts[2][0], IngestOptions(access="public")
                           ).status == "ready"
        assert _saved_ids(data) == _db_ids(web)
    finally:
        web.close()
        batch.close()

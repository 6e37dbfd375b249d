"""Batch ingestion with worker processes (``ingest_paths(..., workers=N)``,
``doclib ingest --workers N``): the same documents, passages and vectors
as one process, reports in the files' order; a worker whose model differs
from the library's fails the file instead of mixing vectors."""

import numpy as np
import pytest
from sqlalchemy import select

from conftest import FakeEmbedder, make_config
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
        cfg = config_mod.from_dict({"storage": {"data_dir": str(tmp_path / name)}}, tmp_path)
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

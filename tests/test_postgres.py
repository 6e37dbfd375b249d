"""PostgreSQL as the engine: the same lexical results as SQLite's FTS5
(BM25 with each audience's own statistics), several processes on one
database seeing each other's changes, deletions that leave no row behind.

These run in every suite (a private server of their own when the suite runs
on SQLite); the whole suite also runs on PostgreSQL (``--database
postgresql``, ``make test``)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from sqlalchemy import text

import conftest
from conftest import FakeEmbedder
from doclib import config as config_mod
from doclib.audience import LEXICAL_TABLES, Access
from doclib.auth import principal_for_role
from doclib.errors import ConfigError
from doclib.index import lexical
from doclib.ingest import IngestOptions, delete_documents, ingest_file
from doclib.library import Library
from doclib.search import search
from doclib.store import engine_url

VISITOR, MEMBER = principal_for_role("visitor"), principal_for_role("member")

QUERIES = ["budget of the schools programme", "mothers warning signs", "recruiters online",
           "دور الأمهات في ملاحظة علامات الخطر", "المدارس والشباب", "zanzibar reallocation",
           "عمّان قمة", "city programmes schools budget zanzibar"]


@pytest.fixture(scope="module")
def pg():
    """The suite's PostgreSQL server, or one of this module's own."""
    server = conftest._PG.get("server")
    if server is not None:
        yield server
        return
    from pgserver import Server

    try:
        own = Server()
    except Exception as e:  # noqa: BLE001
        if os.environ.get("DOCLIB_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"no PostgreSQL: {e}")
    yield own
    own.stop()


def _library(root: Path, url: str, index: str = "index") -> Library:
    cfg = config_mod.from_dict({"storage": {"data_dir": str(root), "database_url": url,
                                            "index_dir": str(root / index)},
                                "embed": {"second_model": ""}}, root)
    return Library(cfg, embedder=FakeEmbedder())


def _fill(lib: Library, root: Path, fixtures_dir: Path) -> dict[str, int]:
    """Public, members-only and curators-only documents in both languages."""
    root.mkdir(parents=True, exist_ok=True)
    ids = {}
    for i in range(8):
        p = root / f"public{i}.txt"
        p.write_text(f"Public report {i} about the budget of city programmes and schools. "
                     + "Mothers notice warning signs first. " * (i % 3)
                     + f"Zanzibar is mentioned in public text {i}.", encoding="utf-8")
        ids[f"public{i}"] = ingest_file(lib, p, IngestOptions(access="public")).document_id
    secret = root / "minutes.txt"
    secret.write_text("Steering committee minutes. The zanzibar budget reallocation for the "
                      "schools pilot was agreed; recruiters online were discussed.",
                      encoding="utf-8")
    ids["minutes"] = ingest_file(lib, secret, IngestOptions(access="members")).document_id
    draft = root / "draft.txt"
    draft.write_text("Curators only draft about the budget reallocation of schools.",
                     encoding="utf-8")
    ids["draft"] = ingest_file(lib, draft, IngestOptions(access="curators")).document_id
    for name in ("ar_summit.txt", "en_summit.txt", "mixed_summit.txt"):
        ids[name] = ingest_file(lib, fixtures_dir / name,
                                IngestOptions(access="public")).document_id
    return ids


def test_the_lexical_leg_gives_fts5s_results_on_postgresql(pg, tmp_path, fixtures_dir):
    sqlite = _library(tmp_path / "s", "sqlite:///" + str(tmp_path / "s.db"))
    postgres = _library(tmp_path / "p", pg.new_database())
    try:
        assert _fill(sqlite, tmp_path / "s", fixtures_dir) == \
            _fill(postgres, tmp_path / "p", fixtures_dir)
        checked = 0
        for table in lexical.tables():
            for q in QUERIES:
                for k, prefix in ((5, 0), (5, 50), (50, 0)):
                    with sqlite.db.connect() as a, postgres.db.connect() as b:
                        assert lexical.query_stats(a, q, table) == \
                            pytest.approx(lexical.query_stats(b, q, table))
                        got_a = lexical.search(a, q, k, "d.status = 'ready'", {}, table,
                                               prefix=prefix)
                        got_b = lexical.search(b, q, k, "d.status = 'ready'", {}, table,
                                               prefix=prefix)
                    assert [i for i, _ in got_a] == [i for i, _ in got_b], (table, q)
                    for (_, sa), (_, sb) in zip(got_a, got_b, strict=True):
                        assert math.isclose(sa, sb, rel_tol=1e-9), (table, q, sa, sb)
                    checked += len(got_a)
        assert checked > 200
        # the whole search, as a visitor and as a member
        for who in (VISITOR, MEMBER):
            for q in QUERIES:
                a, b = search(sqlite, who, q, k=5), search(postgres, who, q, k=5)
                assert [r["document"]["id"] for r in a["results"]] == \
                    [r["document"]["id"] for r in b["results"]], q
    finally:
        sqlite.close()
        postgres.close()


def test_a_visitors_statistics_hold_no_members_only_document(pg, tmp_path, fixtures_dir):
    """The visitor's scores on PostgreSQL equal those of a library without
    the members-only and curators-only documents; moving a document between
    audiences moves its postings."""
    full = _library(tmp_path / "f", pg.new_database())
    ids = _fill(full, tmp_path / "f", fixtures_dir)
    public_only = _library(tmp_path / "o", pg.new_database())
    try:
        for name in sorted(ids, key=ids.get):
            if name.startswith("public") or name.endswith(".txt"):
                src = tmp_path / "f" / f"{name}.txt" if name.startswith("public") \
                    else fixtures_dir / name
                ingest_file(public_only, src, IngestOptions(access="public"))
        table = LEXICAL_TABLES[Access.public]
        for q in QUERIES:
            with full.db.connect() as a, public_only.db.connect() as b:
                sa = [s for _, s in lexical.search(a, q, 20, "1 = 1", {}, table)]
                sb = [s for _, s in lexical.search(b, q, 20, "1 = 1", {}, table)]
            assert sa == pytest.approx(sb, rel=1e-12), q
            res = search(full, VISITOR, q, k=20)
            assert ids["minutes"] not in [r["document"]["id"] for r in res["results"]]
        # published, then restricted again: the visitor's postings follow
        from doclib import curation

        admin = principal_for_role("admin")
        curation.update(full, admin, ids["minutes"], {"access": "public"}, "cli")
        with full.db.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM chunk_terms_l0_postings WHERE term = 'realloc'")
            ).scalar_one() == 1
        curation.update(full, admin, ids["minutes"], {"access": "members"}, "cli")
        with full.db.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM chunk_terms_l0_postings WHERE term = 'realloc'")
            ).scalar_one() == 0
            assert conn.execute(text(
                "SELECT count(*) FROM chunk_terms_l1_postings WHERE term = 'realloc'")
            ).scalar_one() == 1
    finally:
        full.close()
        public_only.close()


def test_two_processes_on_one_database_see_each_others_changes(pg, tmp_path, fixtures_dir):
    """Two libraries on one PostgreSQL database, each with its own index
    folder (two machines): what one ingests or deletes, the other's next
    search sees."""
    url = pg.new_database()
    a = _library(tmp_path, url, "index-a")
    b = _library(tmp_path, url, "index-b")
    try:
        assert search(b, VISITOR, "mothers warning signs")["results"] == []
        doc = ingest_file(a, fixtures_dir / "en_summit.txt",
                          IngestOptions(access="public")).document_id
        found = search(b, VISITOR, "mothers warning signs")["results"]
        assert [r["document"]["id"] for r in found][:1] == [doc]
        delete_documents(a, [doc])
        assert search(b, VISITOR, "mothers warning signs")["results"] == []
        # the next document gets a new id, never the deleted one's
        again = ingest_file(b, fixtures_dir / "ar_summit.txt",
                            IngestOptions(access="public")).document_id
        assert again > doc
    finally:
        a.close()
        b.close()


def test_a_deleted_documents_words_leave_every_table(pg, tmp_path, fixtures_dir):
    lib = _library(tmp_path, pg.new_database())
    try:
        ids = _fill(lib, tmp_path, fixtures_dir)
        # the needles below are in the pages while the document is there
        assert _rows_in_pages(lib, "chunks", "reallocation for the") == 1
        assert _rows_in_pages(lib, "chunk_terms_l1", "steer committe minut") == 1
        assert _rows_in_pages(lib, "chunk_terms_l1_postings", "pilot") == 1
        delete_documents(lib, [ids["minutes"]])
        with lib.db.connect() as conn:
            for table in lexical.tables():  # the kept totals are the table's
                assert lexical.row_count(conn, table) == lexical.count(conn, table) > 0
                assert conn.execute(text(
                    f"SELECT count(*) FROM {table}_postings WHERE term = 'zanzibar' "
                    f"AND rowid NOT IN (SELECT id FROM chunks)")).scalar_one() == 0
            assert conn.execute(text(
                "SELECT count(*) FROM chunks WHERE text LIKE '%reallocation for the%'")
            ).scalar_one() == 0
        # no page of the tables holds the words any more, not even as a dead
        # row (read with pageinspect: the test server's role may)
        assert _rows_in_pages(lib, "chunks", "reallocation for the") == 0
        for table in lexical.tables():  # its terms, and a term only it holds
            assert _rows_in_pages(lib, table, "steer committe minut") == 0
            assert _rows_in_pages(lib, f"{table}_postings", "pilot") == 0
        assert search(lib, MEMBER, "zanzibar reallocation recruiters")["results"][0][
            "document"]["id"] != ids["minutes"]
    finally:
        lib.close()


def _rows_in_pages(lib: Library, table: str, needle: str) -> int:
    """The rows, live or dead, in ``table``'s pages whose bytes hold ``needle``."""
    with lib.db.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        return int(conn.execute(text(
            "SELECT count(*) FROM generate_series(0, CAST(pg_relation_size(CAST(:t AS TEXT)) / "
            "CAST(current_setting('block_size') AS INT) AS INT) - 1) AS b, "
            "heap_page_items(get_raw_page(CAST(:t AS TEXT), b)) AS h "
            "WHERE position(convert_to(:n, 'UTF8') IN h.t_data) > 0"),
            {"t": table, "n": needle}).scalar_one())


def test_database_urls():
    assert engine_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert engine_url("postgres://h/db") == "postgresql+psycopg://h/db"
    assert engine_url("postgresql+psycopg2://h/db") == "postgresql+psycopg://h/db"
    assert engine_url("sqlite:////x/y.db") == "sqlite:////x/y.db"
    with pytest.raises(ConfigError, match="SQLite or PostgreSQL"):
        engine_url("mysql://h/db")
    with pytest.raises(ConfigError, match="not a URL"):
        engine_url("just-a-name")


def test_backup_names_pg_dump_and_compact_rewrites_the_tables(pg, tmp_path, fixtures_dir):
    from doclib import erase
    from doclib.errors import BadRequest
    from doclib.maintenance import backup

    lib = _library(tmp_path, pg.new_database())
    try:
        ids = _fill(lib, tmp_path, fixtures_dir)
        with pytest.raises(BadRequest, match="pg_dump"):
            backup(lib, tmp_path / "bk")
        assert not (tmp_path / "bk").exists()
        delete_documents(lib, [ids["minutes"], ids["draft"]])
        done = erase.compact(lib)
        assert done["wal_emptied"] and done["bytes"] > 0
        assert erase.pending(lib) is None
        assert search(lib, MEMBER, "budget schools", k=20)["results"]
    finally:
        lib.close()

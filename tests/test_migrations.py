"""The Alembic migrations and the table definitions agree; upgrades keep data."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from doclib import store


def test_models_match_migrations(lib):
    with lib.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), store.metadata)
    # the lexical index's tables are not SQLAlchemy tables: FTS5's own shadow
    # tables (chunk_terms, chunk_terms_data, ...), on PostgreSQL migration
    # 0014's (chunk_terms, chunk_terms_postings and its index, lexical_totals ...)
    def lexical(d) -> bool:
        table = d[1] if d[0] == "remove_table" else getattr(d[1], "table", None)
        return d[0] in ("remove_table", "remove_index") and table is not None \
            and table.name.startswith(("chunk_terms", "lexical_totals"))

    diff = [d for d in diff if not lexical(d)]
    assert diff == []


def test_migrate_is_idempotent_and_keeps_data(lib):
    with lib.db.begin() as conn:
        conn.execute(store.audit.insert().values(at="now", action="test"))
    lib.db.migrate()
    with lib.db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit")).scalar_one() == 1
    assert lib.db.current_revision() == lib.db.head_revision()


@pytest.mark.sqlite_only('SQLite pragmas')
def test_sqlite_runs_in_wal_mode(lib):
    with lib.db.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    assert "chunk_terms" in inspect(lib.db.engine).get_table_names()


def _counts(lib) -> dict[str, int]:
    with lib.db.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("documents", "chunks", "document_versions", "jobs")}


def test_a_document_inserted_without_access_is_members_only_after_0012(lib, tmp_path):
    """Migration 0012 rebuilds the documents table (SQLite changes a default
    only so): the chunks, versions and jobs referring to it survive both
    ways (dropping the old table with foreign keys on would cascade), the
    high-water trigger of 0008 is there again, and a row inserted without an
    access level is members-only (it was public before)."""
    from doclib.ingest import IngestOptions, ingest_file

    p = tmp_path / "minutes.txt"
    p.write_text("Steering committee minutes on the budget for youth mentoring.")
    assert ingest_file(lib, p, IngestOptions(access="public"), source_path=str(p)).status == "ready"
    p.write_text("Steering committee minutes, second version, on school mediation.")
    assert ingest_file(lib, p, IngestOptions(), source_path=str(p)).status == "ready"
    before = _counts(lib)
    assert before["chunks"] and before["document_versions"] == 1
    lib.db.downgrade("0011")
    assert _counts(lib) == before
    lib.db.migrate()
    assert _counts(lib) == before
    with lib.db.connect() as conn:
        if lib.db.is_sqlite:
            triggers = {r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        else:
            triggers = {r[0] for r in conn.exec_driver_sql("SELECT tgname FROM pg_trigger")}
        assert "documents_high_water" in triggers
    with lib.db.begin() as conn:
        conn.execute(store.documents.insert().values(
            id=store.new_id(store.documents), sha256="0" * 64, original_filename="x.txt",
            size=1, kind="txt", status="failed", created_at="now", updated_at="now"))
        access = conn.execute(text("SELECT access FROM documents WHERE sha256 = :s"),
                              {"s": "0" * 64}).scalar_one()
    assert access == 1

"""The Alembic migrations and the table definitions agree; upgrades keep data."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from doclib import store


def test_models_match_migrations(lib):
    with lib.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), store.metadata)
    # FTS5's own shadow tables (chunk_terms, chunk_terms_data, ...) are not SQLAlchemy tables
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("chunk_terms"))]
    assert diff == []


def test_migrate_is_idempotent_and_keeps_data(lib):
    with lib.db.begin() as conn:
        conn.execute(store.audit.insert().values(at="now", action="test"))
    lib.db.migrate()
    with lib.db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit")).scalar_one() == 1
    assert lib.db.current_revision() == lib.db.head_revision()


def test_sqlite_runs_in_wal_mode(lib):
    with lib.db.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    assert "chunk_terms" in inspect(lib.db.engine).get_table_names()

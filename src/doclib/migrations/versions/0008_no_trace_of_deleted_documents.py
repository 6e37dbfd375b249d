"""no trace of deleted documents: ids never reused, compaction pending

SQLite gives a new row the largest id plus one, so deleting the newest
document (or chunk) handed its id to the next one: links, job reports and
the FAISS ids of a deleted document then named another.  Triggers keep
the largest id ever deleted in ``meta`` (``documents_high_water``,
``chunks_high_water``); ``store.new_id`` gives new rows an id above both it
and the largest id present.

A library from before this revision may keep traces of documents deleted
earlier (FTS5 delete markers holding their terms, free pages holding their
text, job reports naming them): when a job names a document that is gone,
``meta.compaction_pending`` asks for ``doclib compact`` (``doclib check``
says so, ``--repair`` does it).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from doclib.migrations import dialect, drop_trigger, pg_trigger

revision = "0008"
down_revision = "0007"

TABLES = ("documents", "chunks")


def high_water(table: str) -> None:
    """The trigger that keeps the largest id ever deleted from ``table``."""
    key = f"{table}_high_water"
    if dialect() == "postgresql":
        pg_trigger(f"{table}_high_water", table, "AFTER DELETE",
                   f"IF OLD.id > coalesce((SELECT CAST(value AS INTEGER) FROM meta "
                   f"WHERE key = '{key}'), 0) THEN INSERT INTO meta(key, value) "
                   f"VALUES ('{key}', CAST(OLD.id AS TEXT)) ON CONFLICT (key) "
                   f"DO UPDATE SET value = EXCLUDED.value; END IF;")
        return
    op.execute(
        f"CREATE TRIGGER {table}_high_water AFTER DELETE ON {table} "
        f"WHEN OLD.id > coalesce((SELECT CAST(value AS INTEGER) FROM meta "
        f"WHERE key = '{key}'), 0) "
        f"BEGIN INSERT OR REPLACE INTO meta(key, value) VALUES ('{key}', OLD.id); END")


def upgrade() -> None:
    for table in TABLES:
        high_water(table)
    if dialect() == "sqlite":
        # the condition of erase.ORPHAN_JOB, as it is at this revision
        doc = "coalesce(document_id, json_extract(report, '$.document_id'))"
        op.execute(
            "INSERT OR REPLACE INTO meta(key, value) SELECT 'compaction_pending', "
            "'documents deleted before revision 0008' WHERE EXISTS (SELECT 1 FROM jobs "
            "WHERE status NOT IN ('queued', 'processing') AND json_valid(report) "
            f"AND {doc} IS NOT NULL AND {doc} NOT IN (SELECT id FROM documents))")


def downgrade() -> None:
    for table in TABLES:
        drop_trigger(f"{table}_high_water", table)
        op.execute(f"DELETE FROM meta WHERE key = '{table}_high_water'")
    op.execute("DELETE FROM meta WHERE key = 'compaction_pending'")

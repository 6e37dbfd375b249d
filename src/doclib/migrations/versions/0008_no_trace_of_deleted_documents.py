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

revision = "0008"
down_revision = "0007"

TABLES = ("documents", "chunks")


def upgrade() -> None:
    for table in TABLES:
        key = f"{table}_high_water"
        op.execute(
            f"CREATE TRIGGER {table}_high_water AFTER DELETE ON {table} "
            f"WHEN OLD.id > coalesce((SELECT CAST(value AS INTEGER) FROM meta "
            f"WHERE key = '{key}'), 0) "
            f"BEGIN INSERT OR REPLACE INTO meta(key, value) VALUES ('{key}', OLD.id); END")
    if op.get_bind().dialect.name == "sqlite":
        # the condition of erase.ORPHAN_JOB, as it is at this revision
        doc = "coalesce(document_id, json_extract(report, '$.document_id'))"
        op.execute(
            "INSERT OR REPLACE INTO meta(key, value) SELECT 'compaction_pending', "
            "'documents deleted before revision 0008' WHERE EXISTS (SELECT 1 FROM jobs "
            "WHERE status NOT IN ('queued', 'processing') AND json_valid(report) "
            f"AND {doc} IS NOT NULL AND {doc} NOT IN (SELECT id FROM documents))")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_high_water")
        op.execute(f"DELETE FROM meta WHERE key = '{table}_high_water'")
    op.execute("DELETE FROM meta WHERE key = 'compaction_pending'")

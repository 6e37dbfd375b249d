"""a document whose access is not given is members-only, in the database too

Every insert names the access level (``audience.DEFAULT_ACCESS`` is
members), but the column's default was 0 (public): a future insert that
forgot the level would have published.  The default is now the members
level, so a forgotten level fails closed.

On SQLite a column default changes only by rebuilding the table (a batch
copy); the copy drops the table's triggers, so the high-water trigger of
migration 0008 is created again.  ``Database.migrate`` runs SQLite
migrations with foreign keys off (as SQLite's documented procedure for
rebuilding a table requires: dropping the old table must not cascade to
the chunks) and checks them before it commits.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"

_TRIGGER = (
    "CREATE TRIGGER documents_high_water AFTER DELETE ON documents "
    "WHEN OLD.id > coalesce((SELECT CAST(value AS INTEGER) FROM meta "
    "WHERE key = 'documents_high_water'), 0) "
    "BEGIN INSERT OR REPLACE INTO meta(key, value) VALUES ('documents_high_water', OLD.id); END")


def _set_default(value: str) -> None:
    with op.batch_alter_table("documents") as batch:
        batch.alter_column("access", existing_type=sa.Integer(), existing_nullable=False,
                           server_default=value)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS documents_high_water")
        op.execute(_TRIGGER)


def upgrade() -> None:
    _set_default("1")


def downgrade() -> None:
    _set_default("0")

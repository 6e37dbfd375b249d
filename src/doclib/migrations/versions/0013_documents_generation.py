"""a counter of changes to what the visible sets are made of

Building a caller's visible set (every visible document's row) costs time
that grows with the library; each process keeps the sets it built
(``audience.VisibleSets``) and reuses one while ``meta.documents_generation``
is unchanged.  Triggers bump the counter in the transaction of every
insert, update or delete of a document, an event or a workshop (the rows
of a visible set join them), so a set built at one value is the set at
that value: a change made by any process, or by hand in SQL, is seen by
the next search.  The counter starts at a random value, so another
library's database put in this one's place (a restore) does not meet a
value a process has seen.

Revision ID: 0013
Revises: 0012
"""

import secrets

from alembic import op

from doclib.migrations import dialect, drop_trigger, pg_trigger

revision = "0013"
down_revision = "0012"

KEY = "documents_generation"
TABLES = ("documents", "events", "workshops")
EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    op.execute(f"DELETE FROM meta WHERE key = '{KEY}'")
    op.execute(f"INSERT INTO meta(key, value) VALUES ('{KEY}', '{secrets.randbits(48)}')")
    bump = f"UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = '{KEY}';"
    for table in TABLES:
        if dialect() == "postgresql":  # once per statement: any change moves it
            pg_trigger(f"{table}_generation", table, "AFTER " + " OR ".join(EVENTS), bump,
                       each="STATEMENT")
            continue
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_generation AFTER {event} ON {table} "
                f"BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                f"WHERE key = '{KEY}'; END")


def downgrade() -> None:
    for table in TABLES:
        if dialect() == "postgresql":
            drop_trigger(f"{table}_generation", table)
        for event in EVENTS:
            drop_trigger(f"{table}_{event.lower()}_generation", table)
    op.execute(f"DELETE FROM meta WHERE key = '{KEY}'")

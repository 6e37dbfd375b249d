"""access changes move the terms in Python, not in a trigger

Migration 0004 moved a document's chunks between the audiences' lexical
tables with a trigger on ``documents.access``: business logic invisible
from Python, and nothing on another database.  ``audience.update_row``
does it now, in the transaction that changes the access; the trigger goes.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"

LEVELS = (0, 1)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # 0004 made it on SQLite only
        op.execute("DROP TRIGGER IF EXISTS documents_access_terms")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # the trigger of 0004, as it was
    moves = "\n".join(
        f"DELETE FROM chunk_terms_l{level} WHERE rowid IN "
        "(SELECT id FROM chunks WHERE document_id = NEW.id);\n"
        f"INSERT INTO chunk_terms_l{level}(rowid, terms) SELECT rowid, terms FROM chunk_terms "
        f"WHERE NEW.access <= {level} AND rowid IN "
        "(SELECT id FROM chunks WHERE document_id = NEW.id);"
        for level in LEVELS)
    op.execute("CREATE TRIGGER documents_access_terms AFTER UPDATE OF access ON documents "
               f"WHEN NEW.access IS NOT OLD.access BEGIN\n{moves}\nEND")

"""document structure for reading

``documents.structure`` holds what the extractors saw of a document's
structure, per page: headings, paragraphs, list items with their numbers,
tables (JSON, ``doclib.extract.blocks``), for the document page.  It is
never searched and never holds speaker notes.

Documents ingested before this revision have none (NULL): their page shows
their passages as before, until they are extracted again (``doclib
reindex --rechunk``, or a new version of the file).

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    # a plain ALTER TABLE: a batch (copy and rename) would drop the
    # triggers on documents (0004, 0008)
    op.add_column("documents", sa.Column("structure", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE documents DROP COLUMN structure")  # SQLite >= 3.35

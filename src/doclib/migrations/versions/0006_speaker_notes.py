"""speaker notes kept apart

PPTX speaker notes are no longer part of a slide's text: they become
passages of their own (``chunks.source = 'notes'``) only where the
document's readers may see them.  ``documents.speaker_notes`` holds a
document's own choice ('include' or 'exclude'); NULL lets the setting
``extract.speaker_notes`` decide.

Presentations ingested before this revision have their notes inside their
slides' passages; their ids are kept in ``meta`` (``speaker_notes_pending``)
until they are extracted again (``doclib check --repair`` or
``doclib reindex --rechunk``).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # a plain ALTER TABLE: a batch (copy and rename) would drop the
    # documents_access_terms trigger of 0004
    op.add_column("documents", sa.Column("speaker_notes", sa.String(length=10), nullable=True))
    # the notes passages are looked up whenever a library opens (a stricter
    # setting removes them): without it, a scan of every chunk row
    op.create_index("ix_chunks_source", "chunks", ["source"])
    ids = ("string_agg(CAST(id AS TEXT), ',')" if op.get_bind().dialect.name == "postgresql"
           else "group_concat(id)")
    op.execute(f"INSERT INTO meta(key, value) SELECT 'speaker_notes_pending', {ids} "
               "FROM documents WHERE kind = 'pptx' AND stored_name IS NOT NULL "
               "HAVING count(*) > 0")


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key = 'speaker_notes_pending'")
    op.drop_index("ix_chunks_source", table_name="chunks")
    op.execute("ALTER TABLE documents DROP COLUMN speaker_notes")  # SQLite >= 3.35

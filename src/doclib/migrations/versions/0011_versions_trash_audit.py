"""versions of a document's file, a trash, an audit log that can be searched

- ``document_versions``: the originals a replacement (or a restore) made
  previous, each with its file name, size, hash, when it became current and
  by whom, and when it was replaced and by whom.  Their files stay under
  library/files until the document is deleted for good.
- ``documents.deleted_at`` / ``deleted_by``: a document in the trash (its
  status is ``deleted``; its passages left both indexes when it was
  trashed).
- ``audit.document_id`` and ``audit.via`` (web, api, cli): the log is
  filtered by document and tells where a change came from; indexes for the
  filters.  Older rows keep NULL / '' (their target still names them).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "document_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_filename", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("added_at", sa.String(length=40), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("replaced_at", sa.String(length=40), nullable=False),
        sa.Column("replaced_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["added_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["replaced_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,  # a restored (deleted) version's id is never given again
    )
    op.create_index("ix_document_versions_document_id", "document_versions", ["document_id"])
    # plain ALTER TABLE ADD COLUMN: a batch copy would drop the table's triggers
    op.add_column("documents", sa.Column("deleted_at", sa.String(length=40), nullable=True))
    op.add_column("documents", sa.Column("deleted_by", sa.Integer(), nullable=True))
    op.add_column("audit", sa.Column("document_id", sa.Integer(), nullable=True))
    op.add_column("audit", sa.Column("via", sa.String(length=10), nullable=False,
                                     server_default=""))
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_action", "audit", ["action"])
    op.create_index("ix_audit_document_id", "audit", ["document_id"])
    op.create_index("ix_audit_user_id", "audit", ["user_id"])


def downgrade() -> None:
    for name in ("ix_audit_user_id", "ix_audit_document_id", "ix_audit_action", "ix_audit_at"):
        op.drop_index(name, table_name="audit")
    op.execute("ALTER TABLE audit DROP COLUMN via")
    op.execute("ALTER TABLE audit DROP COLUMN document_id")
    op.execute("ALTER TABLE documents DROP COLUMN deleted_by")
    op.execute("ALTER TABLE documents DROP COLUMN deleted_at")
    op.drop_index("ix_document_versions_document_id", table_name="document_versions")
    op.drop_table("document_versions")

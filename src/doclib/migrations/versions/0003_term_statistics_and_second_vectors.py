"""term statistics view and second-model vectors

- ``chunk_terms_vocab``: an fts5vocab view of the lexical index (no storage
  of its own), read for the document frequencies of a query's terms.
- ``chunks.embedding2``: the passage vector of the second embedding model
  (``embed.second_model``), for chunks in its languages, and
  ``chunks.embedding2_model``, the model that made it (a vector of another
  model is treated as missing).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embedding2", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("embedding2_model", sa.String(length=200), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE chunk_terms_vocab USING fts5vocab(chunk_terms, 'row')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS chunk_terms_vocab")
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.drop_column("embedding2_model")
        batch_op.drop_column("embedding2")

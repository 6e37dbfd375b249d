"""durable upload jobs

A job keeps what it needs to run (``payload``: the upload's file under
``<library_dir>/incoming``, its options, name, uploader, the document it
replaces) and who runs it (``owner``: host, pid and start time of the
process), so a job whose process died is resumed instead of lost.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("started_at")
        batch_op.drop_column("owner")
        batch_op.drop_column("payload")

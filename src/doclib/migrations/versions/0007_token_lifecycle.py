"""API tokens with a name, an expiry, a revocation time and a last use

A revoked token keeps its row (``revoked_at`` is set once and never
cleared), so it can be listed and is never revived: disabling an account
revokes its tokens, and enabling it again does not bring them back.
Tokens of accounts disabled before this revision are revoked here for the
same reason.  Sessions keep their columns: their idle and absolute
lifetimes are checked against ``last_seen`` and ``created_at``.

Revision ID: 0007
Revises: 0006
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("name", sa.String(length=100), nullable=False,
                                          server_default=""))
    op.add_column("api_tokens", sa.Column("expires_at", sa.String(length=40), nullable=True))
    op.add_column("api_tokens", sa.Column("revoked_at", sa.String(length=40), nullable=True))
    op.add_column("api_tokens", sa.Column("last_used_at", sa.String(length=40), nullable=True))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    op.execute(sa.text("UPDATE api_tokens SET name = 'token-' || id"))
    op.execute(sa.text("UPDATE api_tokens SET revoked_at = :now WHERE user_id IN "
                       "(SELECT id FROM users WHERE active = 0)").bindparams(now=now))


def downgrade() -> None:
    # a token revoked or expired here would work again without these columns
    op.execute("DELETE FROM api_tokens WHERE revoked_at IS NOT NULL OR expires_at IS NOT NULL")
    for column in ("last_used_at", "revoked_at", "expires_at", "name"):
        op.execute(f"ALTER TABLE api_tokens DROP COLUMN {column}")  # SQLite >= 3.35

"""sign-in hardening: failed sign-ins counted per account name and per client address, and
refresh tokens grouped in families (a reused one revokes its whole family)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = antrean.persistence.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("refresh_token") as batch:
        batch.add_column(sa.Column("family", sa.String(32), nullable=True))
        batch.add_column(sa.Column("revoked_reason", sa.String(10), nullable=True))
        batch.create_index("ix_refresh_token_family", ["family"])
    op.create_table(
        "sign_in_throttle",
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", _AT, nullable=False),
        sa.Column("locked_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("facility_id", "key", name="pk_sign_in_throttle"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("refresh_token") as batch:
        batch.drop_index("ix_refresh_token_family")
        batch.drop_column("revoked_reason")
        batch.drop_column("family")

"""sign-in hardening: failed sign-ins counted per account name and per client address,
refresh tokens grouped in families (a reused one revokes its whole family), two-step sign-in
(TOTP secrets and recovery codes)

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
    op.create_table(
        "two_factor",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("confirmed_at", _AT, nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name="fk_two_factor_user_id_user_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_two_factor"),
    )
    op.create_table(
        "recovery_code",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name="fk_recovery_code_user_id_user_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "code_hash", name="pk_recovery_code"),
    )


def downgrade() -> None:
    op.drop_table("recovery_code")
    op.drop_table("two_factor")
    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("refresh_token") as batch:
        batch.drop_index("ix_refresh_token_family")
        batch.drop_column("revoked_reason")
        batch.drop_column("family")

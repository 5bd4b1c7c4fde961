"""single sign-on: staff accounts linked to their OpenID provider's issuer and subject

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = antrean.persistence.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "external_identity",
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("last_sign_in_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name="fk_external_identity_facility_id_facility"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name="fk_external_identity_user_id_user_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("facility_id", "issuer", "subject", name="pk_external_identity"),
        sa.UniqueConstraint("user_id", name="uq_external_identity_user_id"),
    )


def downgrade() -> None:
    op.drop_table("external_identity")

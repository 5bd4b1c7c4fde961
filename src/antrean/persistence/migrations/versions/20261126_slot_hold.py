"""slot holds: a place in a slot kept for a few minutes while a booking is finished

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = antrean.persistence.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slot_hold",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("slot_id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name="fk_slot_hold_facility_id_facility"
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slot.id"], name="fk_slot_hold_slot_id_slot", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["user_account.id"],
            name="fk_slot_hold_account_id_user_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_slot_hold"),
    )
    op.create_index("ix_slot_hold_expires_at", "slot_hold", ["expires_at"])
    op.create_index("ix_slot_hold_slot_id_expires_at", "slot_hold", ["slot_id", "expires_at"])
    op.create_index("ix_slot_hold_account_id_expires_at", "slot_hold", ["account_id", "expires_at"])


def downgrade() -> None:
    op.drop_table("slot_hold")

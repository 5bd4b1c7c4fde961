"""clinic service time; covering index for the queue order

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 13:06:45
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ORDER = ["facility_id", "clinic_id", "day", "state", "priority", "sort_at", "number"]


def upgrade() -> None:
    op.create_table(
        "clinic_service_time",
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("mean_minutes", sa.Float(), nullable=False),
        sa.Column("variance", sa.Float(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinic.id"],
            name=op.f("fk_clinic_service_time_clinic_id_clinic"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_clinic_service_time_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_clinic_service_time")),
    )
    with op.batch_alter_table("ticket") as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_facility_id_clinic_id_day_state"))
        batch_op.create_index("ix_ticket_queue_order", _ORDER, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch_op:
        batch_op.drop_index("ix_ticket_queue_order")
        batch_op.create_index(
            batch_op.f("ix_ticket_facility_id_clinic_id_day_state"),
            ["facility_id", "clinic_id", "day", "state"],
            unique=False,
        )
    op.drop_table("clinic_service_time")

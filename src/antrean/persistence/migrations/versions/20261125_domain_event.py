"""domain events, stored with every change

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "domain_event",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("clinic_id", _ID, nullable=True),
        sa.Column("ticket_id", _ID, nullable=True),
        sa.Column("appointment_id", _ID, nullable=True),
        sa.Column("patient_id", _ID, nullable=True),
        sa.Column("actor_user_id", _ID, nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_event")),
    )
    op.create_index(
        op.f("ix_domain_event_facility_id_clinic_id_id"),
        "domain_event",
        ["facility_id", "clinic_id", "id"],
    )
    op.create_index(op.f("ix_domain_event_ticket_id_id"), "domain_event", ["ticket_id", "id"])
    op.create_index(
        op.f("ix_domain_event_appointment_id_id"), "domain_event", ["appointment_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("domain_event")

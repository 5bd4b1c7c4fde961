"""device links: display boards and kiosks opened by a secret link; an appointment's history

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = antrean.persistence.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_link",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("clinic_ids", sa.String(400), nullable=False),
        sa.Column("sound", sa.Boolean(), nullable=False),
        sa.Column("printer", sa.String(260), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("revoked_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name="fk_device_link_facility_id_facility"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_device_link"),
        sa.UniqueConstraint("token_hash", name="uq_device_link_token_hash"),
    )
    op.create_index("ix_device_link_facility_id", "device_link", ["facility_id"])
    op.create_index(
        "ix_domain_event_appointment",
        "domain_event",
        ["appointment_id", "id"],
        sqlite_where=sa.text("appointment_id IS NOT NULL"),
        postgresql_where=sa.text("appointment_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_domain_event_appointment", table_name="domain_event")
    op.drop_index("ix_device_link_facility_id", table_name="device_link")
    op.drop_table("device_link")

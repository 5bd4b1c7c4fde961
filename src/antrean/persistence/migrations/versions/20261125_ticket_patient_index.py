"""index: a patient's tickets of a day (the patient's own page)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ticket_patient_day", "ticket", ["facility_id", "patient_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_ticket_patient_day", table_name="ticket")

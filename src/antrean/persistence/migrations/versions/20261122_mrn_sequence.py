"""medical record numbers from a sequence on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Medical record numbers need to be unique, not gap-free: on PostgreSQL a sequence hands
    # them out without the row lock a counter row holds until commit. SQLite keeps the counter
    # row (its writers take turns anyway).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE IF NOT EXISTS mrn_seq")
        op.execute(
            "SELECT setval('mrn_seq', GREATEST((SELECT COALESCE(MAX(value), 0) FROM counter "
            "WHERE name = 'mrn'), 1), (SELECT COUNT(*) > 0 FROM counter WHERE name = 'mrn'))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS mrn_seq")

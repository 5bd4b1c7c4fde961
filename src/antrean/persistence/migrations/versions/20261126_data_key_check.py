"""data key check: one known value sealed with the keys the database is written with

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_key_check",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("probe", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_key_check"),
    )


def downgrade() -> None:
    op.drop_table("data_key_check")

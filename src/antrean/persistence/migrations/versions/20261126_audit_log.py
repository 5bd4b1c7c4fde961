"""the audit log: append-only entries in keyed hash chains, and each chain's head

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = antrean.persistence.types.UTCDateTime(timezone=True)

_PG_GUARD = """
CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only';
END $$;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
"""
_SQLITE_GUARD = [
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
]


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("chain", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("actor_user_id", _ID, nullable=True),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("roles", sa.String(100), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("record_type", sa.String(20), nullable=False),
        sa.Column("record_id", sa.String(40), nullable=False),
        sa.Column("patient_id", _ID, nullable=True),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
        sa.UniqueConstraint(
            "facility_id", "chain", "seq", name="uq_audit_entry_facility_id_chain_seq"
        ),
    )
    op.create_index(
        "ix_audit_entry_facility_id_patient_id_id",
        "audit_entry",
        ["facility_id", "patient_id", "id"],
    )
    op.create_index(
        "ix_audit_entry_facility_id_actor_user_id_id",
        "audit_entry",
        ["facility_id", "actor_user_id", "id"],
    )
    op.create_index("ix_audit_entry_facility_id_at", "audit_entry", ["facility_id", "at"])
    op.create_table(
        "audit_head",
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("chain", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "chain", name="pk_audit_head"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(_PG_GUARD)
    else:
        for statement in _SQLITE_GUARD:
            bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP TRIGGER audit_entry_append_only ON audit_entry")
        bind.exec_driver_sql("DROP FUNCTION audit_entry_append_only()")
    op.drop_table("audit_head")
    op.drop_table("audit_entry")

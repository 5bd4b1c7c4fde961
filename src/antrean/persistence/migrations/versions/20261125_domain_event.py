"""domain events, stored with every change; the ticket timeline becomes part of them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 17:10:00

Every change a patient, a display or another system cares about is now a row of
`domain_event`. A ticket's timeline (`ticket_event` until now) is made of its events: the rows
are copied with their ids, so a display's Last-Event-ID stays valid, and the old table goes.
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
_KIND = """CASE
    WHEN e.action IN ('issue', 'check_in', 'transfer_in') THEN 'ticket.issued'
    WHEN e.action = 'call' THEN 'ticket.called'
    WHEN e.action = 'recall' THEN 'ticket.recalled'
    WHEN e.action = 'start' THEN 'ticket.started'
    WHEN e.action = 'finish' THEN 'ticket.finished'
    WHEN e.action = 'skip' THEN 'ticket.skipped'
    WHEN e.action = 'requeue' THEN 'ticket.requeued'
    WHEN e.action = 'cancel' THEN 'ticket.cancelled'
    WHEN e.action = 'transfer' THEN 'ticket.transferred'
    WHEN e.action = 'undo' THEN 'ticket.undone'
    WHEN e.action = 'close_day' AND e.to_state = 'done' THEN 'ticket.finished'
    ELSE 'ticket.no_show'
END"""
_FIELDS = (
    "'label', t.label, 'status_code', t.status_code, 'state', e.to_state, "
    "'from_state', e.from_state, 'action', e.action, 'counter', e.counter"
)
_DATA = {
    "sqlite": f"json_object({_FIELDS})",
    "postgresql": f"json_build_object({_FIELDS})::text",
}


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
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_event")),
    )
    # Ticket events only: live streams and the ticket timeline read them; other events cost
    # no index entry when they are written.
    tickets_only = sa.text("ticket_id IS NOT NULL")
    op.create_index(
        op.f("ix_domain_event_facility_id_clinic_id_id"),
        "domain_event",
        ["facility_id", "clinic_id", "id"],
        sqlite_where=tickets_only,
        postgresql_where=tickets_only,
    )
    op.create_index(
        op.f("ix_domain_event_ticket_id_id"),
        "domain_event",
        ["ticket_id", "id"],
        sqlite_where=tickets_only,
        postgresql_where=tickets_only,
    )
    dialect = op.get_bind().dialect.name
    op.execute(
        "INSERT INTO domain_event (id, facility_id, at, kind, clinic_id, ticket_id, "
        "patient_id, actor_user_id, action, data) "
        f"SELECT e.id, e.facility_id, e.at, {_KIND}, t.clinic_id, t.id, t.patient_id, "
        f"e.actor_user_id, e.action, {_DATA[dialect]} "
        "FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id ORDER BY e.id"
    )
    if dialect == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('domain_event', 'id'), "
            "COALESCE((SELECT max(id) FROM domain_event), 0) + 1, false)"
        )
    op.drop_table("ticket_event")


def downgrade() -> None:
    op.create_table(
        "ticket_event",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", _ID, nullable=True),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("counter", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_ticket_event_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_event_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_event")),
    )
    op.create_index(op.f("ix_ticket_event_ticket_id_at"), "ticket_event", ["ticket_id", "at"])
    dialect = op.get_bind().dialect.name
    extract = {
        "sqlite": "json_extract(data, '$.{key}')",
        "postgresql": "(data::json ->> '{key}')",
    }[dialect]
    states = ", ".join(extract.format(key=key) for key in ("from_state", "state"))
    op.execute(
        "INSERT INTO ticket_event (id, facility_id, ticket_id, at, actor_user_id, from_state, "
        "to_state, action, counter) "
        f"SELECT id, facility_id, ticket_id, at, actor_user_id, {states}, action, "
        f"{extract.format(key='counter')} "
        "FROM domain_event WHERE ticket_id IS NOT NULL AND action IS NOT NULL ORDER BY id"
    )
    op.drop_table("domain_event")

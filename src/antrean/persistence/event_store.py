"""SQL storage of domain events: written in the transaction of the change they announce.

On PostgreSQL with LISTEN/NOTIFY, the insert and the notification are one statement (one round
trip): PostgreSQL delivers the notification only if the transaction commits, in commit order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection

from antrean.domain.events import DomainEvent, EventKind
from antrean.persistence import tables as t
from antrean.persistence.outbox_store import DRAFT_COLUMNS, SqlOutbox
from antrean.persistence.prepared import Prepared, insert_returning_id
from antrean.persistence.rows import Repository

_E, _T = t.domain_event, t.ticket
_VALUES = (
    "facility_id",
    "at",
    "kind",
    "clinic_id",
    "ticket_id",
    "appointment_id",
    "patient_id",
    "actor_user_id",
    "action",
    "data",
)
_INSERT = insert_returning_id(_E, _VALUES)
_NOTIFY_PREFIX = '{"id":0,'
# The statements written as text say which values need their column's type: instants, and
# the sealed data.
_typed = (bindparam("at", type_=_E.c.at.type), bindparam("data", type_=_E.c.data.type))
_INSERT_AND_NOTIFY = Prepared(
    text(
        "WITH e AS (INSERT INTO domain_event "
        f"({', '.join(_VALUES)}) VALUES ({', '.join(':' + v for v in _VALUES)}) RETURNING id) "
        "SELECT id, pg_notify(:channel, '{\"id\":' || id || ',' || :tail) FROM e"
    ).bindparams(*_typed)
)


def _with_message(notify: bool) -> Prepared:
    """PostgreSQL: the event and the message it causes in one statement, one round trip
    (the outbox row costs a booking almost nothing more)."""
    o = t.outbox_message
    message = ", ".join(DRAFT_COLUMNS)
    message_values = ", ".join(":m_" + c for c in DRAFT_COLUMNS)
    select_part = (
        "SELECT id, pg_notify(:channel, '{\"id\":' || id || ',' || :tail) FROM e"
        if notify
        else "SELECT id FROM e"
    )
    timed = [*_typed] + [
        bindparam("m_" + c, type_=o.c[c].type)
        for c in ("due_at", "expires_at", "created_at", "updated_at", "address", "data")
    ]
    return Prepared(
        text(
            "WITH e AS (INSERT INTO domain_event "
            f"({', '.join(_VALUES)}) VALUES ({', '.join(':' + v for v in _VALUES)}) RETURNING id), "
            f"m AS (INSERT INTO outbox_message ({message}) VALUES ({message_values}) "
            "ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING) " + select_part
        ).bindparams(*timed)
    )


_INSERT_WITH_MESSAGE = _with_message(notify=False)
_INSERT_NOTIFY_WITH_MESSAGE = _with_message(notify=True)
_COLUMNS = (
    _E.c.id,
    _E.c.kind,
    _E.c.facility_id,
    _E.c.at,
    _E.c.clinic_id,
    _E.c.ticket_id,
    _E.c.appointment_id,
    _E.c.patient_id,
    _E.c.actor_user_id,
    _E.c.data,
)
_QUEUE_KINDS = frozenset(k.value for k in EventKind if k.is_queue)


def _event(row: Sequence[Any]) -> DomainEvent:
    event_id, kind, facility_id, at, clinic, ticket, appointment, patient, actor, data = row
    return DomainEvent(
        id=event_id,
        kind=EventKind(kind),
        facility_id=facility_id,
        at=at,
        clinic_id=clinic,
        ticket_id=ticket,
        appointment_id=appointment,
        patient_id=patient,
        actor_user_id=actor,
        data=json.loads(data),
    )


class SqlEvents(Repository):
    def __init__(self, conn: Connection, notify_channel: str | None = None) -> None:
        super().__init__(conn)
        self.notify_channel = notify_channel

    def add(self, event: DomainEvent, message: Mapping[str, Any] | None = None) -> DomainEvent:
        """Store the event; with `message` (an outbox row's values), the message too, in the
        same statement where the database allows it (PostgreSQL), else right after."""
        if message is not None and self.conn.dialect.name != "postgresql":
            stored = self.add(event)
            SqlOutbox(self.conn).add_values(message)
            return stored
        values = {
            "facility_id": event.facility_id,
            "at": event.at,
            "kind": event.kind.value,
            "clinic_id": event.clinic_id,
            "ticket_id": event.ticket_id,
            "appointment_id": event.appointment_id,
            "patient_id": event.patient_id,
            "actor_user_id": event.actor_user_id,
            "action": event.data.get("action") if event.kind.is_queue else None,
            "data": json.dumps(event.data, separators=(",", ":")),
        }
        if message is not None:
            values.update({"m_" + k: v for k, v in message.items()})
        if self.notify_channel is None:
            insert = _INSERT if message is None else _INSERT_WITH_MESSAGE
            return event.stored_as(int(insert.scalar(self.conn, values)))
        values["channel"] = self.notify_channel
        values["tail"] = event.to_json()[len(_NOTIFY_PREFIX) :]
        insert = _INSERT_AND_NOTIFY if message is None else _INSERT_NOTIFY_WITH_MESSAGE
        return event.stored_as(int(insert.scalar(self.conn, values)))

    def for_appointment(self, facility_id: int, appointment_id: int) -> list[DomainEvent]:
        rows = self.conn.execute(
            select(*_COLUMNS)
            .where(_E.c.facility_id == facility_id, _E.c.appointment_id == appointment_id)
            .order_by(_E.c.id)
        )
        return [_event(r) for r in rows]

    def _stream(self, facility_id: int, clinic_id: int | None, status_code: str | None) -> Any:
        stmt = select(*_COLUMNS).where(_E.c.facility_id == facility_id)
        if clinic_id is not None:  # ticket events: the partial index's condition, spelled out
            stmt = stmt.where(_E.c.clinic_id == clinic_id, _E.c.ticket_id.is_not(None))
        if status_code is not None:
            ticket = select(_T.c.id).where(_T.c.status_code == status_code).scalar_subquery()
            stmt = stmt.where(_E.c.ticket_id == ticket)
        return stmt

    def since(
        self,
        facility_id: int,
        *,
        after_id: int,
        clinic_id: int | None = None,
        status_code: str | None = None,
        limit: int = 500,
    ) -> list[DomainEvent]:
        stmt = (
            self._stream(facility_id, clinic_id, status_code)
            .where(_E.c.id > after_id)
            .order_by(_E.c.id)
            .limit(limit)
        )
        return [_event(row) for row in self.conn.execute(stmt)]

    def latest_ids(
        self,
        facility_id: int,
        *,
        clinic_id: int | None = None,
        status_code: str | None = None,
        limit: int = 200,
    ) -> list[int]:
        stmt = self._stream(facility_id, clinic_id, status_code)
        ids = stmt.with_only_columns(_E.c.id).order_by(_E.c.id.desc()).limit(limit)
        return list(self.conn.execute(ids).scalars())


def events_after(
    conn: Connection,
    after_id: int,
    *,
    clinics: frozenset[int],
    any_ticket: bool,
    limit: int = 1000,
) -> tuple[int, list[DomainEvent]]:
    """What an event tail has not seen yet, all facilities: the last id read, and the queue
    events someone follows (of these clinics, or of any ticket when `any_ticket`). Rows no one
    follows are passed over without being decoded."""
    stmt = select(*_COLUMNS).where(_E.c.id > after_id).order_by(_E.c.id).limit(limit)
    rows = conn.execute(stmt).all()
    if not rows:
        return after_id, []
    wanted = [
        _event(row)
        for row in rows
        if row.kind in _QUEUE_KINDS and (any_ticket or row.clinic_id in clinics)
    ]
    return rows[-1].id, wanted


def last_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(_E.c.id), 0))).scalar_one())

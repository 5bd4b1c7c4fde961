"""SQL storage for queue tickets and their timeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, literal_column, select, text, tuple_, update

from antrean.domain.catalog import Clinic, OpeningHours
from antrean.domain.common import Page
from antrean.domain.eta import EwmaServiceTime
from antrean.domain.queue import (
    Priority,
    Ticket,
    TicketSource,
    TicketState,
    effective_priority,
)
from antrean.persistence import tables as t
from antrean.persistence.prepared import Prepared, insert_returning_id
from antrean.persistence.rows import Repository
from antrean.services.ports import ClinicQueueFacts, TicketEventRow, TicketStep

_T = t.ticket
_E = t.domain_event  # a ticket's timeline: its events, with their actions
_COLUMNS = [
    _T.c[name]
    for name in (
        "id",
        "facility_id",
        "clinic_id",
        "day",
        "number",
        "label",
        "status_code",
        "patient_id",
        "source",
        "priority",
        "priority_reason",
        "state",
        "issued_at",
        "sort_at",
        "counter",
        "recalls",
    )
]
_BUSY = (TicketState.CALLED.value, TicketState.SERVING.value)

# Statements on the walk-in and status paths, built once (see persistence/prepared.py).
# Every column a ticket is read with, but its id; plus the appointment it may come from.
_TICKET_VALUES = (*(c.name for c in _COLUMNS if c.name != "id"), "appointment_id")
_INSERT_TICKET = insert_returning_id(_T, _TICKET_VALUES)
# People ahead of a ticket, counted in the order of `domain.queue.queue_order`: effective
# priority first (a normal ticket waiting longer than the aging time counts as priority), then
# place in line (sort_at, number). Written as a sum of counts over ranges of the queue-order
# index, one per stored priority, so the database walks index entries without evaluating the
# effective priority row by row. One statement per effective priority of the ticket itself;
# the ticket never counts itself (it is not strictly before itself, nor of another priority).
_sort_at = bindparam("sort_at", type_=_T.c.sort_at.type)
_before_me = tuple_(_T.c.sort_at, _T.c.number) < tuple_(_sort_at, bindparam("number"))
_aged = _T.c.sort_at <= bindparam("cutoff", type_=_T.c.sort_at.type)


def _waiting(priority: Priority, *conditions: Any) -> Any:
    return (
        select(func.count())
        .select_from(_T)
        .where(
            _T.c.facility_id == bindparam("facility_id"),
            _T.c.clinic_id == bindparam("clinic_id"),
            _T.c.day == bindparam("day"),
            _T.c.state == TicketState.WAITING.value,
            _T.c.priority == int(priority),
            *conditions,
        )
        .scalar_subquery()
    )


_N, _P, _EM = Priority.NORMAL, Priority.PRIORITY, Priority.EMERGENCY
_COUNT_AHEAD = {
    # Normal, not aged: every priority and emergency ticket, and the normal ones before it
    # (a normal ticket old enough to have aged is always before it).
    _N: Prepared(select(_waiting(_EM) + _waiting(_P) + _waiting(_N, _before_me))),
    # Priority (given, or by aging): emergencies, then priority and aged normal tickets in line.
    _P: Prepared(
        select(_waiting(_EM) + _waiting(_P, _before_me) + _waiting(_N, _aged, _before_me))
    ),
    _EM: Prepared(select(_waiting(_EM, _before_me))),
}
_sp, _sv, _cl, _st, _h = (
    t.service_point,
    t.service,
    t.clinic,
    t.clinic_service_time,
    t.clinic_hours,
)
_busy = _T.alias("busy")


def _facts_columns(day: Any) -> tuple[Any, ...]:
    """A clinic's queue facts for one day, as columns of a query over the clinic joined with its
    service-time row."""
    return (
        _cl.c.id,
        _cl.c.name,
        select(func.count()).where(_sp.c.clinic_id == _cl.c.id, _sp.c.active).scalar_subquery(),
        select(func.min(_sv.c.duration_minutes))
        .where(_sv.c.clinic_id == _cl.c.id, _sv.c.active)
        .scalar_subquery(),
        select(func.count(func.distinct(_busy.c.counter)))
        .where(
            _busy.c.facility_id == _cl.c.facility_id,
            _busy.c.clinic_id == _cl.c.id,
            _busy.c.day == day,
            # Constants, not bind parameters: an index range per state on both databases.
            _busy.c.state.in_([literal_column(f"'{state}'") for state in _BUSY]),
            _busy.c.counter.is_not(None),
        )
        .scalar_subquery(),
        _st.c.mean_minutes,
        _st.c.variance,
        _st.c.observations,
    )


_WITH_SERVICE_TIME = _cl.outerjoin(_st, _st.c.clinic_id == _cl.c.id)
_TICKET_WITH_FACTS = Prepared(
    select(*_COLUMNS, *_facts_columns(_T.c.day))
    .select_from(_T.join(_WITH_SERVICE_TIME, _cl.c.id == _T.c.clinic_id))
    .where(_T.c.status_code == bindparam("status_code"))
)
# The clinic, its queue facts and its opening hours (a row per window) in one query.
_CLINIC_COLUMNS = (_cl.c.facility_id, _cl.c.code, _cl.c.queue_prefix, _cl.c.is_open)
_QUEUE_CLINIC = Prepared(
    select(
        *_facts_columns(bindparam("day", type_=_T.c.day.type)),
        *_CLINIC_COLUMNS,
        _h.c.weekday,
        _h.c.opens_at,
        _h.c.closes_at,
    )
    .select_from(_WITH_SERVICE_TIME.outerjoin(_h, _h.c.clinic_id == _cl.c.id))
    .where(_cl.c.facility_id == bindparam("facility_id"), _cl.c.id == bindparam("clinic_id"))
    .order_by(_h.c.weekday, _h.c.opens_at)
)
_N_FACTS = len(_facts_columns(None))
_SAVE_SERVICE_TIME = text(
    "INSERT INTO clinic_service_time "
    "(clinic_id, facility_id, mean_minutes, variance, observations, updated_at) "
    "VALUES (:clinic_id, :facility_id, :mean_minutes, :variance, :observations, :updated_at) "
    "ON CONFLICT (clinic_id) DO UPDATE SET mean_minutes = excluded.mean_minutes, "
    "variance = excluded.variance, observations = excluded.observations, "
    "updated_at = excluded.updated_at"
).bindparams(bindparam("updated_at", type_=_st.c.updated_at.type))


def _facts(v: Sequence[Any]) -> ClinicQueueFacts:
    clinic_id, name, counters, typical, busy, mean, variance, observations = v
    # No row, or no visit measured (all undone): the typical duration applies.
    service = (
        EwmaServiceTime(mean=mean, variance=variance, observations=observations)
        if observations
        else None
    )
    return ClinicQueueFacts(clinic_id, name, counters, typical, busy, service)


_start, _finish = _E.alias("start_event"), _E.alias("finish_event")
# Visits that ended as finished: from the latest start to the latest finish of each, so a
# finish that was undone (and the ticket finished again later) counts once, at its real length.
_started, _finished = func.max(_start.c.at), func.max(_finish.c.at)
_RECENT_SERVICE = (
    select(_started, _finished)
    .select_from(_T)
    .join(_start, and_(_start.c.ticket_id == _T.c.id, _start.c.action == "start"))
    .join(_finish, and_(_finish.c.ticket_id == _T.c.id, _finish.c.action == "finish"))
    .where(
        _T.c.facility_id == bindparam("facility_id"),
        _T.c.clinic_id == bindparam("clinic_id"),
        _T.c.state == TicketState.DONE.value,
    )
    .group_by(_T.c.id)
    .having(_finished >= bindparam("since", type_=_E.c.at.type))
    .order_by(_finished.desc())
    .limit(bindparam("limit"))
)


def _ticket(row: Sequence[Any]) -> Ticket:
    v = list(row)
    v[8], v[9], v[11] = TicketSource(v[8]), Priority(v[9]), TicketState(v[11])
    return Ticket(*v)


class SqlTickets(Repository):
    def add(self, ticket: Ticket, appointment_id: int | None) -> int:
        k = ticket
        values = {
            "facility_id": k.facility_id,
            "clinic_id": k.clinic_id,
            "day": k.day,
            "number": k.number,
            "label": k.label,
            "status_code": k.status_code,
            "patient_id": k.patient_id,
            "appointment_id": appointment_id,
            "source": k.source.value,
            "priority": int(k.priority),
            "priority_reason": k.priority_reason,
            "state": k.state.value,
            "issued_at": k.issued_at,
            "sort_at": k.sort_at,
            "counter": k.counter,
            "recalls": k.recalls,
        }
        return int(_INSERT_TICKET.scalar(self.conn, values))

    def get(self, facility_id: int, ticket_id: int) -> Ticket | None:
        row = self.conn.execute(
            select(*_COLUMNS).where(_T.c.facility_id == facility_id, _T.c.id == ticket_id)
        ).first()
        return _ticket(row) if row else None

    def with_clinic_facts(self, status_code: str) -> tuple[Ticket, ClinicQueueFacts] | None:
        row = _TICKET_WITH_FACTS.first(self.conn, {"status_code": status_code})
        if row is None:
            return None
        n = len(_COLUMNS)
        return _ticket(row[:n]), _facts(row[n:])

    def queue_clinic(
        self, facility_id: int, clinic_id: int, day: date
    ) -> tuple[Clinic, ClinicQueueFacts] | None:
        params = {"facility_id": facility_id, "clinic_id": clinic_id, "day": day}
        rows = _QUEUE_CLINIC.run(self.conn, params)
        if not rows:
            return None
        first = rows[0]
        facts = _facts(first[:_N_FACTS])
        facility, code, prefix, is_open = first[_N_FACTS : _N_FACTS + 4]
        hours = [OpeningHours(r[-3], r[-2], r[-1]) for r in rows if r[-3] is not None]
        clinic = Clinic(clinic_id, facility, code, facts.clinic_name, prefix, is_open, hours)
        return clinic, facts

    def save_service_time(
        self, facility_id: int, clinic_id: int, estimate: EwmaServiceTime, at: datetime
    ) -> None:
        values = {
            "clinic_id": clinic_id,
            "facility_id": facility_id,
            "mean_minutes": estimate.mean,
            "variance": estimate.variance,
            "observations": estimate.observations,
            "updated_at": at,
        }
        self.conn.execute(_SAVE_SERVICE_TIME, values)

    def _day(self, facility_id: int, clinic_id: int, day: date) -> Any:
        return select(*_COLUMNS).where(
            _T.c.facility_id == facility_id, _T.c.clinic_id == clinic_id, _T.c.day == day
        )

    def list_day(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]:
        rows = self.conn.execute(self._day(facility_id, clinic_id, day).order_by(_T.c.number))
        return [_ticket(r) for r in rows]

    def for_patient(self, facility_id: int, patient_id: int, day: date) -> list[Ticket]:
        stmt = select(*_COLUMNS).where(
            _T.c.facility_id == facility_id, _T.c.patient_id == patient_id, _T.c.day == day
        )
        return [_ticket(r) for r in self.conn.execute(stmt.order_by(_T.c.id))]

    def waiting(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]:
        stmt = self._day(facility_id, clinic_id, day).where(_T.c.state == TicketState.WAITING.value)
        return [_ticket(r) for r in self.conn.execute(stmt)]

    def count_ahead(self, ticket: Ticket, *, now: datetime, aging: timedelta) -> int:
        """The order of `domain.queue.queue_order` in SQL: effective priority (a normal ticket
        waiting longer than `aging` counts as priority) descending, then place in line."""
        params = {
            "facility_id": ticket.facility_id,
            "clinic_id": ticket.clinic_id,
            "day": ticket.day,
            "ticket_id": ticket.id,
            "cutoff": now - aging,
            "sort_at": ticket.sort_at,
            "number": ticket.number,
        }
        mine = Priority(effective_priority(ticket, now, aging))
        return int(_COUNT_AHEAD[mine].scalar(self.conn, params))

    def move(
        self,
        ticket_id: int,
        *,
        from_state: str,
        to_state: str,
        counter: str | None,
        recall: bool = False,
        sort_at: datetime | None = None,
    ) -> bool:
        values: dict[str, Any] = {"state": to_state, "counter": counter}
        if recall:
            values["recalls"] = _T.c.recalls + 1
        if sort_at is not None:
            values["sort_at"] = sort_at
        result = self.conn.execute(
            update(_T).where(_T.c.id == ticket_id, _T.c.state == from_state).values(**values)
        )
        return result.rowcount == 1

    def last_event(self, ticket_id: int) -> TicketEventRow | None:
        row = self.conn.execute(
            select(_E.c.action, _E.c.data)
            .where(_E.c.ticket_id == ticket_id, _E.c.action.is_not(None))
            .order_by(_E.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        data = json.loads(row.data)
        return TicketEventRow(
            data.get("from_state"), data["state"], data.get("counter"), row.action
        )

    def called_at(self, ticket_ids: list[int]) -> dict[int, datetime]:
        if not ticket_ids:
            return {}
        rows = self.conn.execute(
            select(_E.c.ticket_id, func.min(_E.c.at))
            .where(_E.c.ticket_id.in_(ticket_ids), _E.c.action == "call")
            .group_by(_E.c.ticket_id)
        )
        return {ticket_id: at for ticket_id, at in rows}

    def last_called_at(self, ticket_ids: list[int]) -> dict[int, datetime]:
        if not ticket_ids:
            return {}
        rows = self.conn.execute(
            select(_E.c.ticket_id, func.max(_E.c.at))
            .where(_E.c.ticket_id.in_(ticket_ids), _E.c.action.in_(("call", "recall")))
            .group_by(_E.c.ticket_id)
        )
        return {ticket_id: at for ticket_id, at in rows}

    def open_before(self, facility_id: int, day: date) -> list[Ticket]:
        active = [s.value for s in (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)]
        rows = self.conn.execute(
            select(*_COLUMNS)
            .where(_T.c.facility_id == facility_id, _T.c.day < day, _T.c.state.in_(active))
            .order_by(_T.c.id)
        )
        return [_ticket(r) for r in rows]

    def recent_service_times(
        self, facility_id: int, clinic_id: int, since: datetime, limit: int = 50
    ) -> list[timedelta]:
        params = {
            "facility_id": facility_id,
            "clinic_id": clinic_id,
            "since": since,
            "limit": limit,
        }
        rows = self.conn.execute(_RECENT_SERVICE, params).all()
        return [f - s for s, f in reversed(rows) if f >= s]

    def timelines(self, ticket_ids: list[int]) -> dict[int, list[TicketStep]]:
        found: dict[int, list[TicketStep]] = {ticket_id: [] for ticket_id in ticket_ids}
        if not ticket_ids:
            return found
        rows = self.conn.execute(
            select(_E.c.ticket_id, _E.c.at, _E.c.action, _E.c.data)
            .where(_E.c.ticket_id.in_(ticket_ids), _E.c.action.is_not(None))
            .order_by(_E.c.ticket_id, _E.c.id)
        )
        for ticket_id, at, action, data in rows:
            facts = json.loads(data)
            state, before, counter = facts["state"], facts.get("from_state"), facts.get("counter")
            found[ticket_id].append(TicketStep(at, action, state, before, counter))
        return found

    def find(
        self,
        facility_id: int,
        *,
        page: Page,
        patient_id: int | None = None,
        clinic_id: int | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
        states: frozenset[str] | None = None,
        ticket_ids: frozenset[int] = frozenset(),
    ) -> tuple[list[tuple[Ticket, int | None]], int]:
        conditions = [_T.c.facility_id == facility_id]
        for column, value in ((_T.c.patient_id, patient_id), (_T.c.clinic_id, clinic_id)):
            if value is not None:
                conditions.append(column == value)
        if day_from is not None:
            conditions.append(_T.c.day >= day_from)
        if day_to is not None:
            conditions.append(_T.c.day <= day_to)
        if states is not None:
            conditions.append(_T.c.state.in_(sorted(states)))
        if ticket_ids:
            conditions.append(_T.c.id.in_(sorted(ticket_ids)))
        where = and_(*conditions)
        total = self.conn.execute(select(func.count()).select_from(_T).where(where)).scalar_one()
        rows = self.conn.execute(
            select(*_COLUMNS, _T.c.appointment_id)
            .where(where)
            .order_by(_T.c.day, _T.c.number, _T.c.id)
            .limit(page.size)
            .offset(page.offset)
        )
        n = len(_COLUMNS)
        return [(_ticket(r[:n]), r[n]) for r in rows], int(total)

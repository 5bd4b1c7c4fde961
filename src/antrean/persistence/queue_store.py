"""SQL storage for queue tickets and their timeline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select

from antrean.domain.queue import Priority, Ticket, TicketSource, TicketState
from antrean.persistence import tables as t
from antrean.persistence.repositories import _Repo

_T = t.ticket
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
    )
]


def _ticket(row: Row[Any]) -> Ticket:
    v = list(row)
    v[8], v[9], v[11] = TicketSource(v[8]), Priority(v[9]), TicketState(v[11])
    return Ticket(*v)


class SqlTickets(_Repo):
    def add(self, ticket: Ticket, appointment_id: int | None) -> int:
        k = ticket
        return self._insert_id(
            insert(_T).values(
                facility_id=k.facility_id,
                clinic_id=k.clinic_id,
                day=k.day,
                number=k.number,
                label=k.label,
                status_code=k.status_code,
                patient_id=k.patient_id,
                appointment_id=appointment_id,
                source=k.source.value,
                priority=int(k.priority),
                priority_reason=k.priority_reason,
                state=k.state.value,
                issued_at=k.issued_at,
            )
        )

    def add_event(
        self,
        facility_id: int,
        ticket_id: int,
        *,
        at: datetime,
        actor_user_id: int | None,
        from_state: str | None,
        to_state: str,
        counter: str | None = None,
    ) -> None:
        self.conn.execute(
            insert(t.ticket_event).values(
                facility_id=facility_id,
                ticket_id=ticket_id,
                at=at,
                actor_user_id=actor_user_id,
                from_state=from_state,
                to_state=to_state,
                counter=counter,
            )
        )

    def get_by_status_code(self, status_code: str) -> Ticket | None:
        row = self.conn.execute(select(*_COLUMNS).where(_T.c.status_code == status_code)).first()
        return _ticket(row) if row else None

    def people_ahead(self, ticket: Ticket) -> int:
        ahead = or_(
            _T.c.priority > int(ticket.priority),
            and_(_T.c.priority == int(ticket.priority), _T.c.number < ticket.number),
        )
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(_T)
                .where(
                    _T.c.facility_id == ticket.facility_id,
                    _T.c.clinic_id == ticket.clinic_id,
                    _T.c.day == ticket.day,
                    _T.c.state == TicketState.WAITING.value,
                    _T.c.id != ticket.id,
                    ahead,
                )
            ).scalar_one()
        )

    def list_day(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]:
        rows = self.conn.execute(
            select(*_COLUMNS)
            .where(_T.c.facility_id == facility_id, _T.c.clinic_id == clinic_id, _T.c.day == day)
            .order_by(_T.c.number)
        )
        return [_ticket(r) for r in rows]

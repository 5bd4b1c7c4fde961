"""In-memory tickets and domain events, with the contract of the SQL stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from antrean.domain.catalog import Clinic
from antrean.domain.eta import EwmaServiceTime
from antrean.domain.events import DomainEvent
from antrean.domain.queue import Ticket, TicketState, queue_order
from antrean.services.ports import (
    ClinicQueueFacts,
    TicketEventRow,
    UniqueViolation,
)
from antrean.testing.memory_store import StorePart


class FakeTickets(StorePart):
    def add(self, ticket: Ticket, appointment_id: int | None) -> int:
        if any(
            (k.clinic_id, k.day, k.number) == (ticket.clinic_id, ticket.day, ticket.number)
            for k in self.s.tickets.values()
        ):
            raise UniqueViolation("ticket number")
        new = replace(ticket, id=self.s.next_id("ticket"))
        self.s.tickets[new.id] = new
        return new.id

    def get(self, facility_id: int, ticket_id: int) -> Ticket | None:
        k = self.s.tickets.get(ticket_id)
        return replace(k) if k and k.facility_id == facility_id else None

    def get_by_status_code(self, status_code: str) -> Ticket | None:
        return next((k for k in self.s.tickets.values() if k.status_code == status_code), None)

    def with_clinic_facts(self, status_code: str) -> tuple[Ticket, ClinicQueueFacts] | None:
        ticket = self.get_by_status_code(status_code)
        if ticket is None:
            return None
        return replace(ticket), self._facts(ticket.facility_id, ticket.clinic_id, ticket.day)

    def queue_clinic(
        self, facility_id: int, clinic_id: int, day: date
    ) -> tuple[Clinic, ClinicQueueFacts] | None:
        clinic = self.s.clinics.get(clinic_id)
        if clinic is None or clinic.facility_id != facility_id:
            return None
        return replace(clinic, hours=list(clinic.hours)), self._facts(facility_id, clinic_id, day)

    def _facts(self, facility_id: int, clinic_id: int, day: date) -> ClinicQueueFacts:
        durations = [
            v.duration_minutes
            for v in self.s.services.values()
            if v.clinic_id == clinic_id and v.active
        ]
        counters = sum(
            1 for (cid, _), on in self.s.service_points.items() if cid == clinic_id and on
        )
        busy = {TicketState.CALLED, TicketState.SERVING}
        serving = {
            k.counter
            for k in self.list_day(facility_id, clinic_id, day)
            if k.state in busy and k.counter
        }
        stored = self.s.service_times.get(clinic_id)
        return ClinicQueueFacts(
            clinic_id,
            self.s.clinics[clinic_id].name,
            counters,
            min(durations) if durations else None,
            len(serving),
            replace(stored) if stored and stored.observations else None,
        )

    def save_service_time(
        self, facility_id: int, clinic_id: int, estimate: EwmaServiceTime, at: datetime
    ) -> None:
        self.s.service_times[clinic_id] = replace(estimate)

    def list_day(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]:
        found = [
            replace(k)
            for k in self.s.tickets.values()
            if (k.facility_id, k.clinic_id, k.day) == (facility_id, clinic_id, day)
        ]
        return sorted(found, key=lambda k: k.number)

    def for_patient(self, facility_id: int, patient_id: int, day: date) -> list[Ticket]:
        found = [
            replace(k)
            for k in self.s.tickets.values()
            if (k.facility_id, k.patient_id, k.day) == (facility_id, patient_id, day)
        ]
        return sorted(found, key=lambda k: k.id)

    def waiting(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]:
        return [
            replace(k)
            for k in self.list_day(facility_id, clinic_id, day)
            if k.state is TicketState.WAITING
        ]

    def count_ahead(self, ticket: Ticket, *, now: datetime, aging: timedelta) -> int:
        others = [
            k
            for k in self.waiting(ticket.facility_id, ticket.clinic_id, ticket.day)
            if k.id != ticket.id
        ]
        me = replace(ticket, state=TicketState.WAITING)
        return [k.id for k in queue_order([*others, me], now, aging)].index(ticket.id)

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
        k = self.s.tickets[ticket_id]
        if k.state.value != from_state:
            return False
        k.state, k.counter = TicketState(to_state), counter
        k.recalls += 1 if recall else 0
        k.sort_at = sort_at or k.sort_at
        return True

    def _timeline(self) -> list[tuple[int, datetime, str, DomainEvent]]:
        """(ticket, at, action, event) of every ticket event, oldest first."""
        return [
            (e.ticket_id, e.at, str(e.data["action"]), e)
            for e in self.s.events
            if e.kind.is_queue and e.ticket_id is not None and e.data.get("action")
        ]

    def last_event(self, ticket_id: int) -> TicketEventRow | None:
        rows = [e for k, _, _, e in self._timeline() if k == ticket_id]
        if not rows:
            return None
        data = rows[-1].data
        from_state = data.get("from_state")
        counter = data.get("counter")
        return TicketEventRow(
            str(from_state) if from_state is not None else None,
            str(data["state"]),
            str(counter) if counter is not None else None,
            str(data["action"]),
        )

    def called_at(self, ticket_ids: list[int]) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for ticket_id, at, action, _ in self._timeline():
            if ticket_id in ticket_ids and action == "call":
                found[ticket_id] = min(at, found.get(ticket_id, at))
        return found

    def last_called_at(self, ticket_ids: list[int]) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for ticket_id, at, action, _ in self._timeline():
            if ticket_id in ticket_ids and action in ("call", "recall"):
                found[ticket_id] = max(at, found.get(ticket_id, at))
        return found

    def recent_service_times(
        self, facility_id: int, clinic_id: int, since: datetime, limit: int = 50
    ) -> list[timedelta]:
        starts: dict[int, datetime] = {}
        finishes: dict[int, datetime] = {}
        for ticket_id, at, action, _ in self._timeline():
            if action == "start":
                starts[ticket_id] = max(at, starts.get(ticket_id, at))
            elif action == "finish":
                finishes[ticket_id] = max(at, finishes.get(ticket_id, at))
        found = sorted(
            (finished, finished - starts[ticket_id])
            for ticket_id, finished in finishes.items()
            if ticket_id in starts
            and finished >= since
            and self.s.tickets[ticket_id].clinic_id == clinic_id
            and self.s.tickets[ticket_id].state is TicketState.DONE
        )
        return [d for _, d in found[-limit:] if d >= timedelta(0)]

    def open_before(self, facility_id: int, day: date) -> list[Ticket]:
        active = {TicketState.WAITING, TicketState.CALLED, TicketState.SERVING}
        return [replace(k) for k in self.s.tickets.values() if k.day < day and k.state in active]


class FakeEvents(StorePart):
    def add(self, event: DomainEvent) -> DomainEvent:
        stored = event.stored_as(len(self.s.events) + 1)
        self.s.events.append(stored)
        return stored

    def for_appointment(self, facility_id: int, appointment_id: int) -> list[DomainEvent]:
        return [
            e
            for e in self.s.events
            if e.facility_id == facility_id and e.appointment_id == appointment_id
        ]

    def _stream(
        self, facility_id: int, clinic_id: int | None, status_code: str | None
    ) -> list[DomainEvent]:
        ticket_ids = {k.id for k in self.s.tickets.values() if k.status_code == status_code}
        return [
            e
            for e in self.s.events
            if e.facility_id == facility_id
            and (clinic_id is None or (e.clinic_id == clinic_id and e.kind.is_queue))
            and (status_code is None or e.ticket_id in ticket_ids)
        ]

    def since(
        self,
        facility_id: int,
        *,
        after_id: int,
        clinic_id: int | None = None,
        status_code: str | None = None,
        limit: int = 500,
    ) -> list[DomainEvent]:
        found = [e for e in self._stream(facility_id, clinic_id, status_code) if e.id > after_id]
        return found[:limit]

    def latest_ids(
        self,
        facility_id: int,
        *,
        clinic_id: int | None = None,
        status_code: str | None = None,
        limit: int = 200,
    ) -> list[int]:
        found = self._stream(facility_id, clinic_id, status_code)
        return [e.id for e in reversed(found)][:limit]

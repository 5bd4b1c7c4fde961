"""The admin's dashboard: today at each clinic, counted from the day's bookings and tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from antrean.domain.booking import AppointmentStatus, BookingPolicy
from antrean.domain.identity import Actor, Role
from antrean.domain.queue import TicketState
from antrean.services.access import allow
from antrean.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class ClinicToday:
    clinic_id: int
    clinic_name: str
    is_open: bool
    booked: int  # appointments of the day not cancelled
    waiting: int
    in_service: int  # called or being served
    served: int
    no_shows: int  # appointments marked no-show and tickets skipped
    average_wait: timedelta | None  # issue to first call, over the tickets called today


@allow(Role.ADMIN)
def today_by_clinic(uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy) -> list[ClinicToday]:
    with uow():
        day = uow.clock.now().astimezone(policy.time_zone).date()
        clinics = uow.catalog.list_clinics(actor.facility_id)
        bookings = uow.appointments.day_summary(actor.facility_id, day)
        tickets = {k.id: uow.tickets.list_day(actor.facility_id, k.id, day) for k in clinics}
        called = uow.tickets.called_at([t.id for day_list in tickets.values() for t in day_list])
    found = []
    for clinic in clinics:
        day_tickets = tickets[clinic.id]
        states = [t.state for t in day_tickets]
        waits = [called[t.id] - t.issued_at for t in day_tickets if t.id in called]
        counts = {s: n for (cid, s), n in bookings.items() if cid == clinic.id}
        found.append(
            ClinicToday(
                clinic_id=clinic.id,
                clinic_name=clinic.name,
                is_open=clinic.is_open,
                booked=sum(n for s, n in counts.items() if s != AppointmentStatus.CANCELLED.value),
                waiting=states.count(TicketState.WAITING),
                in_service=states.count(TicketState.CALLED) + states.count(TicketState.SERVING),
                served=states.count(TicketState.DONE),
                no_shows=counts.get(AppointmentStatus.NOSHOW.value, 0)
                + states.count(TicketState.SKIPPED),
                average_wait=sum(waits, timedelta()) / len(waits) if waits else None,
            )
        )
    return found

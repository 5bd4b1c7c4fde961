"""Operator actions on the queue. Every change is a conditional update plus a timeline event."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from antrean.domain.booking import AppointmentStatus, BookingPolicy
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role
from antrean.domain.queue import (
    QueuePolicy,
    Ticket,
    TicketState,
    next_state,
    queue_order,
)
from antrean.services.ports import AppointmentFilter, UniqueViolation, UnitOfWork
from antrean.services.queue import issue_ticket, queue_event, refresh_service_time

UNDOABLE = frozenset({"call", "recall", "start", "finish", "skip", "requeue", "cancel"})


def _load(uow: UnitOfWork, actor: Actor, ticket_id: int) -> Ticket:
    ticket = uow.tickets.get(actor.facility_id, ticket_id)
    if ticket is None:
        raise AntreanError("ticket_not_found")
    return ticket


def _record(
    uow: UnitOfWork, actor: Actor, ticket: Ticket, action: str, to: TicketState, counter: str | None
) -> Ticket:
    event_id = uow.tickets.add_event(
        actor.facility_id,
        ticket.id,
        at=uow.clock.now(),
        actor_user_id=actor.user_id,
        from_state=ticket.state.value,
        to_state=to.value,
        action=action,
        counter=counter,
    )
    moved = replace(ticket, state=to, counter=counter)
    uow.publish(queue_event(event_id, moved, action))
    return moved


def call_next(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    queue: QueuePolicy,
    clinic_id: int,
    counter: str,
) -> Ticket:
    """Call the first waiting ticket to a counter. Two operators pressing at once get two
    different tickets: the move from waiting to called is conditional, and a ticket someone
    else just took is passed over for the next one."""
    actor.require(Role.OPERATOR, Role.DOCTOR)
    with uow(write=True):
        configured = uow.catalog.list_counters(actor.facility_id, clinic_id)
        if configured and counter not in configured:
            raise AntreanError("unknown_counter", counter=counter)
        now = uow.clock.now()
        day = now.astimezone(policy.time_zone).date()
        for ticket in queue_order(
            uow.tickets.waiting(actor.facility_id, clinic_id, day), now, queue.aging
        ):
            if uow.tickets.move(
                ticket.id,
                from_state=TicketState.WAITING.value,
                to_state=TicketState.CALLED.value,
                counter=counter,
            ):
                called = _record(uow, actor, ticket, "call", TicketState.CALLED, counter)
                uow.commit()
                return called
        raise AntreanError("queue_empty")


def act_on_ticket(
    uow: UnitOfWork,
    *,
    actor: Actor,
    queue: QueuePolicy,
    ticket_id: int,
    action: str,
) -> Ticket:
    """recall, start, finish, skip, requeue or cancel one ticket."""
    actor.require(Role.OPERATOR, Role.DOCTOR)
    with uow(write=True):
        ticket = _load(uow, actor, ticket_id)
        if action == "recall" and ticket.recalls + 1 >= queue.max_recalls:
            action = "skip"  # called too often without answer: a no-show, who may re-queue
        target = next_state(action, ticket.state)
        counter = None if target in (TicketState.WAITING, TicketState.SKIPPED) else ticket.counter
        moved = uow.tickets.move(
            ticket.id,
            from_state=ticket.state.value,
            to_state=target.value,
            counter=counter,
            recall=action == "recall",
            sort_at=uow.clock.now() if action == "requeue" else None,
        )
        if not moved:
            raise AntreanError("ticket_wrong_state", action=action, state="changed")
        ticket = _record(uow, actor, ticket, action, target, counter)
        if action == "finish":
            refresh_service_time(uow, ticket)
        uow.commit()
    return ticket


def transfer_ticket(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    ticket_id: int,
    to_clinic_id: int,
) -> Ticket:
    """Send the patient on to another clinic (registration, then poli, then pharmacy): the old
    ticket ends as transferred and a new one joins the other clinic's queue now."""
    actor.require(Role.OPERATOR, Role.DOCTOR)
    with uow(write=True):
        ticket = _load(uow, actor, ticket_id)
        target = next_state("transfer", ticket.state)
        clinic = uow.catalog.get_clinic(actor.facility_id, to_clinic_id)
        if clinic is None:
            raise AntreanError("not_found", entity="Clinic")
        if not uow.tickets.move(
            ticket.id, from_state=ticket.state.value, to_state=target.value, counter=None
        ):
            raise AntreanError("ticket_wrong_state", action="transfer", state="changed")
        _record(uow, actor, ticket, "transfer", target, None)
        now = uow.clock.now()
        day = now.astimezone(policy.time_zone).date()
        new = issue_ticket(
            uow,
            actor=actor,
            clinic=clinic,
            day=day,
            patient_id=ticket.patient_id,
            source=ticket.source,
            sort_at=now,
            action="transfer_in",
            priority=ticket.priority,
            priority_reason=ticket.priority_reason,
        )
        uow.commit()
    return new


def undo_last_action(uow: UnitOfWork, *, actor: Actor, ticket_id: int) -> Ticket:
    """Put a ticket back as it was before its last action. History is kept: the undo is an
    event of its own."""
    actor.require(Role.OPERATOR, Role.DOCTOR)
    with uow(write=True):
        ticket = _load(uow, actor, ticket_id)
        last = uow.tickets.last_event(ticket.id)
        if last is None or last.action not in UNDOABLE or last.from_state is None:
            raise AntreanError("nothing_to_undo")
        previous = TicketState(last.from_state)
        counter = ticket.counter if previous in (TicketState.CALLED, TicketState.SERVING) else None
        if not uow.tickets.move(
            ticket.id, from_state=ticket.state.value, to_state=previous.value, counter=counter
        ):
            raise AntreanError("nothing_to_undo")
        ticket = _record(uow, actor, ticket, "undo", previous, counter)
        if last.action == "finish":
            refresh_service_time(uow, ticket)  # that visit is not over after all
        uow.commit()
    return ticket


@dataclass(frozen=True, slots=True)
class DayClosed:
    no_shows: int
    finished: int
    appointments_no_show: int


def close_past_days(uow: UnitOfWork, *, facility_id: int, policy: BookingPolicy) -> DayClosed:
    """End every earlier day: tickets still waiting or called become no-shows (skipped),
    tickets being served are finished, and booked appointments never checked in are no-shows.
    Safe to run at any time and any number of times; each change is an event of its own."""
    system = Actor(user_id=0, facility_id=facility_id, roles=frozenset({Role.ADMIN}))
    no_shows = finished = 0
    with uow(write=True):
        now = uow.clock.now()
        today = now.astimezone(policy.time_zone).date()
        for ticket in uow.tickets.open_before(facility_id, today):
            target = (
                TicketState.DONE if ticket.state is TicketState.SERVING else TicketState.SKIPPED
            )
            if uow.tickets.move(
                ticket.id, from_state=ticket.state.value, to_state=target.value, counter=None
            ):
                _record(uow, system, ticket, "close_day", target, None)
                finished += target is TicketState.DONE
                no_shows += target is TicketState.SKIPPED
        stale = uow.appointments.find(
            facility_id,
            AppointmentFilter(day_to=today - timedelta(days=1), status=AppointmentStatus.BOOKED),
            Page(1, 100_000),
        )[0]
        for appointment in stale:
            uow.appointments.save(
                replace(appointment, status=AppointmentStatus.NOSHOW, updated_at=now)
            )
        uow.commit()
    return DayClosed(no_shows=no_shows, finished=finished, appointments_no_show=len(stale))


def list_counters(uow: UnitOfWork, *, facility_id: int, clinic_id: int) -> list[str]:
    with uow():
        return uow.catalog.list_counters(facility_id, clinic_id)


def add_counter(uow: UnitOfWork, *, actor: Actor, clinic_id: int, name: str) -> list[str]:
    """Set up a counter (loket) or room for a clinic. Admin."""
    actor.require(Role.ADMIN)
    with uow(write=True):
        if uow.catalog.get_clinic(actor.facility_id, clinic_id) is None:
            raise AntreanError("not_found", entity="Clinic")
        try:
            uow.catalog.add_counter(actor.facility_id, clinic_id, name.strip())
        except UniqueViolation:
            raise AntreanError("already_exists", entity="counter", field="name") from None
        names = uow.catalog.list_counters(actor.facility_id, clinic_id)
        uow.commit()
    return names


def remove_counter(uow: UnitOfWork, *, actor: Actor, clinic_id: int, name: str) -> list[str]:
    """Take a counter out of use; its history stays. Admin."""
    actor.require(Role.ADMIN)
    with uow(write=True):
        if not uow.catalog.set_counter_active(actor.facility_id, clinic_id, name, False):
            raise AntreanError("not_found", entity="Counter")
        names = uow.catalog.list_counters(actor.facility_id, clinic_id)
        uow.commit()
    return names

"""Operator actions on the queue. Every change is a conditional update plus a timeline event."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from antrean.domain.booking import (
    AppointmentStatus,
    BookingPolicy,
    appointment_event,
    changed_at,
)
from antrean.domain.catalog import counter_name
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.events import EventKind
from antrean.domain.fields import check_id
from antrean.domain.identity import Actor, Role
from antrean.domain.queue import (
    QueuePolicy,
    Ticket,
    TicketState,
    next_state,
    operator_action,
    queue_order,
    ticket_event,
)
from antrean.services.access import allow
from antrean.services.catalog import find_clinic
from antrean.services.notifications import TurnNear, announce, queue_turn_near
from antrean.services.ports import AppointmentFilter, UnitOfWork
from antrean.services.queue import issue_ticket, refresh_service_time, service_estimator

UNDOABLE = frozenset({"call", "recall", "start", "finish", "skip", "requeue", "cancel"})


def _load(uow: UnitOfWork, actor: Actor, ticket_id: int) -> Ticket:
    ticket = uow.tickets.get(actor.facility_id, check_id(ticket_id, "ticket_id"))
    if ticket is None:
        raise AntreanError("ticket_not_found")
    return ticket


def _record(
    uow: UnitOfWork,
    actor: Actor,
    ticket: Ticket,
    action: str,
    to: TicketState,
    counter: str | None,
    kind: EventKind | None = None,
) -> Ticket:
    """The ticket's move, on its timeline and as a domain event."""
    now = uow.clock.now()
    moved = replace(ticket, state=to, counter=counter)
    event = ticket_event(
        moved, action, at=now, actor_user_id=actor.account_id, from_state=ticket.state, kind=kind
    )
    announce(uow, event)
    return moved


@allow(Role.OPERATOR, Role.DOCTOR)
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
    check_id(clinic_id, "clinic_id")
    counter = counter_name(counter)
    with uow(write=True):
        find_clinic(uow, actor.facility_id, clinic_id)
        configured = uow.catalog.list_counters(actor.facility_id, clinic_id)
        if configured and counter not in configured:
            raise AntreanError("unknown_counter", counter=counter)
        now = uow.clock.now()
        day = now.astimezone(policy.time_zone).date()
        in_line = queue_order(
            uow.tickets.waiting(actor.facility_id, clinic_id, day), now, queue.aging
        )
        for place, ticket in enumerate(in_line):
            if uow.tickets.move(
                ticket.id,
                from_state=TicketState.WAITING.value,
                to_state=TicketState.CALLED.value,
                counter=counter,
            ):
                called = _record(uow, actor, ticket, "call", TicketState.CALLED, counter)
                _turn_near(uow, actor, queue, clinic_id, day, in_line[place + 1 :], now)
                uow.commit()
                return called
        raise AntreanError("queue_empty")


def _turn_near(
    uow: UnitOfWork,
    actor: Actor,
    queue: QueuePolicy,
    clinic_id: int,
    day: date,
    still_waiting: list[Ticket],
    now: datetime,
) -> None:
    """Tell those now close to their turn (each once)."""
    rule = TurnNear(queue.turn_near_places, queue.turn_near_minutes)
    if not still_waiting or (rule.places <= 0 and rule.minutes <= 0):
        return
    per_place = None
    if rule.minutes > 0:
        found = uow.tickets.queue_clinic(actor.facility_id, clinic_id, day)
        if found is not None:
            facts = found[1]
            servers = facts.counters or facts.busy_counters or 1
            per_place = service_estimator(facts).mean / servers
    queue_turn_near(uow, actor.facility_id, still_waiting, per_place, rule, now)


@allow(Role.OPERATOR, Role.DOCTOR)
def act_on_ticket(
    uow: UnitOfWork,
    *,
    actor: Actor,
    queue: QueuePolicy,
    ticket_id: int,
    action: str,
) -> Ticket:
    """recall, start, finish, skip, requeue or cancel one ticket."""
    action = operator_action(action)
    with uow(write=True):
        ticket = _load(uow, actor, ticket_id)
        kind = None
        if action == "recall" and ticket.recalls + 1 >= queue.max_recalls:
            action = "skip"  # called too often without answer: a no-show, who may re-queue
            kind = EventKind.TICKET_NO_SHOW
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
        ticket = _record(uow, actor, ticket, action, target, counter, kind)
        if action == "finish":
            refresh_service_time(uow, ticket)
        uow.commit()
    return ticket


@allow(Role.OPERATOR, Role.DOCTOR)
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
    check_id(to_clinic_id, "clinic_id")
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


@allow(Role.OPERATOR, Role.DOCTOR)
def undo_last_action(uow: UnitOfWork, *, actor: Actor, ticket_id: int) -> Ticket:
    """Put a ticket back as it was before its last action. History is kept: the undo is an
    event of its own."""
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


@allow(Role.ADMIN)
def close_past_days(uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy) -> DayClosed:
    """End every earlier day: tickets still waiting or called become no-shows (skipped),
    tickets being served are finished, and booked appointments never checked in are no-shows.
    Safe to run at any time and any number of times; each change is an event of its own."""
    facility_id = actor.facility_id
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
                kind = (
                    EventKind.TICKET_FINISHED
                    if target is TicketState.DONE
                    else EventKind.TICKET_NO_SHOW
                )
                _record(uow, actor, ticket, "close_day", target, None, kind)
                finished += target is TicketState.DONE
                no_shows += target is TicketState.SKIPPED
        stale = uow.appointments.find(
            facility_id,
            AppointmentFilter(day_to=today - timedelta(days=1), status=AppointmentStatus.BOOKED),
            Page(1, 100_000),
        )[0]
        marked = 0
        for appointment in stale:
            missed = replace(
                appointment,
                status=AppointmentStatus.NOSHOW,
                updated_at=changed_at(appointment, now),
            )
            if not uow.appointments.save(missed, expected=appointment.updated_at):
                continue  # changed meanwhile (checked in, cancelled): no longer missed
            marked += 1
            announce(
                uow,
                appointment_event(
                    EventKind.APPOINTMENT_NO_SHOW, missed, at=now, actor_user_id=actor.account_id
                ),
            )
        uow.commit()
    return DayClosed(no_shows=no_shows, finished=finished, appointments_no_show=marked)

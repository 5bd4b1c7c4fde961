"""Use cases for the patient queue: walk-in registration and public ticket status."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from antrean.domain.booking import (
    Appointment,
    AppointmentStatus,
    BookingPolicy,
    appointment_event,
    booking_code,
    changed_at,
)
from antrean.domain.catalog import Clinic
from antrean.domain.errors import AntreanError
from antrean.domain.eta import EwmaServiceTime, estimate_call
from antrean.domain.events import EventKind
from antrean.domain.fields import check_id
from antrean.domain.identity import Actor, Role
from antrean.domain.patients import Patient, PatientDraft
from antrean.domain.queue import (
    ACTIVE_STATES,
    Priority,
    QueuePolicy,
    Ticket,
    TicketSource,
    TicketState,
    WaitEstimate,
    WalkInDraft,
    check_in_sort_at,
    clinic_open_at,
    queue_counter_name,
    ticket_event,
    waiting_ticket,
)
from antrean.domain.queue import status_code as status_code_text
from antrean.services.access import FRONT_DESK, SIGNED_IN, allow
from antrean.services.notifications import announce
from antrean.services.patients import add_checked_patient, today
from antrean.services.ports import ClinicQueueFacts, UnitOfWork
from antrean.services.providers import PhoneNumbers

DEFAULT_SERVICE_TIME = timedelta(minutes=10)
QUEUE_POLICY = QueuePolicy()
HISTORY_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class TicketStatus:
    """What anyone holding the status code may see: no personal data."""

    label: str
    clinic_id: int
    clinic_name: str
    state: TicketState
    people_ahead: int
    estimate: WaitEstimate
    estimated_call_at: datetime
    estimated_call_earliest: datetime
    estimated_call_latest: datetime
    status_code: str
    counter: str | None = None  # where the patient is called to (room or counter)
    recalls: int = 0  # how many times the current call was repeated


def people_ahead(uow: UnitOfWork, ticket: Ticket, now: datetime, qp: QueuePolicy) -> int:
    if ticket.state is not TicketState.WAITING:
        return 0
    return uow.tickets.count_ahead(ticket, now=now, aging=qp.aging)


def service_estimator(facts: ClinicQueueFacts) -> EwmaServiceTime:
    """The clinic's measured service time, or its shortest typical service duration until the
    first visit has been timed."""
    if facts.service_time is not None:
        return facts.service_time
    typical = (
        timedelta(minutes=facts.typical_minutes) if facts.typical_minutes else DEFAULT_SERVICE_TIME
    )
    return EwmaServiceTime.starting_at(typical)


def status_now(
    uow: UnitOfWork, ticket: Ticket, facts: ClinicQueueFacts, now: datetime, queue: QueuePolicy
) -> TicketStatus:
    ahead = people_ahead(uow, ticket, now, queue)
    # Counters set up for the clinic; without any, those calling patients now (at least one).
    servers = facts.counters or facts.busy_counters
    estimate = estimate_call(people_ahead=ahead, service=service_estimator(facts), servers=servers)
    return TicketStatus(
        label=ticket.label,
        clinic_id=facts.clinic_id,
        clinic_name=facts.clinic_name,
        state=ticket.state,
        people_ahead=ahead,
        estimate=estimate,
        estimated_call_at=now + estimate.expected,
        estimated_call_earliest=now + estimate.low,
        estimated_call_latest=now + estimate.high,
        status_code=ticket.status_code,
        counter=ticket.counter,
        recalls=ticket.recalls,
    )


def refresh_service_time(uow: UnitOfWork, ticket: Ticket) -> None:
    """Fold the clinic's latest measured visits into its service-time estimate, in the
    caller's transaction: run when a visit finishes (or a finish is undone), so status reads
    need not. With no measured visit left, the estimate is the typical duration again."""
    found = uow.tickets.queue_clinic(ticket.facility_id, ticket.clinic_id, ticket.day)
    if found is None:
        return
    now = uow.clock.now()
    history = uow.tickets.recent_service_times(
        ticket.facility_id, ticket.clinic_id, since=now - HISTORY_WINDOW
    )
    start = replace(found[1], service_time=None)
    estimate = service_estimator(start).observe_all(history)
    uow.tickets.save_service_time(ticket.facility_id, ticket.clinic_id, estimate, now)


def issue_ticket(
    uow: UnitOfWork,
    *,
    actor: Actor,
    clinic: Clinic,
    day: date,
    patient_id: int,
    source: TicketSource,
    sort_at: datetime,
    action: str,
    priority: Priority = Priority.NORMAL,
    priority_reason: str = "",
    appointment_id: int | None = None,
) -> Ticket:
    """Take the clinic's next number for the day and put a waiting ticket in line, in the
    caller's transaction, with its first timeline event."""
    now = uow.clock.now()
    number = uow.sequences.next(actor.facility_id, queue_counter_name(clinic.id, day))
    ticket = waiting_ticket(
        clinic,
        day,
        number,
        patient_id=patient_id,
        source=source,
        priority=priority,
        priority_reason=priority_reason,
        issued_at=now,
        sort_at=sort_at,
        status_code=secrets.token_urlsafe(12),
    )
    ticket.id = uow.tickets.add(ticket, appointment_id)
    announce(uow, ticket_event(ticket, action, at=now, actor_user_id=actor.account_id))
    return ticket


def _match_patient(uow: UnitOfWork, *, facility_id: int, walk_in: WalkInDraft) -> Patient:
    """The patient with this MRN (the date of birth must agree), or a new record. The walk-in
    has been checked (`WalkInDraft.validated`)."""
    if walk_in.mrn:
        existing = uow.patients.get_by_mrn(facility_id, walk_in.mrn)
        if existing is not None:
            if existing.birth_date != walk_in.birth_date:
                raise AntreanError("patient_mismatch")
            return existing
    draft = PatientDraft(
        name=walk_in.name, birth_date=walk_in.birth_date, sex=walk_in.sex, mrn=walk_in.mrn
    )
    return add_checked_patient(uow, facility_id=facility_id, draft=draft, phone=None)


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: Ticket
    facts: ClinicQueueFacts  # as read when the ticket was issued


@allow(*FRONT_DESK)
def issue_walk_in(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    phones: PhoneNumbers,
    walk_in: WalkInDraft,
) -> IssuedTicket:
    """Give a walk-in patient the next number of the clinic's queue for today, in one short
    transaction: read the clinic with its queue facts, check it is open, match or create the
    patient, take the number and store ticket and event. Where the ticket stands (people
    ahead) is `status_of`, run after it outside the write lock; every adapter answers a walk-in
    with both."""
    walk_in = walk_in.validated(today(uow, policy))
    with uow(write=True):
        now = uow.clock.now()
        local = now.astimezone(policy.time_zone)
        found = uow.tickets.queue_clinic(actor.facility_id, walk_in.clinic_id, local.date())
        if found is None:
            raise AntreanError("not_found", entity="Clinic")
        clinic, facts = found
        if not clinic_open_at(clinic, local):
            raise AntreanError("clinic_closed")
        patient = _match_patient(uow, facility_id=actor.facility_id, walk_in=walk_in)
        ticket = issue_ticket(
            uow,
            actor=actor,
            clinic=clinic,
            day=local.date(),
            patient_id=patient.id,
            source=TicketSource.WALK_IN,
            sort_at=now,
            action="issue",
            priority=walk_in.priority,
            priority_reason=walk_in.priority_reason,
        )
        uow.commit()
    return IssuedTicket(ticket, facts)


@allow(Role.PATIENT)
def take_number(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, clinic_id: int
) -> IssuedTicket:
    """A signed-in patient takes today's next number of a clinic open now, from their phone,
    as themselves. A patient already in that clinic's line today gets that ticket back, not a
    second one (a double tap, or a second try, takes one number)."""
    check_id(clinic_id, "clinic_id")
    if actor.patient_id is None:
        raise AntreanError("forbidden")
    with uow(write=True):
        now = uow.clock.now()
        local = now.astimezone(policy.time_zone)
        found = uow.tickets.queue_clinic(actor.facility_id, clinic_id, local.date())
        if found is None:
            raise AntreanError("not_found", entity="Clinic")
        clinic, facts = found
        for held in uow.tickets.for_patient(actor.facility_id, actor.patient_id, local.date()):
            if held.clinic_id == clinic_id and held.state in ACTIVE_STATES:
                return IssuedTicket(held, facts)
        if not clinic_open_at(clinic, local):
            raise AntreanError("clinic_closed")
        ticket = issue_ticket(
            uow,
            actor=actor,
            clinic=clinic,
            day=local.date(),
            patient_id=actor.patient_id,
            source=TicketSource.WALK_IN,
            sort_at=now,
            action="issue",
        )
        uow.commit()
    return IssuedTicket(ticket, facts)


@allow(Role.PATIENT)
def my_tickets_today(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, queue: QueuePolicy = QUEUE_POLICY
) -> list[TicketStatus]:
    """A patient's own queue numbers of today, each with where it stands now."""
    if actor.patient_id is None:
        return []
    with uow():
        now = uow.clock.now()
        day = now.astimezone(policy.time_zone).date()
        found = []
        for ticket in uow.tickets.for_patient(actor.facility_id, actor.patient_id, day):
            with_facts = uow.tickets.with_clinic_facts(ticket.status_code)
            if with_facts is not None:
                found.append(status_now(uow, with_facts[0], with_facts[1], now, queue))
        return found


@allow(*FRONT_DESK, Role.PATIENT)
def status_of(
    uow: UnitOfWork, *, actor: Actor, issued: IssuedTicket, queue: QueuePolicy = QUEUE_POLICY
) -> TicketStatus:
    """Where a just-issued ticket stands (people ahead counted now)."""
    with uow():
        return status_now(uow, issued.ticket, issued.facts, uow.clock.now(), queue)


def _appointment_to_check_in(uow: UnitOfWork, actor: Actor, code: str, day: date) -> Appointment:
    """Today's booked appointment by its code: staff's and a kiosk's (the code printed or shown
    is the proof), or the patient's own."""
    appointment = uow.appointments.get_by_code(actor.facility_id, booking_code(code))
    anyone_with_code = actor.is_staff or Role.KIOSK in actor.roles
    if appointment is None or (not anyone_with_code and appointment.patient_id != actor.patient_id):
        raise AntreanError("appointment_not_found")
    if appointment.status is not AppointmentStatus.BOOKED:
        raise AntreanError("appointment_not_active", status=appointment.status.value)
    if appointment.day != day:
        raise AntreanError("check_in_wrong_day", day=appointment.day.isoformat())
    return appointment


@allow(*SIGNED_IN, Role.KIOSK)
def check_in(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    code: str,
    queue: QueuePolicy = QUEUE_POLICY,
) -> IssuedTicket:
    """The write half of a check-in: today's booking becomes a ticket placed by its
    appointment time; a patient later than the grace period joins at the back. Staff, or the
    patient themselves."""
    with uow(write=True):
        now = uow.clock.now()
        day = now.astimezone(policy.time_zone).date()
        appointment = _appointment_to_check_in(uow, actor, code, day)
        found = uow.tickets.queue_clinic(actor.facility_id, appointment.clinic_id, day)
        assert found is not None
        clinic, facts = found
        ticket = issue_ticket(
            uow,
            actor=actor,
            clinic=clinic,
            day=day,
            patient_id=appointment.patient_id,
            source=TicketSource.APPOINTMENT,
            action="check_in",
            appointment_id=appointment.id,
            sort_at=check_in_sort_at(appointment.start_at, now, queue.late_grace),
        )
        checked_in = replace(
            appointment,
            status=AppointmentStatus.CHECKED_IN,
            updated_at=changed_at(appointment, now),
        )
        if not uow.appointments.save(checked_in, expected=appointment.updated_at):
            raise AntreanError("appointment_changed")  # checked in twice at once
        uow.publish(
            appointment_event(
                EventKind.APPOINTMENT_CHECKED_IN,
                checked_in,
                at=now,
                actor_user_id=actor.account_id,
                ticket=ticket.label,
            )
        )
        uow.commit()
    return IssuedTicket(ticket, facts)


@allow(public=True)
def ticket_status(
    uow: UnitOfWork, *, actor: Actor, status_code: str, queue: QueuePolicy = QUEUE_POLICY
) -> TicketStatus:
    """Public: where a ticket stands, by its unguessable status code."""
    code = status_code_text(status_code)
    with uow():
        found = uow.tickets.with_clinic_facts(code)
        if found is None:
            raise AntreanError("ticket_not_found")
        ticket, facts = found
        return status_now(uow, ticket, facts, uow.clock.now(), queue)

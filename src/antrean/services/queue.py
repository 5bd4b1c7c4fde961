"""Use cases for the patient queue: walk-in registration and public ticket status."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from antrean.domain.booking import AppointmentStatus, BookingPolicy
from antrean.domain.errors import AntreanError
from antrean.domain.eta import EwmaServiceTime, estimate_call
from antrean.domain.events import QueueEvent
from antrean.domain.identity import Actor, Role
from antrean.domain.patients import Patient, Sex
from antrean.domain.queue import (
    Priority,
    QueuePolicy,
    Ticket,
    TicketSource,
    TicketState,
    WaitEstimate,
    check_in_sort_at,
    clinic_open_at,
    queue_counter_name,
    ticket_label,
)
from antrean.domain.scheduling import Clinic
from antrean.services.patients import new_patient
from antrean.services.ports import ClinicQueueFacts, UnitOfWork

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


def _status(
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


def queue_event(event_id: int, ticket: Ticket, action: str) -> QueueEvent:
    return QueueEvent(
        id=event_id,
        facility_id=ticket.facility_id,
        clinic_id=ticket.clinic_id,
        ticket_id=ticket.id,
        status_code=ticket.status_code,
        label=ticket.label,
        state=ticket.state.value,
        action=action,
        counter=ticket.counter,
    )


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
    number = uow.counters.next(actor.facility_id, queue_counter_name(clinic.id, day))
    ticket = Ticket(
        id=0,
        facility_id=actor.facility_id,
        clinic_id=clinic.id,
        day=day,
        number=number,
        label=ticket_label(clinic.queue_prefix, number),
        status_code=secrets.token_urlsafe(12),
        patient_id=patient_id,
        source=source,
        priority=priority,
        priority_reason=priority_reason.strip(),
        state=TicketState.WAITING,
        issued_at=now,
        sort_at=sort_at,
    )
    ticket.id = uow.tickets.add(ticket, appointment_id)
    event_id = uow.tickets.add_event(
        actor.facility_id,
        ticket.id,
        at=now,
        actor_user_id=actor.user_id,
        from_state=None,
        to_state=TicketState.WAITING.value,
        action=action,
    )
    uow.publish(queue_event(event_id, ticket, action))
    return ticket


def _match_patient(
    uow: UnitOfWork,
    *,
    facility_id: int,
    policy: BookingPolicy,
    mrn: str | None,
    name: str,
    birth_date: date,
    sex: Sex,
) -> Patient:
    """The patient with this MRN (the date of birth must agree), or a new record."""
    if mrn:
        existing = uow.patients.get_by_mrn(facility_id, mrn.strip())
        if existing is not None:
            if existing.birth_date != birth_date:
                raise AntreanError("patient_mismatch")
            return existing
    return new_patient(
        uow,
        facility_id=facility_id,
        policy=policy,
        name=name,
        birth_date=birth_date,
        sex=sex,
        mrn=mrn,
    )


def register_walk_in(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    clinic_id: int,
    name: str,
    birth_date: date,
    mrn: str | None = None,
    sex: Sex = Sex.UNKNOWN,
    priority: Priority = Priority.NORMAL,
    priority_reason: str = "",
    queue: QueuePolicy = QUEUE_POLICY,
) -> TicketStatus:
    """Give a walk-in patient the next number of the clinic's queue for today, and say where
    the new ticket stands: `issue_walk_in`, then `status_of` in a read of its own."""
    issued = issue_walk_in(
        uow,
        actor=actor,
        policy=policy,
        clinic_id=clinic_id,
        name=name,
        birth_date=birth_date,
        mrn=mrn,
        sex=sex,
        priority=priority,
        priority_reason=priority_reason,
    )
    return status_of(uow, issued, queue=queue)


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: Ticket
    facts: ClinicQueueFacts  # as read when the ticket was issued


def issue_walk_in(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    clinic_id: int,
    name: str,
    birth_date: date,
    mrn: str | None = None,
    sex: Sex = Sex.UNKNOWN,
    priority: Priority = Priority.NORMAL,
    priority_reason: str = "",
) -> IssuedTicket:
    """The write half of a walk-in, one short transaction: read the clinic with its queue
    facts, check it is open, match or create the patient, take the number and store ticket and
    event. Counting the people ahead is left to `status_of`, outside the write lock."""
    actor.require(Role.OPERATOR, Role.DOCTOR)
    with uow(write=True):
        now = uow.clock.now()
        local = now.astimezone(policy.time_zone)
        found = uow.tickets.queue_clinic(actor.facility_id, clinic_id, local.date())
        if found is None:
            raise AntreanError("not_found", entity="Clinic")
        clinic, facts = found
        if not clinic_open_at(clinic, local):
            raise AntreanError("clinic_closed")
        patient = _match_patient(
            uow,
            facility_id=actor.facility_id,
            policy=policy,
            mrn=mrn,
            name=name,
            birth_date=birth_date,
            sex=sex,
        )
        ticket = issue_ticket(
            uow,
            actor=actor,
            clinic=clinic,
            day=local.date(),
            patient_id=patient.id,
            source=TicketSource.WALK_IN,
            sort_at=now,
            action="issue",
            priority=priority,
            priority_reason=priority_reason,
        )
        uow.commit()
    return IssuedTicket(ticket, facts)


def status_of(
    uow: UnitOfWork, issued: IssuedTicket, *, queue: QueuePolicy = QUEUE_POLICY
) -> TicketStatus:
    """Where a just-issued ticket stands (people ahead counted now)."""
    with uow():
        return _status(uow, issued.ticket, issued.facts, uow.clock.now(), queue)


def check_in_appointment(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    code: str,
    queue: QueuePolicy = QUEUE_POLICY,
) -> TicketStatus:
    """Turn today's booking into a queue ticket and say where it stands: `check_in`, then
    `status_of` in a read of its own."""
    issued = check_in(uow, actor=actor, policy=policy, code=code, queue=queue)
    return status_of(uow, issued, queue=queue)


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
        appointment = uow.appointments.get_by_code(actor.facility_id, code.strip().upper())
        if appointment is None or (
            not actor.is_staff and appointment.patient_id != actor.patient_id
        ):
            raise AntreanError("appointment_not_found")
        if appointment.status is not AppointmentStatus.BOOKED:
            raise AntreanError("appointment_not_active", status=appointment.status.value)
        day = now.astimezone(policy.time_zone).date()
        if appointment.day != day:
            raise AntreanError("check_in_wrong_day", day=appointment.day.isoformat())
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
        uow.appointments.save(
            replace(appointment, status=AppointmentStatus.CHECKED_IN, updated_at=now)
        )
        uow.commit()
    return IssuedTicket(ticket, facts)


def ticket_status(
    uow: UnitOfWork, *, status_code: str, queue: QueuePolicy = QUEUE_POLICY
) -> TicketStatus:
    """Public: where a ticket stands, by its unguessable status code."""
    with uow():
        found = uow.tickets.with_clinic_facts(status_code)
        if found is None:
            raise AntreanError("ticket_not_found")
        ticket, facts = found
        return _status(uow, ticket, facts, uow.clock.now(), queue)


def list_queue(uow: UnitOfWork, *, actor: Actor, clinic_id: int, day: date) -> list[Ticket]:
    actor.require(Role.OPERATOR, Role.DOCTOR)
    with uow():
        return uow.tickets.list_day(actor.facility_id, clinic_id, day)


def missed_events(
    uow: UnitOfWork,
    *,
    facility_id: int,
    after_id: int,
    clinic_id: int | None = None,
    status_code: str | None = None,
) -> list[QueueEvent]:
    """Public: what a reconnecting display board or phone missed (no personal data)."""
    with uow():
        return uow.tickets.events_since(
            facility_id, after_id=after_id, clinic_id=clinic_id, status_code=status_code
        )

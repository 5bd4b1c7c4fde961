"""Queue tickets: numbers per clinic per local day, states, and who is ahead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum, StrEnum

from antrean.domain.catalog import Clinic
from antrean.domain.errors import AntreanError
from antrean.domain.events import QUEUE_KINDS, DomainEvent, EventKind
from antrean.domain.fields import check_id, clean_text, code_text
from antrean.domain.patients import (
    Sex,
    patient_mrn,
    patient_name,
    patient_sex,
    validate_birth_date,
)


class TicketState(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"


class Priority(IntEnum):
    """Higher goes first."""

    NORMAL = 0
    PRIORITY = 1  # elderly, disabled, pregnant: a reason is recorded
    EMERGENCY = 2


class TicketSource(StrEnum):
    WALK_IN = "walk_in"
    APPOINTMENT = "appointment"


@dataclass(slots=True)
class Ticket:
    id: int
    facility_id: int
    clinic_id: int
    day: date  # the facility's local day
    number: int
    label: str  # what is called out and shown: "A-007"
    status_code: str  # unguessable code for the public status page
    patient_id: int
    source: TicketSource
    priority: Priority
    priority_reason: str
    state: TicketState
    issued_at: datetime
    sort_at: datetime
    counter: str | None = None
    recalls: int = 0


ACTIVE_STATES = frozenset({TicketState.WAITING, TicketState.CALLED, TicketState.SERVING})

# The operator actions, and the states each may start from.
TRANSITIONS: dict[str, tuple[frozenset[TicketState], TicketState]] = {
    "call": (frozenset({TicketState.WAITING}), TicketState.CALLED),
    "recall": (frozenset({TicketState.CALLED}), TicketState.CALLED),
    "start": (frozenset({TicketState.CALLED}), TicketState.SERVING),
    "finish": (frozenset({TicketState.SERVING}), TicketState.DONE),
    "skip": (frozenset({TicketState.CALLED}), TicketState.SKIPPED),
    "requeue": (frozenset({TicketState.SKIPPED}), TicketState.WAITING),
    "cancel": (frozenset({TicketState.WAITING, TicketState.CALLED}), TicketState.CANCELLED),
    "transfer": (ACTIVE_STATES, TicketState.TRANSFERRED),
}


def next_state(action: str, current: TicketState) -> TicketState:
    """The state an action leads to, or `ticket_wrong_state` when it cannot start here."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise AntreanError("ticket_wrong_state", action=action, state=current.value)
    return target


def effective_priority(ticket: Ticket, now: datetime, aging: timedelta) -> int:
    """Priority, raised one level for a normal ticket that has waited longer than `aging`,
    so a steady stream of priority patients never starves the rest."""
    if ticket.priority is Priority.NORMAL and now - ticket.sort_at >= aging:
        return int(Priority.PRIORITY)
    return int(ticket.priority)


def queue_order(tickets: list[Ticket], now: datetime, aging: timedelta) -> list[Ticket]:
    """Waiting tickets in the order they will be called."""
    waiting = [k for k in tickets if k.state is TicketState.WAITING]
    return sorted(waiting, key=lambda k: (-effective_priority(k, now, aging), k.sort_at, k.number))


def ticket_label(prefix: str, number: int) -> str:
    return f"{prefix}-{number:03d}"


def waiting_ticket(
    clinic: Clinic,
    day: date,
    number: int,
    *,
    patient_id: int,
    source: TicketSource,
    priority: Priority,
    priority_reason: str,
    issued_at: datetime,
    sort_at: datetime,
    status_code: str,
) -> Ticket:
    """A new ticket in a clinic's line for a day, before it is stored."""
    return Ticket(
        id=0,
        facility_id=clinic.facility_id,
        clinic_id=clinic.id,
        day=day,
        number=number,
        label=ticket_label(clinic.queue_prefix, number),
        status_code=status_code,
        patient_id=patient_id,
        source=source,
        priority=priority,
        priority_reason=priority_reason.strip(),
        state=TicketState.WAITING,
        issued_at=issued_at,
        sort_at=sort_at,
    )


def queue_counter_name(clinic_id: int, day: date) -> str:
    """The per-clinic, per-day sequence that numbers tickets: a new day starts from 1."""
    return f"queue:{clinic_id}:{day.isoformat()}"


def clinic_open_at(clinic: Clinic, local: datetime) -> bool:
    """Open when switched on and the local time lies in one of today's opening windows."""
    if not clinic.is_open:
        return False
    now = local.time().replace(tzinfo=None)
    return any(w.weekday == local.weekday() and w.opens <= now < w.closes for w in clinic.hours)


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    aging: timedelta = timedelta(minutes=60)  # a normal ticket waiting this long moves up
    max_recalls: int = 3  # calling a patient this many times without answer marks a no-show
    late_grace: timedelta = timedelta(minutes=15)  # later than this loses the appointment place
    # "Your turn is near" goes to a waiting patient this many places (or estimated minutes)
    # from being called; 0 turns that rule off.
    turn_near_places: int = 3
    turn_near_minutes: int = 15


def check_in_sort_at(appointment_start: datetime, now: datetime, grace: timedelta) -> datetime:
    """Where a checked-in appointment joins the line: at its appointment time when the patient
    is on time (or early), at the back when later than the grace period."""
    if now - appointment_start > grace:
        return now
    return appointment_start


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    expected: timedelta
    low: timedelta
    high: timedelta


@dataclass(frozen=True, slots=True)
class WalkInDraft:
    """A walk-in patient at the front desk or a kiosk: matched by MRN (the date of birth must
    agree) or registered on the spot."""

    clinic_id: int
    name: str
    birth_date: date
    mrn: str | None = None
    sex: Sex = Sex.UNKNOWN
    priority: Priority = Priority.NORMAL
    priority_reason: str = ""

    def validated(self, today: date) -> WalkInDraft:
        try:
            priority = Priority(self.priority)
        except ValueError:
            raise AntreanError("field_invalid", field="priority") from None
        reason = clean_text(self.priority_reason, "priority_reason", max_length=200, required=False)
        if priority is Priority.PRIORITY and not reason:
            raise AntreanError("priority_reason_required", field="priority_reason")
        return WalkInDraft(
            clinic_id=check_id(self.clinic_id, "clinic_id"),
            name=patient_name(self.name),
            birth_date=validate_birth_date(self.birth_date, today),
            mrn=patient_mrn(self.mrn),
            sex=patient_sex(self.sex),
            priority=priority,
            priority_reason=reason,
        )


OPERATOR_ACTIONS = frozenset({"recall", "start", "finish", "skip", "requeue", "cancel"})


def operator_action(action: str) -> str:
    if not isinstance(action, str) or action not in OPERATOR_ACTIONS:
        raise AntreanError("unknown_action", action=str(action)[:20])
    return action


def status_code(code: str) -> str:
    """A ticket's public status code as given; anything that cannot be one is not found."""
    return code_text(code, "status_code", not_found="ticket_not_found")


def ticket_event(
    ticket: Ticket,
    action: str,
    *,
    at: datetime,
    actor_user_id: int | None,
    from_state: TicketState | None = None,
    kind: EventKind | None = None,
) -> DomainEvent:
    """The event announcing a ticket's change (its state and counter as they now are, and the
    state it left): an entry of the ticket's timeline."""
    return DomainEvent(
        kind=kind or QUEUE_KINDS[action],
        facility_id=ticket.facility_id,
        at=at,
        clinic_id=ticket.clinic_id,
        ticket_id=ticket.id,
        patient_id=ticket.patient_id,
        actor_user_id=actor_user_id,
        data={
            "label": ticket.label,
            "status_code": ticket.status_code,
            "state": ticket.state.value,
            "from_state": from_state.value if from_state is not None else None,
            "action": action,
            "counter": ticket.counter,
        },
    )

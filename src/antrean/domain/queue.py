"""Queue tickets: numbers per clinic per local day, states, and who is ahead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum, StrEnum

from antrean.domain.errors import AntreanError
from antrean.domain.scheduling import Clinic


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

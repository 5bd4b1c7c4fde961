"""Read models of the queue: the public board of a clinic, where a live stream starts, the
events a reconnecting display missed, and the staff's list of the day with names and waits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from antrean.domain.booking import BookingPolicy
from antrean.domain.events import DomainEvent
from antrean.domain.fields import MAX_ID, check_id, check_optional_id
from antrean.domain.identity import Actor, Role
from antrean.domain.queue import QueuePolicy, Ticket, TicketState, queue_order
from antrean.domain.queue import status_code as status_code_text
from antrean.services.access import allow
from antrean.services.catalog import find_clinic
from antrean.services.ports import UnitOfWork
from antrean.services.queue import QUEUE_POLICY, TicketStatus, ticket_status

NEXT_UP = 5  # waiting numbers a board shows
STREAM_WINDOW = 200  # newest event ids a stream start remembers as already reflected
REPLAY_LIMIT = 500  # a client further behind than this gets a fresh snapshot instead


@dataclass(frozen=True, slots=True)
class CalledTicket:
    label: str
    counter: str | None
    state: TicketState
    called_at: datetime | None = None  # the latest call or call again
    recalls: int = 0


@dataclass(frozen=True, slots=True)
class BoardSnapshot:
    """What a waiting-room display shows: no names, no personal data."""

    clinic_id: int
    clinic_name: str
    day: date
    calling: list[CalledTicket]  # called or being served, latest first
    waiting: int
    next_up: list[str]  # the next numbers, in the order they will be called
    seen_event_ids: frozenset[int]  # events already reflected here (see `StreamStart`)

    @property
    def last_event_id(self) -> int:
        return max(self.seen_event_ids, default=0)


def _clinic_day(uow: UnitOfWork, policy: BookingPolicy) -> tuple[datetime, date]:
    now = uow.clock.now()
    return now, now.astimezone(policy.time_zone).date()


@allow(public=True)
def board_snapshot(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    queue: QueuePolicy = QUEUE_POLICY,
    clinic_id: int,
) -> BoardSnapshot:
    """The current state of a clinic's queue for its board, and which events it reflects:
    read in one transaction, so a live stream can go on from it without a gap."""
    with uow():
        clinic = find_clinic(uow, actor.facility_id, clinic_id)
        now, today = _clinic_day(uow, policy)
        tickets = uow.tickets.list_day(actor.facility_id, clinic.id, today)
        seen = uow.events.latest_ids(actor.facility_id, clinic_id=clinic.id, limit=STREAM_WINDOW)
        busy = [k for k in tickets if k.state in (TicketState.CALLED, TicketState.SERVING)]
        called = uow.tickets.last_called_at([k.id for k in busy])
    order = queue_order(tickets, now, queue.aging)
    # Latest call first: the one a board shows largest.
    busy.sort(key=lambda k: (called.get(k.id) or k.issued_at, k.number), reverse=True)
    return BoardSnapshot(
        clinic_id=clinic.id,
        clinic_name=clinic.name,
        day=today,
        calling=[
            CalledTicket(k.label, k.counter, k.state, called.get(k.id), k.recalls) for k in busy
        ],
        waiting=len(order),
        next_up=[k.label for k in order[:NEXT_UP]],
        seen_event_ids=frozenset(seen),
    )


@dataclass(frozen=True, slots=True)
class TicketSnapshot:
    status: TicketStatus
    seen_event_ids: frozenset[int]

    @property
    def last_event_id(self) -> int:
        return max(self.seen_event_ids, default=0)


@allow(public=True)
def ticket_snapshot(
    uow: UnitOfWork, *, actor: Actor, status_code: str, queue: QueuePolicy = QUEUE_POLICY
) -> TicketSnapshot:
    """Where a ticket stands now, and which of its events that reflects."""
    code = status_code_text(status_code)
    with uow():
        seen = uow.events.latest_ids(actor.facility_id, status_code=code, limit=STREAM_WINDOW)
    status = ticket_status(uow, actor=actor, status_code=code, queue=queue)
    return TicketSnapshot(status, frozenset(seen))


@allow(public=True)
def missed_events(
    uow: UnitOfWork,
    *,
    actor: Actor,
    after_id: int,
    clinic_id: int | None = None,
    status_code: str | None = None,
    limit: int = REPLAY_LIMIT,
) -> list[DomainEvent]:
    """The queue events a reconnecting display or phone missed, oldest first, at most `limit`
    (no personal data leaves through them: see `DomainEvent.public`)."""
    check_optional_id(clinic_id, "clinic_id")
    code = status_code_text(status_code) if status_code is not None else None
    after_id = max(0, min(after_id, MAX_ID))
    with uow():
        return uow.events.since(
            actor.facility_id,
            after_id=after_id,
            clinic_id=clinic_id,
            status_code=code,
            limit=max(1, min(limit, REPLAY_LIMIT + 1)),
        )


@dataclass(frozen=True, slots=True)
class StreamStart:
    """How a live stream begins: the events a reconnecting client missed (`events`), or, when
    it is new or too far behind, the current state (`board` or `ticket`). `seen` are the ids
    of events already reflected, which the live stream then skips."""

    events: list[DomainEvent]
    seen: frozenset[int]
    board: BoardSnapshot | None = None
    ticket: TicketSnapshot | None = None


def _missed(
    uow: UnitOfWork,
    actor: Actor,
    last_event_id: int | None,
    clinic_id: int | None = None,
    status_code: str | None = None,
) -> list[DomainEvent] | None:
    """The missed events, or None when a snapshot is due (new, or too far behind)."""
    if not last_event_id:
        return None
    missed = missed_events(
        uow,
        actor=actor,
        after_id=last_event_id,
        clinic_id=clinic_id,
        status_code=status_code,
        limit=REPLAY_LIMIT + 1,
    )
    return missed if len(missed) <= REPLAY_LIMIT else None


@allow(public=True)
def start_clinic_stream(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    queue: QueuePolicy = QUEUE_POLICY,
    clinic_id: int,
    last_event_id: int | None,
) -> StreamStart:
    """Where a display's live stream of a clinic begins (see `StreamStart`)."""
    missed = _missed(uow, actor, last_event_id, clinic_id=clinic_id)
    if missed is not None:
        return StreamStart(events=missed, seen=frozenset(e.id for e in missed))
    board = board_snapshot(uow, actor=actor, policy=policy, queue=queue, clinic_id=clinic_id)
    return StreamStart(events=[], seen=board.seen_event_ids, board=board)


@allow(public=True)
def start_ticket_stream(
    uow: UnitOfWork,
    *,
    actor: Actor,
    queue: QueuePolicy = QUEUE_POLICY,
    status_code: str,
    last_event_id: int | None,
) -> StreamStart:
    """Where a phone's live stream of one ticket begins (see `StreamStart`)."""
    missed = _missed(uow, actor, last_event_id, status_code=status_code)
    if missed is not None:
        return StreamStart(events=missed, seen=frozenset(e.id for e in missed))
    ticket = ticket_snapshot(uow, actor=actor, status_code=status_code, queue=queue)
    return StreamStart(events=[], seen=ticket.seen_event_ids, ticket=ticket)


@dataclass(frozen=True, slots=True)
class StaffQueueRow:
    """A ticket as the front desk and the doctor see it: with the patient and the wait."""

    ticket: Ticket
    patient_name: str
    mrn: str
    waited: timedelta | None  # from issue to its first call, or to now while waiting;
    # None for a ticket that left the line without being called (cancelled, transferred)
    position: int | None  # place in line (1 = next) while waiting


@allow(Role.OPERATOR, Role.DOCTOR)
def staff_queue(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    queue: QueuePolicy = QUEUE_POLICY,
    clinic_id: int,
    day: date | None = None,
) -> list[StaffQueueRow]:
    """A clinic's tickets of a day (today unless given) with patient names, record numbers,
    waiting times and places in line, in the order they will be or were called."""
    check_id(clinic_id, "clinic_id")
    with uow():
        find_clinic(uow, actor.facility_id, clinic_id)
        now, today = _clinic_day(uow, policy)
        tickets = uow.tickets.list_day(actor.facility_id, clinic_id, day or today)
        patients = uow.patients.get_many(actor.facility_id, [k.patient_id for k in tickets])
        called_at = uow.tickets.called_at([k.id for k in tickets])
    order = {k.id: n for n, k in enumerate(queue_order(tickets, now, queue.aging), start=1)}
    rows = []
    for k in tickets:
        patient = patients.get(k.patient_id)
        until = called_at.get(k.id) or (now if k.state is TicketState.WAITING else None)
        rows.append(
            StaffQueueRow(
                ticket=k,
                patient_name=patient.name if patient else "",
                mrn=patient.mrn if patient else "",
                waited=None if until is None else max(until - k.issued_at, timedelta(0)),
                position=order.get(k.id),
            )
        )
    return sorted(rows, key=lambda r: (r.position is None, r.position or 0, r.ticket.number))

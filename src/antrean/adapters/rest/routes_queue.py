"""The patient queue: walk-in registration, public ticket status, the day's queue."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Path

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathCode, PathId
from antrean.adapters.rest.schemas_queue import (
    CallNextIn,
    OperatorTicketOut,
    StaffTicketOut,
    TicketStatusOut,
    TransferIn,
    WalkInIn,
)
from antrean.bootstrap import Container
from antrean.domain.identity import Actor
from antrean.domain.queue import Priority, Ticket, WalkInDraft
from antrean.services import queue as svc
from antrean.services import queue_actions
from antrean.services import queue_views as views

router = APIRouter(tags=["queue"])

PRIORITIES = {
    "normal": Priority.NORMAL,
    "priority": Priority.PRIORITY,
    "emergency": Priority.EMERGENCY,
}


def status_out(s: svc.TicketStatus) -> TicketStatusOut:
    return TicketStatusOut(
        ticket=s.label,
        clinic_id=s.clinic_id,
        clinic_name=s.clinic_name,
        state=s.state.value,
        people_ahead=s.people_ahead,
        estimated_call_at=s.estimated_call_at,
        estimated_call_earliest=s.estimated_call_earliest,
        estimated_call_latest=s.estimated_call_latest,
        status_code=s.status_code,
    )


@router.post(
    "/queue/walk-ins",
    response_model=TicketStatusOut,
    status_code=201,
    summary="Register a walk-in patient and issue a queue number",
)
async def walk_in(
    body: WalkInIn, actor: Actor = Depends(deps.staff), c: Container = Depends(deps.container)
) -> TicketStatusOut:
    """Staff. The patient is matched by MRN (the date of birth must agree) or created.
    Refused with `clinic_closed` outside the clinic's hours or when it is switched off."""
    walk_in = WalkInDraft(
        clinic_id=body.clinic_id,
        name=body.name,
        birth_date=body.birth_date,
        mrn=body.mrn,
        sex=body.sex,
        priority=PRIORITIES[body.priority],
        priority_reason=body.priority_reason,
    )
    issued = await c.write(
        svc.issue_walk_in, c.uow(), actor=actor, policy=c.policy, phones=c.phones, walk_in=walk_in
    )
    # The people ahead are counted after the write, outside SQLite's write turn.
    status = await c.call(svc.status_of, c.uow(), actor=actor, issued=issued, queue=c.queue_policy)
    return status_out(status)


@router.post(
    "/appointments/{code}/check-in",
    response_model=TicketStatusOut,
    status_code=201,
    summary="Check in for today's appointment and get a queue number",
)
async def check_in(
    code: PathCode,
    actor: Actor = Depends(deps.any_user),
    c: Container = Depends(deps.container),
) -> TicketStatusOut:
    """Staff, or the patient it belongs to. On time (or within the grace period) the ticket
    is placed by the appointment time; later, at the back of the line."""
    issued = await c.write(
        svc.check_in,
        c.uow(),
        actor=actor,
        policy=c.policy,
        code=code,
        queue=c.queue_policy,
    )
    status = await c.call(svc.status_of, c.uow(), actor=actor, issued=issued, queue=c.queue_policy)
    return status_out(status)


@router.get(
    "/queue/status/{status_code}",
    response_model=TicketStatusOut,
    summary="Where a ticket stands (public, no personal data)",
)
async def status(status_code: PathCode, c: Container = Depends(deps.container)) -> TicketStatusOut:
    """Anyone holding the ticket's status code (whoever asks, signed in or not)."""
    result = await c.call(
        svc.ticket_status,
        c.uow(),
        actor=c.anonymous(),
        status_code=status_code,
        queue=c.queue_policy,
    )
    return status_out(result)


@router.get(
    "/clinics/{clinic_id}/queue",
    response_model=list[StaffTicketOut],
    summary="A clinic's queue for a day, for staff",
)
async def clinic_queue(
    clinic_id: PathId,
    day: date | None = None,
    actor: Actor = Depends(deps.staff),
    c: Container = Depends(deps.container),
) -> list[StaffTicketOut]:
    """Staff. Today (the facility's local day) unless `day` is given: in the order patients
    will be (or were) called, with names, record numbers, waits and places in line."""
    rows = await c.call(
        views.staff_queue,
        c.uow(),
        actor=actor,
        policy=c.policy,
        queue=c.queue_policy,
        clinic_id=clinic_id,
        day=day,
    )
    return [
        StaffTicketOut(
            id=r.ticket.id,
            label=r.ticket.label,
            state=r.ticket.state.value,
            priority=int(r.ticket.priority),
            priority_reason=r.ticket.priority_reason,
            source=r.ticket.source.value,
            counter=r.ticket.counter,
            recalls=r.ticket.recalls,
            patient_id=r.ticket.patient_id,
            patient_name=r.patient_name,
            mrn=r.mrn,
            issued_at=r.ticket.issued_at,
            waited_minutes=None if r.waited is None else int(r.waited.total_seconds() // 60),
            position=r.position,
        )
        for r in rows
    ]


def _operator_out(k: Ticket) -> OperatorTicketOut:
    return OperatorTicketOut(
        id=k.id,
        label=k.label,
        clinic_id=k.clinic_id,
        state=k.state.value,
        counter=k.counter,
        recalls=k.recalls,
        patient_id=k.patient_id,
    )


@router.post(
    "/clinics/{clinic_id}/queue/call-next",
    response_model=OperatorTicketOut,
    summary="Call the next patient to a counter",
)
async def call_next(
    clinic_id: PathId,
    body: CallNextIn,
    actor: Actor = Depends(deps.staff),
    c: Container = Depends(deps.container),
) -> OperatorTicketOut:
    """Staff. Emergencies first, then priority patients, then by arrival; a long wait moves a
    ticket up. `queue_empty` (404) when nobody waits."""
    ticket = await c.write(
        queue_actions.call_next,
        c.uow(),
        actor=actor,
        policy=c.policy,
        queue=c.queue_policy,
        clinic_id=clinic_id,
        counter=body.counter,
    )
    return _operator_out(ticket)


@router.post(
    "/queue/tickets/{ticket_id}/transfer",
    response_model=OperatorTicketOut,
    status_code=201,
    summary="Send the patient on to another clinic's queue",
)
async def transfer(
    ticket_id: PathId,
    body: TransferIn,
    actor: Actor = Depends(deps.staff),
    c: Container = Depends(deps.container),
) -> OperatorTicketOut:
    """Staff. Answers with the new ticket in the other clinic."""
    ticket = await c.write(
        queue_actions.transfer_ticket,
        c.uow(),
        actor=actor,
        policy=c.policy,
        ticket_id=ticket_id,
        to_clinic_id=body.clinic_id,
    )
    return _operator_out(ticket)


@router.post(
    "/queue/tickets/{ticket_id}/undo",
    response_model=OperatorTicketOut,
    summary="Undo the ticket's last action",
)
async def undo(
    ticket_id: PathId, actor: Actor = Depends(deps.staff), c: Container = Depends(deps.container)
) -> OperatorTicketOut:
    """Staff."""
    ticket = await c.write(
        queue_actions.undo_last_action, c.uow(), actor=actor, ticket_id=ticket_id
    )
    return _operator_out(ticket)


# Last: the fixed paths above (transfer, undo) must match before this one.
ACTIONS = "recall|start|finish|skip|requeue|cancel"


@router.post(
    "/queue/tickets/{ticket_id}/{action}",
    response_model=OperatorTicketOut,
    summary="recall, start, finish, skip, requeue or cancel a ticket",
)
async def ticket_action(
    ticket_id: PathId,
    action: str = Path(pattern=f"^({ACTIONS})$"),
    actor: Actor = Depends(deps.staff),
    c: Container = Depends(deps.container),
) -> OperatorTicketOut:
    """Staff. A recall beyond the configured limit marks the patient a no-show (skipped);
    `requeue` puts a skipped patient at the back of the line."""
    ticket = await c.write(
        queue_actions.act_on_ticket,
        c.uow(),
        actor=actor,
        queue=c.queue_policy,
        ticket_id=ticket_id,
        action=action,
    )
    return _operator_out(ticket)

"""Weekly schedules, exceptions (leave, holidays, changed hours), slots, booking conflicts."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathId, QueryId
from antrean.adapters.rest.schemas import (
    ConflictOut,
    ExceptionIn,
    ExceptionOut,
    ExceptionSaved,
    ScheduleIn,
    ScheduleOut,
    ScheduleSaved,
    SlotOut,
    SyncOut,
)
from antrean.bootstrap import Container
from antrean.domain.identity import Actor
from antrean.domain.scheduling import Schedule, ScheduleException
from antrean.services import scheduling as svc

router = APIRouter(tags=["scheduling"])


@router.get("/schedules", response_model=list[ScheduleOut], summary="Weekly schedules")
async def list_schedules(
    doctor_id: QueryId = None,
    clinic_id: QueryId = None,
    actor: Actor = Depends(deps.caller),
    c: Container = Depends(deps.container),
) -> list[ScheduleOut]:
    """Anyone."""
    rows = await c.call(
        svc.list_schedules, c.uow(), actor=actor, doctor_id=doctor_id, clinic_id=clinic_id
    )
    return [ScheduleOut.model_validate(x) for x in rows]


def _schedule(body: ScheduleIn, schedule_id: int = 0) -> Schedule:
    return Schedule(
        id=schedule_id,
        doctor_id=body.doctor_id,
        clinic_id=body.clinic_id,
        weekday=body.weekday,
        start=body.start,
        end=body.end,
        slot_minutes=body.slot_minutes,
        capacity=body.capacity,
    )


async def _save(c: Container, actor: Actor, schedule: Schedule) -> ScheduleSaved:
    saved, report = await c.call(
        svc.save_schedule, c.uow(), actor=actor, policy=c.policy, schedule=schedule
    )
    return ScheduleSaved(
        schedule=ScheduleOut.model_validate(saved), slots=SyncOut.model_validate(report)
    )


@router.post("/schedules", response_model=ScheduleSaved, status_code=201, summary="Add a schedule")
async def create_schedule(
    body: ScheduleIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> ScheduleSaved:
    """Admin only. Slots over the booking horizon are generated at once."""
    return await _save(c, actor, _schedule(body))


@router.put("/schedules/{schedule_id}", response_model=ScheduleSaved, summary="Replace a schedule")
async def replace_schedule(
    schedule_id: PathId,
    body: ScheduleIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> ScheduleSaved:
    """Admin only. Bookings that no longer fit are kept and reported as conflicts."""
    return await _save(c, actor, _schedule(body, schedule_id))


@router.delete("/schedules/{schedule_id}", response_model=SyncOut, summary="Remove a schedule")
async def delete_schedule(
    schedule_id: PathId, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> SyncOut:
    """Admin only."""
    report = await c.call(
        svc.delete_schedule, c.uow(), actor=actor, policy=c.policy, schedule_id=schedule_id
    )
    return SyncOut.model_validate(report)


@router.get("/schedule-exceptions", response_model=list[ExceptionOut], summary="Leave and holidays")
async def list_exceptions(
    date_from: date,
    date_to: date,
    actor: Actor = Depends(deps.caller),
    c: Container = Depends(deps.container),
) -> list[ExceptionOut]:
    """Anyone. At most 366 days per request."""
    rows = await c.call(
        svc.list_exceptions, c.uow(), actor=actor, first_day=date_from, last_day=date_to
    )
    return [ExceptionOut.model_validate(x) for x in rows]


@router.post(
    "/schedule-exceptions",
    response_model=ExceptionSaved,
    status_code=201,
    summary="Add leave, a holiday or changed hours",
)
async def create_exception(
    body: ExceptionIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> ExceptionSaved:
    """Admin only. Affected bookings are kept and reported as conflicts, never dropped."""
    exc = ScheduleException(id=0, **body.model_dump())
    saved, report = await c.call(
        svc.add_exception, c.uow(), actor=actor, policy=c.policy, exception=exc
    )
    return ExceptionSaved(
        exception=ExceptionOut.model_validate(saved), slots=SyncOut.model_validate(report)
    )


@router.delete("/schedule-exceptions/{exception_id}", response_model=SyncOut, summary="Remove one")
async def delete_exception(
    exception_id: PathId, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> SyncOut:
    """Admin only."""
    report = await c.call(
        svc.delete_exception, c.uow(), actor=actor, policy=c.policy, exception_id=exception_id
    )
    return SyncOut.model_validate(report)


@router.get("/slots", response_model=list[SlotOut], summary="Search bookable slots")
async def search_slots(
    date_from: date,
    date_to: date | None = None,
    clinic_id: QueryId = None,
    service_id: QueryId = None,
    doctor_id: QueryId = None,
    only_free: bool = Query(
        True, description="Only slots with a free place that can still be booked"
    ),
    actor: Actor = Depends(deps.caller),
    c: Container = Depends(deps.container),
) -> list[SlotOut]:
    """Anyone. At most 31 days per search."""
    rows = await c.call(
        svc.search_slots,
        c.uow(),
        actor=actor,
        policy=c.policy,
        date_from=date_from,
        date_to=date_to,
        clinic_id=clinic_id,
        service_id=service_id,
        doctor_id=doctor_id,
        only_free=only_free,
    )
    return [SlotOut.model_validate(r) for r in rows]


@router.post("/slots/generate", response_model=SyncOut, summary="Regenerate slots now")
async def generate(
    actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> SyncOut:
    """Admin only. Normally slots follow every change by themselves; this re-runs the sync."""
    report = await c.call(svc.generate_facility_slots, c.uow(), actor=actor, policy=c.policy)
    return SyncOut.model_validate(report)


@router.get("/booking-conflicts", response_model=list[ConflictOut], summary="Bookings to resolve")
async def conflicts(
    actor: Actor = Depends(deps.staff), c: Container = Depends(deps.container)
) -> list[ConflictOut]:
    """Staff. Bookings whose slot a schedule change or exception took away."""
    return [
        ConflictOut.model_validate(x)
        for x in await c.call(svc.list_conflicts, c.uow(), actor=actor)
    ]


@router.post(
    "/booking-conflicts/{conflict_id}/resolve",
    response_model=ConflictOut,
    summary="Keep a booking that lost its slot",
)
async def resolve_conflict(
    conflict_id: PathId, actor: Actor = Depends(deps.staff), c: Container = Depends(deps.container)
) -> ConflictOut:
    """Staff. Closes the conflict and keeps the booking as it is (the patient was told, or the
    doctor sees them all the same). Rescheduling or cancelling the appointment closes its
    conflicts by itself."""
    conflict = await c.call(svc.resolve_conflict, c.uow(), actor=actor, conflict_id=conflict_id)
    return ConflictOut.model_validate(conflict)

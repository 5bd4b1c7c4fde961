"""Clinics, services, doctors, schedules, exceptions, slots: admins write, everyone reads."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query

from antrean.adapters.rest import deps
from antrean.adapters.rest.schemas import (
    ClinicIn,
    ClinicOut,
    ClinicPatch,
    ConflictOut,
    DoctorIn,
    DoctorOut,
    DoctorPatch,
    ExceptionIn,
    ExceptionOut,
    ExceptionSaved,
    ScheduleIn,
    ScheduleOut,
    ScheduleSaved,
    ServiceIn,
    ServiceOut,
    ServicePatch,
    SlotOut,
    SyncOut,
)
from antrean.bootstrap import Container
from antrean.domain.identity import Actor
from antrean.domain.scheduling import OpeningHours, Schedule, ScheduleException
from antrean.services import scheduling as svc

router = APIRouter(tags=["catalog"])


def _hours(items: list) -> list[OpeningHours]:  # type: ignore[type-arg]
    return [OpeningHours(h.weekday, h.opens, h.closes) for h in items]


@router.get("/clinics", response_model=list[ClinicOut], summary="List clinics (poli)")
async def list_clinics(
    fid: int = Depends(deps.facility_id), c: Container = Depends(deps.container)
) -> list[ClinicOut]:
    """Anyone, signed in or not."""
    return [
        ClinicOut.model_validate(x)
        for x in await c.call(svc.list_clinics, c.uow(), facility_id=fid)
    ]


@router.get("/clinics/{clinic_id}", response_model=ClinicOut, summary="One clinic")
async def get_clinic(
    clinic_id: int, fid: int = Depends(deps.facility_id), c: Container = Depends(deps.container)
) -> ClinicOut:
    """Anyone."""
    return ClinicOut.model_validate(
        await c.call(svc.get_clinic, c.uow(), facility_id=fid, clinic_id=clinic_id)
    )


@router.post("/clinics", response_model=ClinicOut, status_code=201, summary="Create a clinic")
async def create_clinic(
    body: ClinicIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> ClinicOut:
    """Admin only."""
    clinic = await c.call(
        svc.create_clinic,
        c.uow(),
        actor=actor,
        policy=c.policy,
        code=body.code,
        name=body.name,
        queue_prefix=body.queue_prefix,
        is_open=body.is_open,
        hours=_hours(body.hours),
    )
    return ClinicOut.model_validate(clinic)


@router.patch("/clinics/{clinic_id}", response_model=ClinicOut, summary="Change a clinic")
async def update_clinic(
    clinic_id: int,
    body: ClinicPatch,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> ClinicOut:
    """Admin only. `is_open: false` switches the clinic off; new `hours` regenerate its slots."""
    changes = body.model_dump(exclude_unset=True, exclude={"hours"})
    if "queue_prefix" in changes:
        changes["queue_prefix"] = changes["queue_prefix"].upper()
    hours = _hours(body.hours) if body.hours is not None else None
    clinic = await c.call(
        svc.update_clinic,
        c.uow(),
        actor=actor,
        policy=c.policy,
        clinic_id=clinic_id,
        changes=changes,
        hours=hours,
    )
    return ClinicOut.model_validate(clinic)


@router.get("/services", response_model=list[ServiceOut], summary="List services")
async def list_services(
    clinic_id: int | None = None,
    fid: int = Depends(deps.facility_id),
    c: Container = Depends(deps.container),
) -> list[ServiceOut]:
    """Anyone."""
    rows = await c.call(svc.list_services, c.uow(), facility_id=fid, clinic_id=clinic_id)
    return [ServiceOut.model_validate(x) for x in rows]


@router.post("/services", response_model=ServiceOut, status_code=201, summary="Create a service")
async def create_service(
    body: ServiceIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> ServiceOut:
    """Admin only."""
    row = await c.call(
        svc.create_service,
        c.uow(),
        actor=actor,
        clinic_id=body.clinic_id,
        name=body.name,
        duration_minutes=body.duration_minutes,
    )
    return ServiceOut.model_validate(row)


@router.patch("/services/{service_id}", response_model=ServiceOut, summary="Change a service")
async def update_service(
    service_id: int,
    body: ServicePatch,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> ServiceOut:
    """Admin only."""
    row = await c.call(
        svc.update_service,
        c.uow(),
        actor=actor,
        service_id=service_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return ServiceOut.model_validate(row)


@router.get("/doctors", response_model=list[DoctorOut], summary="List doctors")
async def list_doctors(
    fid: int = Depends(deps.facility_id), c: Container = Depends(deps.container)
) -> list[DoctorOut]:
    """Anyone."""
    return [
        DoctorOut.model_validate(x)
        for x in await c.call(svc.list_doctors, c.uow(), facility_id=fid)
    ]


@router.get("/doctors/{doctor_id}", response_model=DoctorOut, summary="One doctor")
async def get_doctor(
    doctor_id: int, fid: int = Depends(deps.facility_id), c: Container = Depends(deps.container)
) -> DoctorOut:
    """Anyone."""
    return DoctorOut.model_validate(
        await c.call(svc.get_doctor, c.uow(), facility_id=fid, doctor_id=doctor_id)
    )


@router.post("/doctors", response_model=DoctorOut, status_code=201, summary="Add a doctor")
async def create_doctor(
    body: DoctorIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> DoctorOut:
    """Admin only."""
    row = await c.call(
        svc.create_doctor, c.uow(), actor=actor, name=body.name, specialty=body.specialty
    )
    return DoctorOut.model_validate(row)


@router.patch("/doctors/{doctor_id}", response_model=DoctorOut, summary="Change a doctor")
async def update_doctor(
    doctor_id: int,
    body: DoctorPatch,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> DoctorOut:
    """Admin only."""
    row = await c.call(
        svc.update_doctor,
        c.uow(),
        actor=actor,
        doctor_id=doctor_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return DoctorOut.model_validate(row)


@router.get("/schedules", response_model=list[ScheduleOut], summary="Weekly schedules")
async def list_schedules(
    doctor_id: int | None = None,
    clinic_id: int | None = None,
    fid: int = Depends(deps.facility_id),
    c: Container = Depends(deps.container),
) -> list[ScheduleOut]:
    """Anyone."""
    rows = await c.call(
        svc.list_schedules, c.uow(), facility_id=fid, doctor_id=doctor_id, clinic_id=clinic_id
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


@router.post("/schedules", response_model=ScheduleSaved, status_code=201, summary="Add a schedule")
async def create_schedule(
    body: ScheduleIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> ScheduleSaved:
    """Admin only. Slots over the booking horizon are generated at once."""
    saved, report = await c.call(
        svc.save_schedule, c.uow(), actor=actor, policy=c.policy, schedule=_schedule(body)
    )
    return ScheduleSaved(
        schedule=ScheduleOut.model_validate(saved), slots=SyncOut.model_validate(report)
    )


@router.put("/schedules/{schedule_id}", response_model=ScheduleSaved, summary="Replace a schedule")
async def replace_schedule(
    schedule_id: int,
    body: ScheduleIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> ScheduleSaved:
    """Admin only. Bookings that no longer fit are kept and reported as conflicts."""
    saved, report = await c.call(
        svc.save_schedule,
        c.uow(),
        actor=actor,
        policy=c.policy,
        schedule=_schedule(body, schedule_id),
    )
    return ScheduleSaved(
        schedule=ScheduleOut.model_validate(saved), slots=SyncOut.model_validate(report)
    )


@router.delete("/schedules/{schedule_id}", response_model=SyncOut, summary="Remove a schedule")
async def delete_schedule(
    schedule_id: int, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
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
    fid: int = Depends(deps.facility_id),
    c: Container = Depends(deps.container),
) -> list[ExceptionOut]:
    """Anyone."""
    rows = await c.call(
        svc.list_exceptions, c.uow(), facility_id=fid, first_day=date_from, last_day=date_to
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
    exception_id: int, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
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
    clinic_id: int | None = None,
    service_id: int | None = None,
    doctor_id: int | None = None,
    only_free: bool = Query(
        True, description="Only slots with a free place that can still be booked"
    ),
    fid: int = Depends(deps.facility_id),
    c: Container = Depends(deps.container),
) -> list[SlotOut]:
    """Anyone. At most 31 days per search."""
    rows = await c.call(
        svc.search_slots,
        c.uow(),
        facility_id=fid,
        policy=c.policy,
        date_from=date_from,
        date_to=date_to or date_from,
        clinic_id=clinic_id,
        service_id=service_id,
        doctor_id=doctor_id,
        only_free=only_free,
    )
    return [
        SlotOut(
            id=r.id,
            doctor_id=r.doctor_id,
            doctor_name=r.doctor_name,
            clinic_id=r.clinic_id,
            clinic_name=r.clinic_name,
            day=r.day,
            start_at=r.start_at,
            end_at=r.end_at,
            capacity=r.capacity,
            booked=r.booked,
            available=max(r.capacity - r.booked, 0),
        )
        for r in rows
    ]


@router.post("/slots/generate", response_model=SyncOut, summary="Regenerate slots now")
async def generate(
    actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> SyncOut:
    """Admin only. Normally slots follow every change by themselves; this re-runs the sync."""
    report = await c.call(
        svc.generate_facility_slots, c.uow(), facility_id=actor.facility_id, policy=c.policy
    )
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

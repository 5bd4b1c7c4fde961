"""Appointments: book, look up, cancel, reschedule, list."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Header, Query, Response

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathCode, QueryId
from antrean.adapters.rest.schemas import PageOut
from antrean.adapters.rest.schemas_people import (
    AppointmentIn,
    AppointmentOut,
    CancelIn,
    RescheduleIn,
)
from antrean.bootstrap import Container
from antrean.domain.booking import AppointmentStatus, BookingDraft
from antrean.domain.common import Page
from antrean.domain.identity import Actor
from antrean.services import booking as svc
from antrean.services.ports import AppointmentFilter

router = APIRouter(prefix="/appointments", tags=["appointments"])


def _out(appointment: object) -> AppointmentOut:
    return AppointmentOut.model_validate(appointment)


@router.post("", response_model=AppointmentOut, status_code=201, summary="Book an appointment")
async def book(
    body: AppointmentIn,
    response: Response,
    idempotency_key: str | None = Header(
        None, max_length=200, description="Retries with the same key return the first booking"
    ),
    actor: Actor = Depends(deps.any_user),
    c: Container = Depends(deps.container),
) -> AppointmentOut:
    """A patient books for themselves; staff book for any patient (`patient_id`)."""
    draft = BookingDraft(
        slot_id=body.slot_id, patient_id=body.patient_id, service_id=body.service_id, note=body.note
    )
    appointment = await c.write(
        svc.book_appointment,
        c.uow(),
        actor=actor,
        policy=c.policy,
        draft=draft,
        idempotency_key=idempotency_key,
    )
    response.headers["Location"] = f"/api/v1/appointments/{appointment.code}"
    return _out(appointment)


@router.get("/mine", response_model=PageOut[AppointmentOut], summary="My appointments")
async def mine(
    status: AppointmentStatus | None = None,
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(20, ge=1, le=200),
    actor: Actor = Depends(deps.patient),
    c: Container = Depends(deps.container),
) -> PageOut[AppointmentOut]:
    """A patient."""
    items, total = await c.call(
        svc.list_my_appointments, c.uow(), actor=actor, page=Page(page, size), status=status
    )
    return PageOut[AppointmentOut](
        items=[_out(a) for a in items], total=total, page=page, size=size
    )


@router.get("", response_model=PageOut[AppointmentOut], summary="List appointments")
async def list_all(
    date_from: date | None = None,
    date_to: date | None = None,
    clinic_id: QueryId = None,
    doctor_id: QueryId = None,
    patient_id: QueryId = None,
    status: AppointmentStatus | None = None,
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(50, ge=1, le=500),
    actor: Actor = Depends(deps.staff),
    c: Container = Depends(deps.container),
) -> PageOut[AppointmentOut]:
    """Staff. Filter by dates, clinic, doctor, patient and status."""
    flt = AppointmentFilter(
        day_from=date_from,
        day_to=date_to,
        clinic_id=clinic_id,
        doctor_id=doctor_id,
        patient_id=patient_id,
        status=status,
    )
    items, total = await c.call(
        svc.list_appointments, c.uow(), actor=actor, flt=flt, page=Page(page, size)
    )
    return PageOut[AppointmentOut](
        items=[_out(a) for a in items], total=total, page=page, size=size
    )


@router.get("/{code}", response_model=AppointmentOut, summary="An appointment by booking code")
async def get(
    code: PathCode, actor: Actor = Depends(deps.any_user), c: Container = Depends(deps.container)
) -> AppointmentOut:
    """Staff, or the patient it belongs to."""
    return _out(await c.call(svc.get_appointment, c.uow(), actor=actor, code=code))


@router.post("/{code}/cancel", response_model=AppointmentOut, summary="Cancel an appointment")
async def cancel(
    code: PathCode,
    body: CancelIn,
    actor: Actor = Depends(deps.any_user),
    c: Container = Depends(deps.container),
) -> AppointmentOut:
    """Staff, or the patient it belongs to. The place is freed at once."""
    return _out(
        await c.write(svc.cancel_appointment, c.uow(), actor=actor, code=code, reason=body.reason)
    )


@router.post("/{code}/reschedule", response_model=AppointmentOut, summary="Move to another slot")
async def reschedule(
    code: PathCode,
    body: RescheduleIn,
    actor: Actor = Depends(deps.any_user),
    c: Container = Depends(deps.container),
) -> AppointmentOut:
    """Staff, or the patient it belongs to. All or nothing: new place taken, old one freed."""
    appointment = await c.write(
        svc.reschedule_appointment,
        c.uow(),
        actor=actor,
        policy=c.policy,
        code=code,
        new_slot_id=body.slot_id,
    )
    return _out(appointment)

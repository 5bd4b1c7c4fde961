"""Doctors, their weekly schedules and their exceptions (leave, changed hours), and holidays,
for admins. An exception is shown with the bookings it would touch before it is saved: those
bookings are kept and listed for the front desk to move, never dropped."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from antrean.adapters.web.core import (
    Visitor,
    WebRoute,
    parse_id,
    read_form,
    redirect,
    render,
    require,
    text_of,
    visit,
    web_of,
)
from antrean.adapters.web.forms import FieldErrors, admin_form, checked, values_of
from antrean.domain.catalog import DoctorDraft, DoctorPatch
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Role
from antrean.domain.scheduling import ExceptionKind, Schedule, ScheduleException
from antrean.services import catalog, scheduling

router = APIRouter(route_class=WebRoute, include_in_schema=False)
DOCTOR_FIELDS = ("name", "specialty")
SCHEDULE_FIELDS = ("clinic_id", "weekday", "start", "end", "slot_minutes", "capacity")
EXCEPTION_FIELDS = ("kind", "date_from", "date_to", "start", "end", "reason", "clinic_id")
EXCEPTIONS_AHEAD = timedelta(days=120)


@router.get("/admin/doctors")
async def doctors_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    return await _doctors_page(request, v)


async def _doctors_page(
    request: Request, v: Visitor, *, status: int = 200, **extra: Any
) -> Response:
    c = web_of(request).container
    doctors = await c.call(catalog.list_doctors, c.uow(), actor=v.actor)
    context = {"doctors": doctors, "errors": {}, "values": {}, "section": "doctors", **extra}
    return render(request, v, "admin_doctors.html", context, status=status)


@router.post("/admin/doctors")
async def create_doctor(request: Request, v: Visitor = Depends(visit)) -> Response:
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    errors.required(form, "name")
    values = values_of(form, *DOCTOR_FIELDS)
    if not errors:
        draft = DoctorDraft(name=values["name"], specialty=values["specialty"])
        try:
            made = await c.write(catalog.create_doctor, c.uow(), actor=v.actor, draft=draft)
        except AntreanError as exc:
            errors.add(exc, DOCTOR_FIELDS)
        else:
            return redirect(f"/admin/doctors/{made.id}?saved=1")
    return await _doctors_page(request, v, status=400, errors=errors, values=values)


async def _doctor_page(
    request: Request, v: Visitor, doctor_id: str, *, status: int = 200, **extra: Any
) -> Response:
    c = web_of(request).container
    number = parse_id(doctor_id)
    if number is None:
        raise AntreanError("not_found", entity="Doctor")
    doctor = await c.call(catalog.get_doctor, c.uow(), actor=v.actor, doctor_id=number)
    clinics = await c.call(catalog.list_clinics, c.uow(), actor=v.actor)
    schedules = await c.call(scheduling.list_schedules, c.uow(), actor=v.actor, doctor_id=number)
    today = c.clock.now().astimezone(c.policy.time_zone).date()
    exceptions = await c.call(
        scheduling.list_exceptions,
        c.uow(),
        actor=v.actor,
        first_day=today,
        last_day=today + EXCEPTIONS_AHEAD,
    )
    context = {
        "doctor": doctor,
        "clinics": {k.id: k for k in clinics},
        "schedules": sorted(schedules, key=lambda s: (s.weekday, s.start)),
        "exceptions": [x for x in exceptions if x.doctor_id in (None, number)],
        "values": {"name": doctor.name, "specialty": doctor.specialty, "active": doctor.active},
        "errors": {},
        "schedule_errors": {},
        "schedule_values": {"slot_minutes": "15", "capacity": "1"},
        "exception_errors": {},
        "exception_values": {"kind": "leave"},
        "preview": None,
        "section": "doctors",
        **extra,
    }
    return render(request, v, "admin_doctor.html", context, status=status)


@router.get("/admin/doctors/{doctor_id}")
async def doctor_page(doctor_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    return await _doctor_page(request, v, doctor_id)


@router.post("/admin/doctors/{doctor_id}")
async def update_doctor(doctor_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    errors.required(form, "name")
    values: dict[str, Any] = {**values_of(form, *DOCTOR_FIELDS), "active": checked(form, "active")}
    if not errors:
        patch = DoctorPatch(
            name=values["name"], specialty=values["specialty"], active=values["active"]
        )
        try:
            await c.write(
                catalog.update_doctor,
                c.uow(),
                actor=v.actor,
                doctor_id=parse_id(doctor_id) or 0,
                patch=patch,
            )
        except AntreanError as exc:
            errors.add(exc, DOCTOR_FIELDS)
        else:
            return redirect(f"/admin/doctors/{doctor_id}?saved=1")
    return await _doctor_page(request, v, doctor_id, status=400, errors=errors, values=values)


@router.post("/admin/doctors/{doctor_id}/schedules")
async def add_schedule(doctor_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    errors.required(form, "clinic_id", "weekday", "start", "end", "slot_minutes", "capacity")
    start, end = errors.time(form, "start"), errors.time(form, "end")
    schedule = Schedule(
        id=0,
        doctor_id=parse_id(doctor_id) or 0,
        clinic_id=errors.id(form, "clinic_id") or 0,
        weekday=errors.number(form, "weekday", 0) or 0,
        start=start or time.min,  # a missing time is already an error: the use case is not run
        end=end or time.min,
        slot_minutes=errors.number(form, "slot_minutes", 0) or 0,
        capacity=errors.number(form, "capacity", 0) or 0,
    )
    if not errors:
        try:
            await c.write(
                scheduling.save_schedule, c.uow(), actor=v.actor, policy=c.policy, schedule=schedule
            )
        except AntreanError as exc:
            errors.add(exc, SCHEDULE_FIELDS)
        else:
            return redirect(f"/admin/doctors/{doctor_id}?saved=schedule#schedules")
    values = values_of(form, *SCHEDULE_FIELDS)
    return await _doctor_page(
        request, v, doctor_id, status=400, schedule_errors=errors, schedule_values=values
    )


@router.post("/admin/doctors/{doctor_id}/schedules/{schedule_id}/delete")
async def delete_schedule(
    doctor_id: str, schedule_id: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    await read_form(request, v)
    require(v, Role.ADMIN)
    c = web_of(request).container
    await c.write(
        scheduling.delete_schedule,
        c.uow(),
        actor=v.actor,
        policy=c.policy,
        schedule_id=parse_id(schedule_id) or 0,
    )
    return redirect(f"/admin/doctors/{doctor_id}?saved=schedule#schedules")


def _exception(form: FormData, errors: FieldErrors, doctor_id: int | None) -> ScheduleException:
    errors.required(form, "date_from")
    kind = text_of(form, "kind")
    first = errors.date(form, "date_from")
    last = errors.date(form, "date_to") or first
    return ScheduleException(
        id=0,
        kind=ExceptionKind(kind) if kind in {k.value for k in ExceptionKind} else kind,  # type: ignore[arg-type]
        date_from=first or date.min,  # missing: already an error, the use case is not run
        date_to=last or date.min,
        doctor_id=doctor_id if kind != ExceptionKind.HOLIDAY.value else None,
        clinic_id=errors.id(form, "clinic_id") if kind == ExceptionKind.HOLIDAY.value else None,
        start=errors.time(form, "start"),
        end=errors.time(form, "end"),
        reason=text_of(form, "reason"),
    )


@router.post("/admin/doctors/{doctor_id}/exceptions")
async def add_exception(doctor_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    """First `step=preview`: the bookings it touches are shown; then `step=save` records it."""
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    exception = _exception(form, errors, parse_id(doctor_id))
    values = values_of(form, *EXCEPTION_FIELDS)
    if not errors:
        try:
            if text_of(form, "step") == "save":
                await c.write(
                    scheduling.add_exception,
                    c.uow(),
                    actor=v.actor,
                    policy=c.policy,
                    exception=exception,
                )
                return redirect(f"/admin/doctors/{doctor_id}?saved=exception#exceptions")
            touched = await c.call(
                scheduling.preview_exception,
                c.uow(),
                actor=v.actor,
                policy=c.policy,
                exception=exception,
            )
        except AntreanError as exc:
            errors.add(exc, EXCEPTION_FIELDS)
        else:
            return await _doctor_page(
                request, v, doctor_id, exception_values=values, preview={"touched": touched}
            )
    return await _doctor_page(
        request, v, doctor_id, status=400, exception_errors=errors, exception_values=values
    )


@router.post("/admin/doctors/{doctor_id}/exceptions/{exception_id}/delete")
async def delete_exception(
    doctor_id: str, exception_id: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    await read_form(request, v)
    require(v, Role.ADMIN)
    c = web_of(request).container
    await c.write(
        scheduling.delete_exception,
        c.uow(),
        actor=v.actor,
        policy=c.policy,
        exception_id=parse_id(exception_id) or 0,
    )
    return redirect(f"/admin/doctors/{doctor_id}?saved=exception#exceptions")

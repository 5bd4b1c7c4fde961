"""Clinics (opening hours, open/closed switch, queue prefix, counters and rooms) and the
services they offer, for admins."""

from __future__ import annotations

from datetime import time
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
from antrean.domain.catalog import (
    ClinicDraft,
    ClinicPatch,
    OpeningHours,
    ServiceDraft,
    ServicePatch,
)
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.domain.identity import Role
from antrean.services import catalog

router = APIRouter(route_class=WebRoute, include_in_schema=False)
CLINIC_FIELDS = ("code", "name", "queue_prefix", "hours", "is_open")
SERVICE_FIELDS = ("clinic_id", "name", "duration_minutes")
WEEK = range(7)
END_OF_DAY = (23, 59)


def _hours(form: FormData, errors: FieldErrors) -> tuple[OpeningHours, ...]:
    """The weekly hours grid: a tick and two times for each day of the week."""
    found = []
    for day in WEEK:
        if not checked(form, f"open_{day}"):
            continue
        opens, closes = errors.time(form, f"opens_{day}"), errors.time(form, f"closes_{day}")
        if closes is not None and (closes.hour, closes.minute) == END_OF_DAY:
            closes = time.max  # a time field cannot say 24:00: 23:59 means to the end of the day
        if opens is None or closes is None:
            errors.setdefault(
                f"opens_{day}", AntreanError("field_required", field="hours").message(errors.lang)
            )
            continue
        found.append(OpeningHours(day, opens, closes))
    return tuple(found)


def _hours_values(hours: list[OpeningHours] | tuple[OpeningHours, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for h in hours:
        values[f"open_{h.weekday}"] = True
        values[f"opens_{h.weekday}"] = h.opens.strftime("%H:%M")
        values[f"closes_{h.weekday}"] = h.closes.strftime("%H:%M")
    return values


async def _clinics_page(
    request: Request, v: Visitor, *, status: int = 200, **extra: Any
) -> Response:
    c = web_of(request).container
    clinics = await c.call(catalog.list_clinics, c.uow(), actor=v.actor)
    context = {
        "clinics": clinics,
        "errors": {},
        "values": {"is_open": True},
        "section": "clinics",
        "week": WEEK,
        **extra,
    }
    return render(request, v, "admin_clinics.html", context, status=status)


@router.get("/admin/clinics")
async def clinics_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    return await _clinics_page(request, v)


@router.post("/admin/clinics")
async def create_clinic(request: Request, v: Visitor = Depends(visit)) -> Response:
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    errors.required(form, "code", "name", "queue_prefix")
    hours = _hours(form, errors)
    values = {**values_of(form, "code", "name", "queue_prefix"), **_form_hours(form)}
    values["is_open"] = checked(form, "is_open")
    if not errors:
        draft = ClinicDraft(
            code=text_of(form, "code"),
            name=text_of(form, "name"),
            queue_prefix=text_of(form, "queue_prefix"),
            is_open=checked(form, "is_open"),
            hours=hours,
        )
        try:
            made = await c.write(
                catalog.create_clinic, c.uow(), actor=v.actor, policy=c.policy, draft=draft
            )
        except AntreanError as exc:
            errors.add(exc, CLINIC_FIELDS)
        else:
            return redirect(f"/admin/clinics/{made.id}?saved=1")
    return await _clinics_page(request, v, status=400, errors=errors, values=values)


def _form_hours(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for day in WEEK:
        values[f"open_{day}"] = checked(form, f"open_{day}")
        values[f"opens_{day}"] = text_of(form, f"opens_{day}")[:5]
        values[f"closes_{day}"] = text_of(form, f"closes_{day}")[:5]
    return values


async def _clinic_page(
    request: Request, v: Visitor, clinic_id: str, *, status: int = 200, **extra: Any
) -> Response:
    c = web_of(request).container
    number = parse_id(clinic_id)
    if number is None:
        raise AntreanError("not_found", entity="Clinic")
    clinic = await c.call(catalog.get_clinic, c.uow(), actor=v.actor, clinic_id=number)
    counters = await c.call(catalog.list_counters, c.uow(), actor=v.actor, clinic_id=number)
    values = {
        "name": clinic.name,
        "queue_prefix": clinic.queue_prefix,
        "is_open": clinic.is_open,
        **_hours_values(clinic.hours),
    }
    context = {
        "clinic": clinic,
        "counters": counters,
        "values": values,
        "errors": {},
        "section": "clinics",
        "week": WEEK,
        **extra,
    }
    return render(request, v, "admin_clinic.html", context, status=status)


@router.get("/admin/clinics/{clinic_id}")
async def clinic_page(clinic_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    return await _clinic_page(request, v, clinic_id)


@router.post("/admin/clinics/{clinic_id}")
async def update_clinic(clinic_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    errors.required(form, "name", "queue_prefix")
    hours = _hours(form, errors)
    values = {**values_of(form, "name", "queue_prefix"), **_form_hours(form)}
    values["is_open"] = checked(form, "is_open")
    if not errors:
        patch = ClinicPatch(
            name=text_of(form, "name"),
            queue_prefix=text_of(form, "queue_prefix"),
            is_open=checked(form, "is_open"),
            hours=hours,
        )
        try:
            await c.write(
                catalog.update_clinic,
                c.uow(),
                actor=v.actor,
                policy=c.policy,
                clinic_id=parse_id(clinic_id) or 0,
                patch=patch,
            )
        except AntreanError as exc:
            errors.add(exc, CLINIC_FIELDS)
        else:
            return redirect(f"/admin/clinics/{clinic_id}?saved=1")
    return await _clinic_page(request, v, clinic_id, status=400, errors=errors, values=values)


@router.post("/admin/clinics/{clinic_id}/counters")
async def change_counters(
    clinic_id: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    """Add a counter or room (`name`), or remove one (`remove`)."""
    form = await read_form(request, v)
    require(v, Role.ADMIN)
    c = web_of(request).container
    number = parse_id(clinic_id) or 0
    removing = text_of(form, "remove")
    try:
        if removing:
            await c.write(
                catalog.remove_counter, c.uow(), actor=v.actor, clinic_id=number, name=removing
            )
        else:
            await c.write(
                catalog.add_counter,
                c.uow(),
                actor=v.actor,
                clinic_id=number,
                name=text_of(form, "counter"),
            )
    except AntreanError as exc:
        if exc.kind in (ErrorKind.FORBIDDEN, ErrorKind.UNAUTHORIZED):
            raise
        shown = {"counter": exc.message(v.lang)}
        return await _clinic_page(request, v, clinic_id, status=400, counter_errors=shown)
    return redirect(f"/admin/clinics/{clinic_id}#counters")


# --- services --------------------------------------------------------------------------------


async def _services_page(
    request: Request, v: Visitor, *, status: int = 200, **extra: Any
) -> Response:
    c = web_of(request).container
    clinics = await c.call(catalog.list_clinics, c.uow(), actor=v.actor)
    services = await c.call(catalog.list_services, c.uow(), actor=v.actor)
    context = {
        "clinics": {k.id: k for k in clinics},
        "services": sorted(services, key=lambda s: (s.clinic_id, s.name)),
        "errors": {},
        "values": {},
        "section": "services",
        **extra,
    }
    return render(request, v, "admin_services.html", context, status=status)


@router.get("/admin/services")
async def services_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    return await _services_page(request, v)


@router.post("/admin/services")
async def save_service(request: Request, v: Visitor = Depends(visit)) -> Response:
    """A new service, or (with `service_id`) a change of one."""
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    errors.required(form, "name", "duration_minutes")
    service_id = errors.id(form, "service_id")
    clinic_id = errors.id(form, "clinic_id")
    minutes = errors.number(form, "duration_minutes")
    values = values_of(form, "clinic_id", "name", "duration_minutes")
    if service_id is None and clinic_id is None:
        errors.setdefault(
            "clinic_id", AntreanError("field_required", field="clinic_id").message(v.lang)
        )
    if not errors:
        try:
            if service_id is None:
                draft = ServiceDraft(
                    clinic_id=clinic_id or 0,
                    name=text_of(form, "name"),
                    duration_minutes=minutes or 0,
                )
                await c.write(catalog.create_service, c.uow(), actor=v.actor, draft=draft)
            else:
                patch = ServicePatch(
                    name=text_of(form, "name"),
                    duration_minutes=minutes or 0,
                    active=checked(form, "active"),
                )
                await c.write(
                    catalog.update_service,
                    c.uow(),
                    actor=v.actor,
                    service_id=service_id,
                    patch=patch,
                )
        except AntreanError as exc:
            errors.add(exc, SERVICE_FIELDS)
        else:
            return redirect("/admin/services?saved=1")
    context: dict[str, Any] = {"errors": errors, "values": values, "failed_service": service_id}
    return await _services_page(request, v, status=400, **context)

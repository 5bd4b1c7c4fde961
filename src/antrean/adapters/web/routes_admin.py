"""The admin's pages: the dashboard of today (live), the facility's settings, and the display
and kiosk links. Every change goes through the same use cases as the API, which check the
admin role again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
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
    wants_fragment,
    web_of,
)
from antrean.adapters.web.forms import FieldErrors, admin_form, checked, values_of
from antrean.domain.catalog import FacilityPatch
from antrean.domain.devices import DeviceLinkDraft
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Role
from antrean.services import catalog, dashboard, devices

router = APIRouter(route_class=WebRoute, include_in_schema=False)
HEARTBEAT_SECONDS = 15


@router.get("/admin")
async def dashboard_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    c = web_of(request).container
    rows = await c.call(dashboard.today_by_clinic, c.uow(), actor=v.actor, policy=c.policy)
    context = {"rows": rows, "section": "dashboard", "now": c.clock.now()}
    block = "figures" if wants_fragment(request) else None
    return render(request, v, "admin_dashboard.html", context, block=block)


@router.get("/admin/events")
async def dashboard_events(request: Request, v: Visitor = Depends(visit)) -> Response:
    """Every clinic's queue events in one stream: the dashboard fetches its figures again."""
    require(v, Role.ADMIN)
    c = web_of(request).container
    clinics = await c.call(catalog.list_clinics, c.uow(), actor=v.actor)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        with c.broadcaster.subscribe_all([("clinic", k.id) for k in clinics]) as queue:
            yield ServerSentEvent(data="{}", event="snapshot")
            while True:
                event = await queue.get()
                yield ServerSentEvent(
                    data=json.dumps({} if event is None else event.public()), event="queue"
                )

    return EventSourceResponse(stream(), ping=HEARTBEAT_SECONDS)


SETTINGS = ("name", "address", "phone")


@router.get("/admin/settings")
async def settings_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    values = {"name": v.facility.name, "address": v.facility.address, "phone": v.facility.phone}
    context = {"values": values, "errors": {}, "saved": False, "section": "settings"}
    return render(request, v, "admin_settings.html", context)


@router.post("/admin/settings")
async def save_settings(request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v, Role.ADMIN)
    c = web_of(request).container
    values = values_of(form, *SETTINGS)
    errors = FieldErrors(v.lang)
    errors.required(form, "name")
    if not errors:
        patch = FacilityPatch(**values)
        try:
            v.facility = await c.write(catalog.update_facility, c.uow(), actor=v.actor, patch=patch)
        except AntreanError as exc:
            errors.add(exc, SETTINGS)
    context = {"values": values, "errors": errors, "saved": not errors, "section": "settings"}
    return render(request, v, "admin_settings.html", context, status=400 if errors else 200)


DEVICE_FIELDS = ("kind", "name", "clinic_ids", "printer")


async def _devices_page(
    request: Request, v: Visitor, *, errors: FieldErrors | None = None, **extra: object
) -> Response:
    c = web_of(request).container
    links = await c.call(devices.list_device_links, c.uow(), actor=v.actor)
    clinics = await c.call(catalog.list_clinics, c.uow(), actor=v.actor)
    context = {
        "links": sorted(links, key=lambda k: (not k.active, k.kind.value, k.name)),
        "clinics": {k.id: k for k in clinics},
        "errors": errors or {},
        "values": {"kind": "display", "name": "", "clinic_ids": [], "printer": "", "sound": True},
        "made": None,
        "section": "devices",
        **extra,
    }
    return render(request, v, "admin_devices.html", context, status=400 if errors else 200)


@router.get("/admin/devices")
async def devices_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    return await _devices_page(request, v)


@router.post("/admin/devices")
async def create_device(request: Request, v: Visitor = Depends(visit)) -> Response:
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    errors.required(form, "name")
    picked = (parse_id(x) for x in form.getlist("clinic_ids") if isinstance(x, str))
    clinic_ids = tuple(i for i in picked if i is not None)
    kind = text_of(form, "kind")
    values = {
        "kind": kind,
        "name": text_of(form, "name")[:80],
        "clinic_ids": list(clinic_ids),
        "printer": text_of(form, "printer")[:260],
        "sound": checked(form, "sound"),
    }
    if not errors:
        draft = DeviceLinkDraft(
            kind=kind,  # type: ignore[arg-type]  # checked by the draft: `field_invalid`
            name=text_of(form, "name"),
            clinic_ids=clinic_ids,
            sound=checked(form, "sound"),
            printer=text_of(form, "printer") or None,
        )
        try:
            made = await c.write(devices.create_device_link, c.uow(), actor=v.actor, draft=draft)
        except AntreanError as exc:
            errors.add(exc, DEVICE_FIELDS)
        else:
            url = str(request.base_url).rstrip("/") + f"/{made.link.kind.value}/{made.token}"
            return await _devices_page(request, v, made={"link": made.link, "url": url})
    return await _devices_page(request, v, errors=errors, values=values)


@router.post("/admin/devices/{link_id}/revoke")
async def revoke_device(link_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    await read_form(request, v)
    require(v, Role.ADMIN)
    c = web_of(request).container
    number = parse_id(link_id) or 0
    await c.write(devices.revoke_device_link, c.uow(), actor=v.actor, link_id=number)
    return redirect("/admin/devices")

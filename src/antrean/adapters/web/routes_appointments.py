"""A patient's own pages: the start page with appointments ahead and past and today's queue
numbers, one appointment (with its QR code and a calendar file), cancelling with a reason,
and moving to another free time."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Depends, Request
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
from antrean.adapters.web.qr import qr_svg
from antrean.adapters.web.routes_booking import (
    STRIP_DAYS,
    TIME_REFUSALS,
    Choices,
    free_days,
    free_places,
    free_slots,
    today_of,
)
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Role
from antrean.integrations.calendar import appointment_ics
from antrean.services import booking, booking_views, queue

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/my")
async def my_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v)
    if not v.has(Role.PATIENT) or v.actor.patient_id is None:
        return redirect(v.home) if v.home != "/my" else redirect("/")
    c = web_of(request).container
    mine = await c.call(booking_views.my_appointments, c.uow(), actor=v.actor)
    tickets = await c.call(
        queue.my_tickets_today, c.uow(), actor=v.actor, policy=c.policy, queue=c.queue_policy
    )
    return render(request, v, "my.html", {"mine": mine, "tickets": tickets})


async def _details(request: Request, v: Visitor, code: str) -> booking_views.AppointmentDetails:
    c = web_of(request).container
    return await c.call(booking_views.appointment_details, c.uow(), actor=v.actor, code=code)


@router.get("/appointments/{code}")
async def appointment_page(code: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v)
    details = await _details(request, v, code)
    context = {
        "d": details,
        "a": details.appointment,
        "qr": qr_svg(details.appointment.code, details.appointment.code),
        "new": request.query_params.get("new") == "1",
        "errors": {},
    }
    return render(request, v, "appointment.html", context)


@router.get("/appointments/{code}/calendar.ics")
async def calendar_file(code: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v)
    d = await _details(request, v, code)
    a = d.appointment
    c = web_of(request).container
    summary = f"{d.clinic_name} · {d.doctor_name}"
    lines = [f"{d.facility.name}", f"{a.code}"]
    if d.service_name:
        lines.insert(0, d.service_name)
    body = appointment_ics(
        uid=f"{a.code}@{d.facility.code.lower()}.antrean",
        start=a.start_at,
        end=a.end_at,
        summary=summary,
        location=", ".join(p for p in (d.facility.name, d.facility.address) if p),
        description="\n".join(lines),
        stamp=c.clock.now(),
        cancelled=not a.status.is_active,
    )
    headers = {
        "Content-Disposition": f'attachment; filename="{a.code}.ics"',
        "Cache-Control": "no-store",
    }
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


@router.post("/appointments/{code}/cancel")
async def cancel(code: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v)
    c = web_of(request).container
    reason = text_of(form, "reason")
    try:
        if not reason.strip():
            raise AntreanError("field_required", field="reason")
        await c.write(booking.cancel_appointment, c.uow(), actor=v.actor, code=code, reason=reason)
    except AntreanError as exc:
        if exc.field != "reason":
            raise
        details = await _details(request, v, code)
        context = {
            "d": details,
            "a": details.appointment,
            "qr": qr_svg(details.appointment.code, details.appointment.code),
            "new": False,
            "errors": {"reason": exc.message(v.lang)},
            "reason": reason[:500],
        }
        return render(request, v, "appointment.html", context, status=400)
    return redirect(f"/appointments/{code}?cancelled=1")


@router.get("/appointments/{code}/reschedule")
async def reschedule_page(code: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v)
    details = await _details(request, v, code)
    ch = Choices.read(request.query_params)
    return await _reschedule(request, v, details, ch.day, ch.start, None)


async def _reschedule(
    request: Request,
    v: Visitor,
    details: booking_views.AppointmentDetails,
    day: date | None,
    start: date | None,
    error: str | None,
    status: int = 200,
) -> Response:
    c = web_of(request).container
    a = details.appointment
    if not a.status.is_active:
        raise AntreanError("appointment_not_active", status=a.status.value)
    today = await today_of(c)
    ch = Choices(clinic_id=a.clinic_id, doctor=str(a.doctor_id), day=day, start=start)
    first = max(start or today, today)
    last = min(first + timedelta(days=STRIP_DAYS - 1), today + timedelta(days=30))
    days = free_days(await free_places(c, v, ch, first, last), first, last)
    times = []
    if day is not None and today <= day <= today + timedelta(days=c.policy.horizon_days):
        times = [s for s in await free_slots(c, v, ch, day, day) if s.id != a.slot_id]
    context = {"d": details, "a": a, "days": days, "times": times, "day": day, "error": error}
    return render(request, v, "reschedule.html", context, status=status)


@router.post("/appointments/{code}/reschedule")
async def reschedule(code: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v)
    c = web_of(request).container
    slot_id = parse_id(text_of(form, "slot"))
    try:
        await c.write(
            booking.reschedule_appointment,
            c.uow(),
            actor=v.actor,
            policy=c.policy,
            code=code,
            new_slot_id=slot_id or 0,
        )
    except AntreanError as exc:
        if exc.code not in TIME_REFUSALS and exc.field != "new_slot_id":
            raise
        details = await _details(request, v, code)
        day = Choices.read(form).day
        return await _reschedule(request, v, details, day, None, exc.message(v.lang), 409)
    return redirect(f"/appointments/{code}?moved=1")

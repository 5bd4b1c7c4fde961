"""A doctor's start page: where they work today (a room to call patients to, which opens the
queue view for that room), their booked patients of the day, and their week ahead."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from antrean.adapters.web.core import Visitor, WebRoute, render, require, visit, web_of
from antrean.domain.common import Page
from antrean.domain.identity import Role
from antrean.services import booking_views, catalog, scheduling
from antrean.services.ports import AppointmentFilter, BookingRow

router = APIRouter(route_class=WebRoute, include_in_schema=False)
WEEK = 7


@router.get("/doctor")
async def doctor_home(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.DOCTOR)
    c = web_of(request).container
    today = c.clock.now().astimezone(c.policy.time_zone).date()
    clinics = {k.id: k for k in await c.call(catalog.list_clinics, c.uow(), actor=v.actor)}
    doctor_id = v.actor.doctor_id
    schedules = await c.call(scheduling.list_schedules, c.uow(), actor=v.actor, doctor_id=doctor_id)
    if doctor_id is None:
        schedules = []  # an account not tied to a doctor: every clinic is offered below
    rooms = {}
    working = sorted({s.clinic_id for s in schedules if s.weekday == today.weekday()})
    for clinic_id in working or sorted(clinics):
        rooms[clinic_id] = await c.call(
            catalog.list_counters, c.uow(), actor=v.actor, clinic_id=clinic_id
        )
    booked: list[BookingRow] = []
    if doctor_id is not None:
        table = await c.call(
            booking_views.booking_table,
            c.uow(),
            actor=v.actor,
            phones=c.phones,
            flt=AppointmentFilter(
                day_from=today, day_to=today + timedelta(days=WEEK - 1), doctor_id=doctor_id
            ),
            page=Page(1, 1000),
        )
        booked = table.rows
    week = [today + timedelta(days=n) for n in range(WEEK)]
    context = {
        "clinics": clinics,
        "rooms": rooms,
        "working": working,
        "schedules": sorted(schedules, key=lambda s: (s.weekday, s.start)),
        "today_list": [r for r in booked if r.appointment.day == today],
        "week": [(d, [r.appointment for r in booked if r.appointment.day == d]) for d in week],
        "today": today,
    }
    return render(request, v, "doctor.html", context)

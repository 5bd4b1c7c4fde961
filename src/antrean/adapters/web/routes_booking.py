"""Booking, step by step: clinic, service, doctor (or any doctor), day, time, then "check your
answers" and book. Every step is a plain link carrying the choices so far in its address, so
the flow works without script, survives signing in on the way, and the back button works.
Only choices that lead somewhere are offered: doctors and days with free places."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from antrean.adapters.web.core import (
    Visitor,
    WebRoute,
    parse_id,
    read_form,
    redirect,
    render,
    text_of,
    visit,
    web_of,
)
from antrean.bootstrap import Container
from antrean.domain.booking import BookingDraft
from antrean.domain.catalog import Clinic, Service
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.services import booking, scheduling
from antrean.services.ports import FreePlaces, FreeSlot

router = APIRouter(route_class=WebRoute, include_in_schema=False)

STRIP_DAYS = 14  # the date strip: two weeks from the first day shown
# Refusals that mean "this time cannot be had": the patient is offered the other free times.
TIME_REFUSALS = frozenset(
    {
        "slot_full",
        "slot_unavailable",
        "slot_in_past",
        "booking_cutoff_passed",
        "slot_not_found",
        "clinic_closed",
        "doctor_on_leave",
        "public_holiday",
        "outside_booking_window",
        "same_slot",
    }
)


@dataclass
class Choices:
    """The choices made so far, read from the address (anything unreadable counts as not
    chosen, so a damaged link only sends the patient a step back)."""

    clinic_id: int | None = None
    service_id: int | None = None
    doctor: str | None = None  # "any" or a doctor's id
    day: date | None = None
    slot_id: int | None = None
    start: date | None = None  # first day of the date strip

    @classmethod
    def read(cls, params: Any) -> Choices:
        doctor = params.get("doctor")
        return cls(
            clinic_id=parse_id(params.get("clinic")),
            service_id=parse_id(params.get("service")),
            doctor=doctor if doctor == "any" or parse_id(doctor) else None,
            day=_day(params.get("day")),
            slot_id=parse_id(params.get("slot")),
            start=_day(params.get("start")),
        )

    @property
    def doctor_id(self) -> int | None:
        return parse_id(self.doctor) if self.doctor not in (None, "any") else None

    def link(self, **changes: Any) -> str:
        values = {
            "clinic": self.clinic_id,
            "service": self.service_id,
            "doctor": self.doctor,
            "day": self.day.isoformat() if self.day else None,
            "slot": self.slot_id,
            "start": self.start.isoformat() if self.start else None,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v is not None}
        return "/book" + ("?" + urlencode(kept) if kept else "")


def _day(value: str | None) -> date | None:
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass
class Flow:
    """What the page shows: the step reached, the choices' names, and what to pick next."""

    choices: Choices
    step: str = "clinic"
    clinic: Clinic | None = None
    service: Service | None = None
    clinics: list[Clinic] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    doctors: list[tuple[int, str, int]] = field(default_factory=list)  # id, name, free places
    days: list[tuple[date, int]] = field(default_factory=list)  # day, free places
    times: list[FreeSlot] = field(default_factory=list)
    slot: FreeSlot | None = None
    doctor_name: str | None = None
    error: str | None = None
    see_mine: bool = False  # the refusal's next step is the patient's own list


async def today_of(c: Container) -> date:
    return c.clock.now().astimezone(c.policy.time_zone).date()


async def free_slots(
    c: Container, v: Visitor, ch: Choices, first: date, last: date
) -> list[FreeSlot]:
    return await c.call(
        scheduling.search_slots,
        c.uow(),
        actor=v.actor,
        policy=c.policy,
        date_from=first,
        date_to=last,
        clinic_id=ch.clinic_id,
        doctor_id=ch.doctor_id,
    )


async def free_places(
    c: Container, v: Visitor, ch: Choices, first: date, last: date
) -> list[FreePlaces]:
    return await c.call(
        scheduling.free_places,
        c.uow(),
        actor=v.actor,
        policy=c.policy,
        date_from=first,
        date_to=last,
        clinic_id=ch.clinic_id,
        doctor_id=ch.doctor_id,
    )


async def build_flow(c: Container, v: Visitor, ch: Choices) -> Flow:
    """Walk the steps in order; the first one without a valid choice is the page. What every
    step offers is read at once, in one transaction (`scheduling.booking_choices`)."""
    flow = Flow(choices=ch)
    got = await c.call(
        scheduling.booking_choices,
        c.uow(),
        actor=v.actor,
        policy=c.policy,
        clinic_id=ch.clinic_id,
        service_id=ch.service_id,
        doctor_id=ch.doctor_id,
        day=ch.day,
    )
    flow.clinic = got.clinic
    if got.clinic is None:
        flow.clinics = got.clinics
        return flow
    flow.services, flow.service = got.services, got.service
    if got.service is None:
        flow.step = "service"
        return flow
    today, horizon = got.today, got.last_day
    if ch.doctor is None or (ch.doctor_id and got.doctor is None):
        flow.step = "doctor"
        flow.doctors = _doctors(got.places)
        return flow
    if got.doctor is not None:
        flow.doctor_name = got.doctor.name
    if ch.day is None or not today <= ch.day <= horizon:
        mine = [p for p in got.places if ch.doctor_id is None or p.doctor_id == ch.doctor_id]
        if not mine:  # a doctor (or clinic) with nothing free is no choice
            flow.step = "doctor"
            flow.doctors = _doctors(got.places)
            return flow
        first = max(ch.start or today, today)
        last = min(first + timedelta(days=STRIP_DAYS - 1), horizon)
        flow.step = "day"
        flow.days = free_days([p for p in mine if first <= p.day <= last], first, last)
        return flow
    flow.times = got.slots
    flow.slot = next((s for s in flow.times if s.id == ch.slot_id), None)
    flow.step = "time" if flow.slot is None else "confirm"
    if ch.slot_id is not None and flow.slot is None:
        flow.error = AntreanError("slot_unavailable").message(v.lang)
    return flow


def _doctors(places: list[FreePlaces]) -> list[tuple[int, str, int]]:
    free: dict[int, tuple[str, int]] = {}
    for p in places:
        name, count = free.get(p.doctor_id, (p.doctor_name, 0))
        free[p.doctor_id] = (name, count + p.places)
    return sorted(((k, n, f) for k, (n, f) in free.items()), key=lambda d: d[1])


def free_days(places: list[FreePlaces], first: date, last: date) -> list[tuple[date, int]]:
    free = {first + timedelta(days=n): 0 for n in range((last - first).days + 1)}
    for p in places:
        free[p.day] = free.get(p.day, 0) + p.places
    return sorted(free.items())


def _page(request: Request, v: Visitor, flow: Flow, status: int = 200, **extra: Any) -> Response:
    context = {"flow": flow, "ch": flow.choices, "idem": secrets.token_urlsafe(16), **extra}
    return render(request, v, "book.html", context, status=status)


@router.get("/book")
async def book_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    c = web_of(request).container
    flow = await build_flow(c, v, Choices.read(request.query_params))
    return _page(request, v, flow)


@router.post("/book")
async def book(request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    c = web_of(request).container
    ch = Choices.read(form)
    if v.user is None:
        return redirect("/login?next=" + quote(ch.link(), safe=""))
    draft = BookingDraft(
        slot_id=ch.slot_id or 0, service_id=ch.service_id, note=text_of(form, "note")
    )
    try:
        appointment = await c.write(
            booking.book_appointment,
            c.uow(),
            actor=v.actor,
            policy=c.policy,
            draft=draft,
            idempotency_key=text_of(form, "idem")[:200] or None,
        )
    except AntreanError as exc:
        if exc.field == "note":
            flow = await build_flow(c, v, ch)
            return _page(request, v, flow, 400, errors={"note": exc.message(v.lang)})
        if exc.kind in (ErrorKind.FORBIDDEN, ErrorKind.UNAUTHORIZED):
            raise
        if exc.code in TIME_REFUSALS:
            # That time cannot be had: the other free times of the day, with the reason.
            flow = await build_flow(c, v, Choices(ch.clinic_id, ch.service_id, ch.doctor, ch.day))
        else:  # who books, not when (already booked that day, ...): said on the same step
            flow = await build_flow(c, v, ch)
            flow.see_mine = exc.code == "duplicate_appointment"
        flow.error = exc.message(v.lang)
        return _page(request, v, flow, 409)
    return redirect(f"/appointments/{appointment.code}?new=1")

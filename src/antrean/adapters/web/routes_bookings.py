"""The staff's bookings table: filter by dates, clinic, doctor and status; find by name, phone
or booking code; sort; page; open a booking with its history; export the filtered rows as
CSV. The filters live in the address, so a filtered view can be bookmarked or shared."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response, StreamingResponse

from antrean.adapters.web.core import (
    Visitor,
    WebRoute,
    parse_id,
    render,
    require,
    visit,
    web_of,
)
from antrean.adapters.web.i18n import Formats
from antrean.domain.booking import AppointmentStatus
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.domain.identity import Role
from antrean.services import booking_views, catalog
from antrean.services.ports import BOOKING_ORDERS, AppointmentFilter

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE_SIZES = (25, 50, 100)
EXPORT_BATCH = 1000
EXPORT_LIMIT = 100_000


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


@dataclass
class Query:
    """The table's filters as read from the address; anything unreadable is left out."""

    date_from: date | None
    date_to: date | None
    clinic_id: int | None
    doctor_id: int | None
    status: AppointmentStatus | None
    search: str
    order: str
    page: int
    size: int

    @classmethod
    def read(cls, params: QueryParams) -> Query:
        status = params.get("status")
        order = params.get("order") or "start"
        size = parse_id(params.get("size")) or PAGE_SIZES[1]
        return cls(
            date_from=_day(params.get("from")),
            date_to=_day(params.get("to")),
            clinic_id=parse_id(params.get("clinic")),
            doctor_id=parse_id(params.get("doctor")),
            status=AppointmentStatus(status)
            if status in {s.value for s in AppointmentStatus}
            else None,
            search=(params.get("q") or "")[:100],
            order=order if order.lstrip("-") in BOOKING_ORDERS else "start",
            page=min(parse_id(params.get("page")) or 1, 100_000),
            size=size if size in PAGE_SIZES else PAGE_SIZES[1],
        )

    @property
    def filter(self) -> AppointmentFilter:
        return AppointmentFilter(
            day_from=self.date_from,
            day_to=self.date_to,
            clinic_id=self.clinic_id,
            doctor_id=self.doctor_id,
            status=self.status,
        )

    def link(self, path: str = "/admin/bookings", **changes: Any) -> str:
        values: dict[str, Any] = {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "clinic": self.clinic_id,
            "doctor": self.doctor_id,
            "status": self.status.value if self.status else None,
            "q": self.search or None,
            "order": self.order if self.order != "start" else None,
            "page": self.page if self.page != 1 else None,
            "size": self.size if self.size != PAGE_SIZES[1] else None,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in (None, "")}
        return path + ("?" + urlencode(kept) if kept else "")

    def sort_link(self, column: str) -> str:
        order = "-" + column if self.order == column else column
        return self.link(order=order if order != "start" else None, page=None)


async def _names(request: Request, v: Visitor) -> tuple[dict[int, str], dict[int, str]]:
    c = web_of(request).container
    clinics = await c.call(catalog.list_clinics, c.uow(), actor=v.actor)
    doctors = await c.call(catalog.list_doctors, c.uow(), actor=v.actor)
    return {k.id: k.name for k in clinics}, {d.id: d.name for d in doctors}


@router.get("/admin/bookings")
async def bookings_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.OPERATOR, Role.DOCTOR)
    c = web_of(request).container
    q = Query.read(request.query_params)
    clinics, doctors = await _names(request, v)
    error = None
    try:
        table = await c.call(
            booking_views.booking_table,
            c.uow(),
            actor=v.actor,
            phones=c.phones,
            flt=q.filter,
            search=q.search,
            order=q.order,
            page=Page(q.page, q.size),
        )
    except AntreanError as exc:
        if exc.kind in (ErrorKind.FORBIDDEN, ErrorKind.UNAUTHORIZED):
            raise
        error = exc.message(v.lang)
        table = booking_views.BookingTable(rows=[], total=0, page=Page(1, q.size))
    context = {
        "q": q,
        "table": table,
        "pages": max(1, -(-table.total // q.size)),
        "clinics": clinics,
        "doctors": doctors,
        "statuses": [s.value for s in AppointmentStatus],
        "sizes": PAGE_SIZES,
        "error": error,
        "section": "bookings",
    }
    return render(request, v, "admin_bookings.html", context)


@router.get("/admin/bookings.csv")
async def bookings_csv(request: Request, v: Visitor = Depends(visit)) -> Response:
    """The filtered rows, every page of them, as a spreadsheet opens them (UTF-8 with BOM)."""
    require(v, Role.OPERATOR, Role.DOCTOR)
    c = web_of(request).container
    q = Query.read(request.query_params)
    clinics, doctors = await _names(request, v)
    fmt = Formats(v.lang, c.policy.time_zone)
    words = web_of(request).translations[v.lang]
    header = [
        words.gettext("Booking code"),
        words.gettext("Date"),
        words.gettext("Time"),
        words.gettext("Clinic"),
        words.gettext("Doctor"),
        words.gettext("Patient"),
        words.gettext("MRN"),
        words.gettext("Phone"),
        words.gettext("State"),
        words.gettext("Booked at"),
    ]

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        yield "\ufeff" + out.getvalue()
        for number in range(1, EXPORT_LIMIT // EXPORT_BATCH + 1):
            table = await c.call(
                booking_views.booking_table,
                c.uow(),
                actor=v.actor,
                phones=c.phones,
                flt=q.filter,
                search=q.search,
                order=q.order,
                page=Page(number, EXPORT_BATCH),
            )
            out.seek(0)
            out.truncate()
            for r in table.rows:
                a = r.appointment
                writer.writerow(
                    _safe(x)
                    for x in (
                        a.code,
                        a.day.isoformat(),
                        fmt.clock(a.start_at),
                        clinics.get(a.clinic_id, ""),
                        doctors.get(a.doctor_id, ""),
                        r.patient_name,
                        r.patient_mrn,
                        r.patient_phone or "",
                        a.status.value,
                        fmt.local(a.created_at).isoformat(timespec="minutes"),
                    )
                )
            yield out.getvalue()
            if len(table.rows) < EXPORT_BATCH:
                return

    name = f"bookings-{c.clock.now().astimezone(c.policy.time_zone).date().isoformat()}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)


def _safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (=, +, -, @ at the start)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/admin/bookings/{code}")
async def booking_page(code: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.OPERATOR, Role.DOCTOR)
    c = web_of(request).container
    history = await c.call(booking_views.booking_history, c.uow(), actor=v.actor, code=code)
    context = {"h": history, "d": history.details, "a": history.details.appointment}
    context["section"] = "bookings"
    return render(request, v, "admin_booking.html", context)

"""The ticket kiosk, opened by its secret kiosk link (no sign-in): big buttons to take a number
at an open clinic or to check in a booking by its code, and a ticket laid out for an 80 mm
receipt printer. A kiosk with a network printer set has the server print the ticket itself
(ESC/POS); otherwise the browser prints the page.

The kiosk acts as a device (`Actor.kiosk`): it may register walk-ins and check in bookings,
nothing else."""

from __future__ import annotations

import logging
from datetime import date
from urllib.parse import quote

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
from antrean.adapters.web.i18n import Formats
from antrean.adapters.web.routes_display import open_link
from antrean.domain.devices import DeviceKind, DeviceLink
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor
from antrean.domain.queue import WalkInDraft
from antrean.integrations.receipt_printer import PrintedTicket, PrinterError
from antrean.services import catalog, queue

router = APIRouter(route_class=WebRoute, include_in_schema=False)
log = logging.getLogger(__name__)


def kiosk_actor(request: Request, link: DeviceLink) -> Actor:
    return Actor.kiosk(link.facility_id, f"kiosk-{link.id}")


async def _home(
    request: Request, v: Visitor, token: str, link: DeviceLink, **extra: object
) -> Response:
    c = web_of(request).container
    clinics = await c.call(catalog.clinics_open_now, c.uow(), actor=v.actor, policy=c.policy)
    mine = [k for k in clinics if k.clinic.id in link.clinic_ids]
    context = {"link": link, "token": token, "clinics": mine, "errors": {}, "values": {}}
    context.update(extra)
    status = 400 if context["errors"] else 200
    return render(request, v, "kiosk.html", context, status=status)


@router.get("/kiosk/{token}")
async def kiosk(token: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    link = await open_link(request, token, DeviceKind.KIOSK)
    return await _home(request, v, token, link)


@router.get("/kiosk/{token}/take/{clinic_id}")
async def take_form(
    token: str, clinic_id: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    link = await open_link(request, token, DeviceKind.KIOSK)
    return await _take_page(request, v, token, link, clinic_id, {}, {})


async def _take_page(
    request: Request,
    v: Visitor,
    token: str,
    link: DeviceLink,
    clinic_id: str,
    errors: dict[str, str],
    values: dict[str, str],
) -> Response:
    number = parse_id(clinic_id)
    if number is None or number not in link.clinic_ids:
        raise AntreanError("not_found", entity="Clinic")
    c = web_of(request).container
    clinic = await c.call(catalog.get_clinic, c.uow(), actor=v.actor, clinic_id=number)
    context = {"link": link, "token": token, "clinic": clinic, "errors": errors, "values": values}
    return render(request, v, "kiosk_take.html", context, status=400 if errors else 200)


@router.post("/kiosk/{token}/take/{clinic_id}")
async def take(
    token: str, clinic_id: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    link = await open_link(request, token, DeviceKind.KIOSK)
    form = await read_form(request, v)
    c = web_of(request).container
    values = {name: text_of(form, name) for name in ("name", "birth_date", "mrn")}
    errors: dict[str, str] = {}
    for name in ("name", "birth_date"):
        if not values[name].strip():
            errors[name] = AntreanError("field_required", field=name).message(v.lang)
    birth = date.min
    if values["birth_date"] and "birth_date" not in errors:
        try:
            birth = date.fromisoformat(values["birth_date"])
        except ValueError:
            errors["birth_date"] = AntreanError("invalid_birth_date").message(v.lang)
    number = parse_id(clinic_id)
    if number is None or number not in link.clinic_ids:
        raise AntreanError("not_found", entity="Clinic")
    if not errors:
        draft = WalkInDraft(
            clinic_id=number, name=values["name"], birth_date=birth, mrn=values["mrn"] or None
        )
        try:
            issued = await c.write(
                queue.issue_walk_in,
                c.uow(),
                actor=kiosk_actor(request, link),
                policy=c.policy,
                phones=c.phones,
                walk_in=draft,
            )
        except AntreanError as exc:
            if exc.kind.value in ("forbidden", "unauthorized", "not_found"):
                raise
            errors[exc.field if exc.field in values else "_form"] = exc.message(v.lang)
        else:
            return await _issued(request, v, token, link, issued.ticket.status_code)
    return await _take_page(request, v, token, link, clinic_id, errors, values)


@router.post("/kiosk/{token}/check-in")
async def check_in(token: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    link = await open_link(request, token, DeviceKind.KIOSK)
    form = await read_form(request, v)
    c = web_of(request).container
    code = text_of(form, "code").strip().upper()[:32]
    try:
        if not code:
            raise AntreanError("field_required", field="code")
        issued = await c.write(
            queue.check_in,
            c.uow(),
            actor=kiosk_actor(request, link),
            policy=c.policy,
            code=code,
            queue=c.queue_policy,
        )
    except AntreanError as exc:
        if exc.kind.value in ("forbidden", "unauthorized"):
            raise
        errors = {"code": exc.message(v.lang)}
        return await _home(request, v, token, link, errors=errors, values={"code": code})
    return await _issued(request, v, token, link, issued.ticket.status_code)


async def _status(request: Request, status_code: str) -> queue.TicketStatus:
    c = web_of(request).container
    return await c.call(
        queue.ticket_status,
        c.uow(),
        actor=c.anonymous(),
        status_code=status_code,
        queue=c.queue_policy,
    )


def printed_ticket(request: Request, v: Visitor, t: queue.TicketStatus) -> PrintedTicket:
    """The ticket's words for the printer, in the kiosk's language."""
    c = web_of(request).container
    fmt = Formats(v.lang, c.policy.time_zone)
    words = web_of(request).translations[v.lang]
    now = c.clock.now()
    n = t.people_ahead
    start, end = fmt.clock(t.estimated_call_earliest), fmt.clock(t.estimated_call_latest)
    if n == 0:
        lines: tuple[str, ...] = (words.gettext("You are next."),)
    else:
        ahead = words.ngettext("%(num)d person ahead", "%(num)d people ahead", n) % {"num": n}
        if start == end:
            about = words.gettext("About %(time)s") % {"time": start}
        else:
            about = words.gettext("About %(start)s – %(end)s") % {"start": start, "end": end}
        lines = (ahead, about)
    return PrintedTicket(
        facility=v.facility.name,
        number=t.label,
        clinic=t.clinic_name,
        issued=f"{fmt.day_short(now)} {now.astimezone(c.policy.time_zone).year}, {fmt.clock(now)}",
        lines=lines,
        link=ticket_link(request, t.status_code),
        footer=words.gettext("Scan to follow your place in line"),
    )


def ticket_link(request: Request, status_code: str) -> str:
    return str(request.base_url).rstrip("/") + "/t/" + quote(status_code, safe="")


async def _issued(
    request: Request, v: Visitor, token: str, link: DeviceLink, status_code: str
) -> Response:
    """After a number is taken: the server prints it when the kiosk has a printer."""
    printed = ""
    address = link.printer_address
    if address is not None:
        c = web_of(request).container
        t = await _status(request, status_code)
        try:
            await c.offload(c.printer.print_ticket, address, printed_ticket(request, v, t))
            printed = "1"
        except PrinterError:
            log.warning("kiosk %s: printer %s:%s did not answer", link.id, *address)
            printed = "0"
    suffix = f"?printed={printed}" if printed else ""
    return redirect(f"/kiosk/{token}/ticket/{quote(status_code, safe='')}{suffix}")


@router.get("/kiosk/{token}/ticket/{status_code}")
async def kiosk_ticket(
    token: str, status_code: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    link = await open_link(request, token, DeviceKind.KIOSK)
    t = await _status(request, status_code)
    printed = request.query_params.get("printed")
    context = {"t": t, "link": link, "token": token, "printed": printed, "kiosk": True}
    context["qr_link"] = ticket_link(request, t.status_code)
    context["now"] = web_of(request).container.clock.now()
    return render(request, v, "ticket_print.html", context)


@router.get("/t/{status_code}/print")
async def print_ticket(status_code: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    """The same ticket for the front desk's printer (anyone with the ticket's code)."""
    t = await _status(request, status_code)
    context = {"t": t, "link": None, "token": "", "printed": None, "kiosk": False}
    context["qr_link"] = ticket_link(request, t.status_code)
    context["now"] = web_of(request).container.clock.now()
    return render(request, v, "ticket_print.html", context)

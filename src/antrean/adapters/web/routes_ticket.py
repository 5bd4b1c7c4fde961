"""Queue numbers for patients: take one online at a clinic open now, and the live ticket page,
reachable by its status code without an account (as printed under a ticket's QR code). The
page listens to the ticket's server-sent event stream and fetches its card again on every
event, rendered here in the reader's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

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
    text_of,
    visit,
    wants_fragment,
    web_of,
)
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Role
from antrean.services import catalog, queue

router = APIRouter(route_class=WebRoute, include_in_schema=False)
HEARTBEAT_SECONDS = 15


async def _open_clinics(request: Request, v: Visitor) -> list[catalog.ClinicNow]:
    c = web_of(request).container
    return await c.call(catalog.clinics_open_now, c.uow(), actor=v.actor, policy=c.policy)


@router.get("/walk-in")
async def walk_in_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    clinics = await _open_clinics(request, v)
    return render(request, v, "walk_in.html", {"clinics": clinics, "error": None})


@router.post("/walk-in")
async def take_number(request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    if v.user is None:
        return redirect("/login?next=" + quote("/walk-in", safe=""))
    c = web_of(request).container
    try:
        if not v.has(Role.PATIENT):
            raise AntreanError("forbidden")
        issued = await c.write(
            queue.take_number,
            c.uow(),
            actor=v.actor,
            policy=c.policy,
            clinic_id=parse_id(text_of(form, "clinic")) or 0,
        )
    except AntreanError as exc:
        if exc.code not in ("clinic_closed", "not_found", "field_invalid", "forbidden"):
            raise
        clinics = await _open_clinics(request, v)
        context = {"clinics": clinics, "error": exc.message(v.lang)}
        return render(request, v, "walk_in.html", context, status=409)
    return redirect(f"/t/{issued.ticket.status_code}")


@router.get("/t")
async def find_ticket(request: Request, v: Visitor = Depends(visit)) -> Response:
    code = request.query_params.get("code", "").strip()
    if not code:
        return redirect("/")
    return redirect("/t/" + quote(code[:64], safe=""))


async def _status(request: Request, v: Visitor, code: str) -> queue.TicketStatus:
    c = web_of(request).container
    return await c.call(
        queue.ticket_status, c.uow(), actor=c.anonymous(), status_code=code, queue=c.queue_policy
    )


@router.get("/t/{code}/events")
async def ticket_events(code: str, request: Request) -> Response:
    """The ticket page's stream: `mine` when this ticket changes (refetch now), `line` when
    someone else in its clinic's line moves (the people ahead change: the page refetches
    after a short random wait, so a thousand phones in one line do not ask at once)."""
    c = web_of(request).container
    status = await c.call(
        queue.ticket_status, c.uow(), actor=c.anonymous(), status_code=code, queue=c.queue_policy
    )

    async def stream() -> AsyncIterator[ServerSentEvent]:
        keys = [("ticket", status.status_code), ("clinic", status.clinic_id)]
        with c.broadcaster.subscribe_all(keys) as events:
            yield ServerSentEvent(data="{}", event="snapshot")
            while True:
                event = await events.get()
                if event is None:
                    yield ServerSentEvent(data="{}", event="snapshot")
                elif event.status_code == status.status_code:
                    yield ServerSentEvent(data="{}", event="mine", id=str(event.id))
                else:
                    yield ServerSentEvent(data="{}", event="line", id=str(event.id))

    return EventSourceResponse(stream(), ping=HEARTBEAT_SECONDS)


@router.get("/t/{code}")
async def ticket_page(code: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    status = await _status(request, v, code)
    block = "card" if wants_fragment(request) else None
    return render(request, v, "ticket.html", {"t": status}, block=block)

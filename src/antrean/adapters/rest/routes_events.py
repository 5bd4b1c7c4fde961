"""Live updates as server-sent events: one stream per clinic (display boards) and one per
ticket (the patient's phone). A reconnecting client sends Last-Event-ID and gets what it missed
from the ticket timeline, so nothing falls in the gap."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from antrean.adapters.rest import deps
from antrean.bootstrap import Container
from antrean.domain.events import QueueEvent
from antrean.services import queue as svc

router = APIRouter(tags=["live"])
HEARTBEAT_SECONDS = 15


def _last_id(header: str | None) -> int | None:
    if header is None:
        return None
    return int(header) if header.strip().isdigit() else 0


async def _stream(
    c: Container, key: tuple[str, object], last_id: int | None, **where: Any
) -> AsyncIterator[bytes | ServerSentEvent]:
    with c.broadcaster.subscribe(key) as queue:  # subscribe first: no gap before the replay
        yield ServerSentEvent(comment="subscribed")  # tells the client it will miss nothing
        sent = last_id or 0
        if last_id is not None:
            missed = await c.call(
                svc.missed_events,
                c.uow(),
                facility_id=c.settings.facility_id,
                after_id=last_id,
                **where,
            )
            for event in missed:
                sent = event.id
                yield _encoded(event)
        while True:
            event = await queue.get()
            if event.id <= sent:
                continue  # already sent in the replay
            sent = event.id
            yield _encoded(event)


@functools.lru_cache(maxsize=4096)
def _encoded(event: QueueEvent) -> bytes:
    """One event is encoded once, however many subscribers it goes to."""
    data = json.dumps(event.public(), separators=(",", ":"))
    return ServerSentEvent(data=data, event="queue", id=str(event.id)).encode()


@router.get("/clinics/{clinic_id}/events", summary="Live queue events of a clinic (SSE)")
async def clinic_events(
    clinic_id: int,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    c: Container = Depends(deps.container),
) -> EventSourceResponse:
    """Anyone: for display boards. Each event: ticket number, state, action and counter."""
    stream = _stream(c, ("clinic", clinic_id), _last_id(last_event_id), clinic_id=clinic_id)
    return EventSourceResponse(stream, ping=HEARTBEAT_SECONDS)


@router.get("/queue/status/{status_code}/events", summary="Live events of one ticket (SSE)")
async def ticket_events(
    status_code: str,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    c: Container = Depends(deps.container),
) -> EventSourceResponse:
    """Anyone holding the ticket's status code: for the patient's phone."""
    stream = _stream(c, ("ticket", status_code), _last_id(last_event_id), status_code=status_code)
    return EventSourceResponse(stream, ping=HEARTBEAT_SECONDS)

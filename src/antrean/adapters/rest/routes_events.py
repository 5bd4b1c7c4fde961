"""Live updates as server-sent events: one stream per clinic (display boards) and one per
ticket (the patient's phone), and the board's current state as plain JSON.

A stream starts with the current state (an event named `snapshot`) when the client is new or
too far behind, or with the events it missed when it reconnects with a recent `Last-Event-ID`
(`services.queue_views.start_clinic_stream`), and then goes on live. It subscribes before
reading either, so nothing falls in the gap; a rare duplicate is possible, a loss is not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Header
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathCode, PathId
from antrean.adapters.rest.routes_queue import status_out
from antrean.adapters.rest.schemas_queue import BoardOut, CalledOut
from antrean.bootstrap import Container
from antrean.domain.events import DomainEvent
from antrean.domain.fields import MAX_ID, is_digits
from antrean.domain.identity import Actor
from antrean.services import catalog
from antrean.services import queue_views as views

router = APIRouter(tags=["live"])
HEARTBEAT_SECONDS = 15


def _last_id(header: str | None) -> int | None:
    if header is None:
        return None
    text = header.strip()
    return min(int(text), MAX_ID) if is_digits(text) and len(text) <= 20 else 0


def _encode(event: DomainEvent) -> bytes:
    data = json.dumps(event.public(), separators=(",", ":"))
    return ServerSentEvent(data=data, event="queue", id=str(event.id)).encode()


def _board_out(board: views.BoardSnapshot) -> BoardOut:
    return BoardOut(
        clinic_id=board.clinic_id,
        clinic_name=board.clinic_name,
        day=board.day,
        calling=[
            CalledOut(ticket=k.label, counter=k.counter, state=k.state.value) for k in board.calling
        ],
        waiting=board.waiting,
        next_up=board.next_up,
        last_event_id=board.last_event_id,
    )


def _opening(c: Container, start: views.StreamStart) -> list[bytes | ServerSentEvent]:
    """What a stream sends first: the missed events, or the current state."""
    if start.board is not None:
        body: Any = _board_out(start.board).model_dump(mode="json")
    elif start.ticket is not None:
        body = status_out(start.ticket.status).model_dump(mode="json")
    else:
        return [c.broadcaster.encoded(event, _encode) for event in start.events]
    last = str(max(start.seen, default=0))
    return [ServerSentEvent(data=json.dumps(body), event="snapshot", id=last)]


async def _stream(
    c: Container,
    key: tuple[str, object],
    begin: Callable[[int | None], views.StreamStart],
    last_id: int | None,
) -> AsyncIterator[bytes | ServerSentEvent]:
    with c.broadcaster.subscribe(key) as queue:  # subscribe first: no gap before the start
        yield ServerSentEvent(comment="subscribed")  # tells the client it will miss nothing
        start = await c.call(begin, last_id)
        for item in _opening(c, start):
            yield item
        seen = start.seen
        while True:
            event = await queue.get()
            if event is None:  # this client fell behind the live stream: the state again
                start = await c.call(begin, None)
                for item in _opening(c, start):
                    yield item
                seen = start.seen
            elif event.id not in seen:
                yield c.broadcaster.encoded(event, _encode)


@router.get("/clinics/{clinic_id}/board", response_model=BoardOut, summary="A clinic's board")
async def board(
    clinic_id: PathId, actor: Actor = Depends(deps.caller), c: Container = Depends(deps.container)
) -> BoardOut:
    """Anyone: what a waiting-room display shows now (numbers and counters, no names)."""
    snapshot = await c.call(
        views.board_snapshot,
        c.uow(),
        actor=actor,
        policy=c.policy,
        queue=c.queue_policy,
        clinic_id=clinic_id,
    )
    return _board_out(snapshot)


_STREAM = {200: {"description": "A server-sent event stream", "content": {"text/event-stream": {}}}}


@router.get(
    "/clinics/{clinic_id}/events",
    summary="Live queue events of a clinic (SSE)",
    response_class=EventSourceResponse,
    responses=_STREAM,
)
async def clinic_events(
    clinic_id: PathId,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    c: Container = Depends(deps.container),
) -> EventSourceResponse:
    """Anyone: for display boards. A `snapshot` event (the board) when new or far behind, then
    `queue` events: ticket number, state, action and counter."""
    actor = c.anonymous()

    def begin(last: int | None) -> views.StreamStart:
        return views.start_clinic_stream(
            c.uow(),
            actor=actor,
            policy=c.policy,
            queue=c.queue_policy,
            clinic_id=clinic_id,
            last_event_id=last,
        )

    # An unknown clinic answers 404 before the stream starts.
    await c.call(catalog.get_clinic, c.uow(), actor=actor, clinic_id=clinic_id)
    stream = _stream(c, ("clinic", clinic_id), begin, _last_id(last_event_id))
    return EventSourceResponse(stream, ping=HEARTBEAT_SECONDS)


@router.get(
    "/queue/status/{status_code}/events",
    summary="Live events of one ticket (SSE)",
    response_class=EventSourceResponse,
    responses=_STREAM,
)
async def ticket_events(
    status_code: PathCode,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    c: Container = Depends(deps.container),
) -> EventSourceResponse:
    """Anyone holding the ticket's status code: for the patient's phone. A `snapshot` event
    (where the ticket stands) when new or far behind, then `queue` events."""
    actor = c.anonymous()

    def begin(last: int | None) -> views.StreamStart:
        return views.start_ticket_stream(
            c.uow(),
            actor=actor,
            queue=c.queue_policy,
            status_code=status_code,
            last_event_id=last,
        )

    # An unknown ticket answers 404 before the stream starts.
    await c.call(views.ticket_snapshot, c.uow(), actor=actor, status_code=status_code)
    stream = _stream(c, ("ticket", status_code), begin, _last_id(last_event_id))
    return EventSourceResponse(stream, ping=HEARTBEAT_SECONDS)

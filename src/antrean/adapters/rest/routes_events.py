"""Live updates as server-sent events: one stream per clinic (display boards) and one per
ticket (the patient's phone), and the board's current state as plain JSON.

A stream starts with the current state (an event named `snapshot`) when the client is new or
too far behind, or with the events it missed when it reconnects with a recent `Last-Event-ID`,
and then goes on live. It subscribes before reading either, so nothing falls in the gap, and it
never skips an event it has not reflected (a rare duplicate is possible; a loss is not)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Header
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathCode, PathId
from antrean.adapters.rest.routes_queue import status_out
from antrean.adapters.rest.schemas import BoardOut, CalledOut
from antrean.bootstrap import Container
from antrean.domain.events import DomainEvent
from antrean.domain.fields import MAX_ID
from antrean.domain.identity import Actor
from antrean.services import queue_views as views

router = APIRouter(tags=["live"])
HEARTBEAT_SECONDS = 15
_ENCODED: OrderedDict[int, bytes] = OrderedDict()
_ENCODED_LIMIT = 4096


def _last_id(header: str | None) -> int | None:
    if header is None:
        return None
    text = header.strip()
    return min(int(text), MAX_ID) if text.isdigit() and len(text) <= 20 else 0


def _encoded(event: DomainEvent) -> bytes:
    """One event is encoded once, however many subscribers it goes to."""
    found = _ENCODED.get(event.id)
    if found is None:
        data = json.dumps(event.public(), separators=(",", ":"))
        found = ServerSentEvent(data=data, event="queue", id=str(event.id)).encode()
        _ENCODED[event.id] = found
        if len(_ENCODED) > _ENCODED_LIMIT:
            _ENCODED.popitem(last=False)
    return found


def _snapshot_event(body: Any, seen: set[int]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(body), event="snapshot", id=str(max(seen, default=0)))


Snapshot = Callable[[], Any]  # reads the state: (JSON-able body, ids of events it reflects)


async def _stream(
    c: Container,
    key: tuple[str, object],
    last_id: int | None,
    snapshot: Snapshot,
    **where: Any,
) -> AsyncIterator[bytes | ServerSentEvent]:
    with c.broadcaster.subscribe(key) as queue:  # subscribe first: no gap before the catch-up
        yield ServerSentEvent(comment="subscribed")  # tells the client it will miss nothing
        missed: list[DomainEvent] | None = None
        if last_id:
            missed = await c.call(
                views.missed_events,
                c.uow(),
                actor=c.anonymous(),
                after_id=last_id,
                limit=views.REPLAY_LIMIT + 1,  # one more tells "too far behind"
                **where,
            )
        sent: set[int]
        if missed is not None and len(missed) <= views.REPLAY_LIMIT:
            sent = set()
            for event in missed:
                sent.add(event.id)
                yield _encoded(event)
        else:  # new, or too far behind: the current state, then live
            body, sent = await c.call(snapshot)
            yield ServerSentEvent(
                data=json.dumps(body), event="snapshot", id=str(max(sent, default=0))
            )
        while True:
            event = await queue.get()
            if event is None:  # this client fell behind the live stream: start again from now
                body, sent = await c.call(snapshot)
                yield ServerSentEvent(
                    data=json.dumps(body), event="snapshot", id=str(max(sent, default=0))
                )
                continue
            if event.id in sent:
                continue  # already reflected in what was sent
            yield _encoded(event)


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


@router.get("/clinics/{clinic_id}/events", summary="Live queue events of a clinic (SSE)")
async def clinic_events(
    clinic_id: PathId,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    c: Container = Depends(deps.container),
) -> EventSourceResponse:
    """Anyone: for display boards. A `snapshot` event (the board) when new or far behind, then
    `queue` events: ticket number, state, action and counter."""
    # An unknown clinic answers 404 before the stream starts.
    first = await c.call(
        views.board_snapshot,
        c.uow(),
        actor=c.anonymous(),
        policy=c.policy,
        queue=c.queue_policy,
        clinic_id=clinic_id,
    )

    def snapshot() -> tuple[Any, set[int]]:
        board = views.board_snapshot(
            c.uow(),
            actor=c.anonymous(),
            policy=c.policy,
            queue=c.queue_policy,
            clinic_id=first.clinic_id,
        )
        return _board_out(board).model_dump(mode="json"), set(board.seen_event_ids)

    stream = _stream(
        c, ("clinic", clinic_id), _last_id(last_event_id), snapshot, clinic_id=clinic_id
    )
    return EventSourceResponse(stream, ping=HEARTBEAT_SECONDS)


@router.get("/queue/status/{status_code}/events", summary="Live events of one ticket (SSE)")
async def ticket_events(
    status_code: PathCode,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    c: Container = Depends(deps.container),
) -> EventSourceResponse:
    """Anyone holding the ticket's status code: for the patient's phone. A `snapshot` event
    (where the ticket stands) when new or far behind, then `queue` events."""
    await c.call(
        views.ticket_snapshot,
        c.uow(),
        actor=c.anonymous(),
        status_code=status_code,
        queue=c.queue_policy,
    )

    def snapshot() -> tuple[Any, set[int]]:
        found = views.ticket_snapshot(
            c.uow(), actor=c.anonymous(), status_code=status_code, queue=c.queue_policy
        )
        body = status_out(found.status).model_dump(mode="json")
        return body, set(found.seen_event_ids)

    stream = _stream(
        c,
        ("ticket", status_code),
        _last_id(last_event_id),
        snapshot,
        status_code=status_code,
    )
    return EventSourceResponse(stream, ping=HEARTBEAT_SECONDS)

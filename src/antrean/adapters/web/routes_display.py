"""The waiting room's TV board, opened by its secret display link (no sign-in): the numbers
called now with their rooms, largest first, and the next few; a chime and a spoken call for
each new call.

The board listens to one server-sent event stream for all its clinics and fetches its content
again on every event. A call is announced only when it is new to this board and recent (made
within the last minute, by the server's clock), so a board coming back after a network drop
or a server restart shows what it missed without announcing it as new."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from itsdangerous import BadSignature, URLSafeSerializer
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
from starlette.responses import Response

from antrean.adapters.web.core import Visitor, WebRoute, render, visit, wants_fragment, web_of
from antrean.adapters.web.speech import spoken_call
from antrean.domain.devices import DeviceKind, DeviceLink
from antrean.domain.errors import AntreanError
from antrean.services import devices, queue_views

router = APIRouter(route_class=WebRoute, include_in_schema=False)

FRESH = timedelta(seconds=60)  # a call older than this is shown, not announced
RECENT = 6  # calls shown under the latest
HEARTBEAT_SECONDS = 15


async def open_link(request: Request, token: str, kind: DeviceKind) -> DeviceLink:
    c = web_of(request).container
    link = await c.call(devices.open_device, c.uow(), actor=c.anonymous(), token=token)
    if link.kind is not kind:
        raise AntreanError("not_found", entity="Device link")
    return link


def _signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(web_of(request).container.tokens.secret, salt="antrean.web.speech")


@router.get("/display/{token}")
async def display(token: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    link = await open_link(request, token, DeviceKind.DISPLAY)
    c = web_of(request).container
    web = web_of(request)
    boards = []
    for clinic_id in link.clinic_ids:
        with contextlib.suppress(AntreanError):  # a clinic removed since: left out
            boards.append(
                await c.call(
                    queue_views.board_snapshot,
                    c.uow(),
                    actor=c.anonymous(),
                    policy=c.policy,
                    queue=c.queue_policy,
                    clinic_id=clinic_id,
                )
            )
    now = c.clock.now()
    signer = _signer(request)
    calls = []
    for board in boards:
        for k in board.calling:
            if k.state.value != "called":
                continue
            said = spoken_call(k.label, board.clinic_name, k.counter, v.lang)
            calls.append(
                {
                    "label": k.label,
                    "clinic": board.clinic_name,
                    "counter": k.counter or "",
                    "key": f"{board.clinic_id}|{k.label}|{k.counter}|{k.recalls}",
                    "fresh": k.called_at is not None and now - k.called_at <= FRESH,
                    "at": k.called_at,
                    "say": said,
                    "audio": f"/display/{token}/speech?t={signer.dumps([v.lang, said])}"
                    if web.voice.available
                    else "",
                }
            )
    calls.sort(key=lambda call: call["at"] or now, reverse=True)
    context = {
        "link": link,
        "token": token,
        "boards": boards,
        "latest": calls[0] if calls else None,
        "recent": calls[1 : RECENT + 1],
        "calls": calls,
        "voice": web.voice.available,
        "now": now,
    }
    block = "board" if wants_fragment(request) else None
    return render(request, v, "display.html", context, block=block)


@router.get("/display/{token}/events")
async def display_events(token: str, request: Request) -> Response:
    """One stream for all the board's clinics: each event says "something changed"."""
    link = await open_link(request, token, DeviceKind.DISPLAY)
    c = web_of(request).container

    async def stream() -> AsyncIterator[ServerSentEvent]:
        keys = [("clinic", clinic_id) for clinic_id in link.clinic_ids]
        with c.broadcaster.subscribe_all(keys) as queue:
            # After subscribing: the board reads its state now, so it misses nothing.
            yield ServerSentEvent(data="{}", event="snapshot")
            while True:
                event = await queue.get()
                body = {} if event is None else event.public()
                yield ServerSentEvent(data=json.dumps(body), event="queue")

    return EventSourceResponse(stream(), ping=HEARTBEAT_SECONDS)


@router.get("/display/{token}/speech")
async def speech(token: str, request: Request) -> Response:
    """A spoken call as audio, for a browser without an Indonesian voice. Only texts this
    server wrote (signed) are spoken, so the address cannot make it say anything else."""
    await open_link(request, token, DeviceKind.DISPLAY)
    try:
        lang, text = _signer(request).loads(request.query_params.get("t", ""))
    except (BadSignature, ValueError, TypeError):
        return Response(status_code=404)
    audio = await web_of(request).voice.wav(str(text), str(lang))
    if audio is None:
        return Response(status_code=404)
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(audio, media_type="audio/wav", headers=headers)

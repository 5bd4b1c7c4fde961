"""The waiting room's TV board, opened by its secret display link (no sign-in): the numbers
called now with their rooms, largest first, and the next few; a chime and a spoken call for
each new call.

The board listens to one server-sent event stream for all its clinics and fetches its content
again on every event. A call is announced only when it is new to this board and recent (made
within the last minute, by the server's clock), so a board coming back after a network drop
or a server restart shows what it missed without announcing it as new."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from itsdangerous import BadSignature, URLSafeSerializer
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
from starlette.responses import Response

from antrean.adapters.web.core import (
    Visitor,
    Web,
    WebRoute,
    render,
    visit,
    wants_fragment,
    web_of,
)
from antrean.adapters.web.i18n import language
from antrean.adapters.web.session import LANG_COOKIE
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


def speech_signer(web: Web) -> URLSafeSerializer:
    return URLSafeSerializer(web.container.tokens.secret, salt="antrean.web.speech")


@router.get("/display/{token}")
async def display(token: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    """The whole board page (HTMX asking for a part gets the board alone)."""
    link = await open_link(request, token, DeviceKind.DISPLAY)
    context = await board_context(web_of(request), v.lang, token, link)
    block = "board" if wants_fragment(request) else None
    return render(request, v, "display.html", context, block=block)


async def board_context(web: Web, lang: str, token: str, link: DeviceLink) -> dict[str, Any]:
    """What the board shows now: each clinic's calls and next numbers, the calls newest
    first, each with what is said for it and whether it is recent enough to announce."""
    c = web.container
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
    signer = speech_signer(web)
    calls = []
    for board in boards:
        for k in board.calling:
            if k.state.value != "called":
                continue
            said = spoken_call(k.label, board.clinic_name, k.counter, lang)
            calls.append(
                {
                    "label": k.label,
                    "clinic": board.clinic_name,
                    "counter": k.counter or "",
                    "key": f"{board.clinic_id}|{k.label}|{k.counter}|{k.recalls}",
                    "fresh": k.called_at is not None and now - k.called_at <= FRESH,
                    "at": k.called_at,
                    "say": said,
                    "audio": f"/display/{token}/speech?t={signer.dumps([lang, said])}"
                    if web.voice.available
                    else "",
                }
            )
    calls.sort(key=lambda call: call["at"] or now, reverse=True)
    return {
        "link": link,
        "token": token,
        "boards": boards,
        "latest": calls[0] if calls else None,
        "recent": calls[1 : RECENT + 1],
        "calls": calls,
        "voice": web.voice.available,
        "now": now,
    }


async def _board_html(web: Web, lang: str, token: str, link: DeviceLink) -> str:
    page = web.envs[lang].get_template("display.html")
    context = await board_context(web, lang, token, link)
    return "".join(page.blocks["board"](page.new_context(context)))


@router.get("/display/{token}/events")
async def display_events(token: str, request: Request) -> Response:
    """One stream for all the board's clinics, carrying the board itself: rendered once per
    event for every board of the link in the same language, so a thousand boards cost one
    render and no request back."""
    link = await open_link(request, token, DeviceKind.DISPLAY)
    web = web_of(request)
    lang = language(request.cookies.get(LANG_COOKIE))

    async def board(version: str) -> ServerSentEvent:
        key = (token, lang, version)
        html = await web.fragments.get(key, lambda: _board_html(web, lang, token, link))
        shared = not version.startswith("now-")
        return ServerSentEvent(data=html, event="board", id=version if shared else None)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        keys = [("clinic", clinic_id) for clinic_id in link.clinic_ids]
        with web.container.broadcaster.subscribe_all(keys) as queue:
            # After subscribing: the board as it is now, so nothing falls in between.
            yield await board(f"now-{time.monotonic_ns()}")
            while True:
                event = await queue.get()
                behind = event is None  # fell behind the live stream: read the state now
                while not queue.empty():  # several waiting: one board, for the newest
                    queued = queue.get_nowait()
                    behind = behind or queued is None
                    event = queued or event
                if behind or event is None:
                    yield await board(f"now-{time.monotonic_ns()}")
                else:
                    yield await board(str(event.id))

    return EventSourceResponse(stream(), ping=HEARTBEAT_SECONDS)


@router.get("/display/{token}/speech")
async def speech(token: str, request: Request) -> Response:
    """A spoken call as audio, for a browser without an Indonesian voice. Only texts this
    server wrote (signed) are spoken, so the address cannot make it say anything else."""
    await open_link(request, token, DeviceKind.DISPLAY)
    try:
        lang, text = speech_signer(web_of(request)).loads(request.query_params.get("t", ""))
    except (BadSignature, ValueError, TypeError):
        return Response(status_code=404)
    audio = await web_of(request).voice.wav(str(text), str(lang))
    if audio is None:
        return Response(status_code=404)
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(audio, media_type="audio/wav", headers=headers)

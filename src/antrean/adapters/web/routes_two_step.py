"""Two-step sign-in for one's own account: turn it on (a QR code for the authenticator app, a
first code, ten recovery codes shown once) or off (password and a code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from antrean.adapters.web.core import (
    Visitor,
    WebRoute,
    read_form,
    render,
    require,
    text_of,
    visit,
    web_of,
)
from antrean.bootstrap import Container
from antrean.domain.errors import AntreanError
from antrean.services import two_factor

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE = "/account/two-step"


async def _page(request: Request, v: Visitor, *, status: int = 200, **extra: object) -> Response:
    c = web_of(request).container
    state = await c.call(two_factor.two_factor_state, c.uow(), actor=v.actor)
    context = {"state": state, "errors": {}, "setup": None, "recovery": None, **extra}
    return render(request, v, "two_step.html", context, status=status)


async def _setup(c: Container, v: Visitor, use_case: Callable[..., Any]) -> Any:
    """A new secret to set up (`start_two_factor`), or the one waiting for its first code."""
    return await c.call(
        use_case, c.uow(), actor=v.actor, codes=c.one_time_codes, issuer=c.settings.facility_name
    )


@router.get(PAGE)
async def two_step_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v)
    return await _page(request, v)


@router.post(PAGE + "/start")
async def start(request: Request, v: Visitor = Depends(visit)) -> Response:
    await read_form(request, v)
    require(v)
    c = web_of(request).container
    try:
        setup = await _setup(c, v, two_factor.start_two_factor)
    except AntreanError as exc:
        return await _page(request, v, status=409, errors={"_form": exc.message(v.lang)})
    return await _page(request, v, setup=setup)


@router.post(PAGE + "/confirm")
async def confirm(request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v)
    c = web_of(request).container
    try:
        recovery = await c.call(
            two_factor.confirm_two_factor,
            c.uow(),
            actor=v.actor,
            codes=c.one_time_codes,
            code=text_of(form, "code"),
        )
    except AntreanError as exc:
        setup = await _setup(c, v, two_factor.pending_two_factor)
        errors = {exc.field or "_form": exc.message(v.lang)}
        return await _page(request, v, status=400, errors=errors, setup=setup)
    # Every session of the account ended with this: the codes are shown, then sign in again.
    page = await _page(request, v, recovery=recovery)
    v.session = v.session.signed_out()
    return page


@router.post(PAGE + "/off")
async def turn_off(request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v)
    c = web_of(request).container
    try:
        await c.offload(
            two_factor.turn_off_two_factor,
            c.uow(),
            actor=v.actor,
            hasher=c.passwords,
            codes=c.one_time_codes,
            password=text_of(form, "password"),
            code=text_of(form, "code"),
        )
    except AntreanError as exc:
        field = "password" if exc.code == "invalid_credentials" else exc.field or "_form"
        return await _page(request, v, status=400, errors={field: exc.message(v.lang)})
    return await _page(request, v, turned_off=True)

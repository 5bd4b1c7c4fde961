"""Request dependencies: the container, the caller, role checks.

They are `async` because none of them blocks (a token is checked without the database), so
FastAPI runs them on the event loop instead of handing each to the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from antrean.bootstrap import Container
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role

TOKEN_URL = "/api/v1/auth/token"
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


async def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


async def optional_actor(request: Request, token: str | None = Depends(_bearer)) -> Actor | None:
    if token is None:
        return None
    c: Container = request.app.state.container
    return c.tokens.actor(token)


async def current_actor(request: Request, token: str | None = Depends(_bearer)) -> Actor:
    if token is None:
        raise AntreanError("invalid_token")
    c: Container = request.app.state.container
    return c.tokens.actor(token)


def roles(*allowed: Role) -> Callable[..., Awaitable[Actor]]:
    """Only these roles (admin always) may call the endpoint."""

    async def check(request: Request, token: str | None = Depends(_bearer)) -> Actor:
        actor = await current_actor(request, token)
        actor.require(*allowed)
        return actor

    check.__name__ = "require_" + "_or_".join(r.value for r in allowed)
    return check


STAFF = (Role.OPERATOR, Role.DOCTOR)
any_user = current_actor
staff = roles(*STAFF)
admin = roles(Role.ADMIN)


async def facility_id(request: Request, actor: Actor | None = Depends(optional_actor)) -> int:
    """The facility a public read is about: the caller's, or this server's default."""
    if actor is not None:
        return actor.facility_id
    c: Container = request.app.state.container
    return c.settings.facility_id

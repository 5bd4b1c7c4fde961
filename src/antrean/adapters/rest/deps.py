"""Request dependencies: the container, the caller, role checks, and id parameters.

They are `async` because none of them blocks (a token is checked without the database), so
FastAPI runs them on the event loop instead of handing each to the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer

from antrean.bootstrap import Container
from antrean.domain.errors import AntreanError
from antrean.domain.fields import MAX_ID
from antrean.domain.identity import Actor, Role
from antrean.services import identity

TOKEN_URL = "/api/v1/auth/token"
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)

# Ids are positive 64-bit integers: anything else is a 422 before any use case runs.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
PathCode = Annotated[str, Path(min_length=1, max_length=32)]


async def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


async def caller(request: Request, token: str | None = Depends(_bearer)) -> Actor:
    """The signed-in caller, or anyone (anonymous) in this server's facility."""
    if token is None:
        c: Container = request.app.state.container
        return c.anonymous()
    return await current_actor(request, token)


async def current_actor(request: Request, token: str | None = Depends(_bearer)) -> Actor:
    """The account a valid access token stands for, still there and not disabled."""
    if token is None:
        raise AntreanError("invalid_token")
    c: Container = request.app.state.container
    actor = c.tokens.actor(token)
    await c.call(identity.still_allowed, c.uow(), actor=actor)
    return actor


def roles(*allowed: Role) -> Callable[..., Awaitable[Actor]]:
    """Only these roles (admin always) may call the endpoint; the use case checks again."""

    async def check(request: Request, token: str | None = Depends(_bearer)) -> Actor:
        actor = await current_actor(request, token)
        actor.require(*allowed)
        return actor

    check.__name__ = "require_" + "_or_".join(r.value for r in allowed)
    return check


async def patient(request: Request, token: str | None = Depends(_bearer)) -> Actor:
    """A patient's own account only (an admin has no appointments or message choices of
    their own); the use case checks again."""
    actor = await current_actor(request, token)
    if Role.PATIENT not in actor.roles:
        raise AntreanError("forbidden")
    return actor


STAFF = (Role.OPERATOR, Role.DOCTOR)
any_user = current_actor
staff = roles(*STAFF)
front_desk = roles(Role.OPERATOR)  # and admins: the message log
admin = roles(Role.ADMIN)

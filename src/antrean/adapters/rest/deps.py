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
from antrean.services.ports import UnitOfWork

TOKEN_URL = "/api/v1/auth/token"
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


async def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


async def uow(request: Request) -> UnitOfWork:
    """A fresh unit of work for this request."""
    c: Container = request.app.state.container
    return c.uow()


async def optional_actor(request: Request, token: str | None = Depends(_bearer)) -> Actor | None:
    if token is None:
        return None
    c: Container = request.app.state.container
    return c.tokens.actor(token)


async def current_actor(actor: Actor | None = Depends(optional_actor)) -> Actor:
    if actor is None:
        raise AntreanError("invalid_token")
    return actor


def roles(*allowed: Role) -> Callable[[Actor], Awaitable[Actor]]:
    """Only these roles (admin always) may call the endpoint."""

    async def check(actor: Actor = Depends(current_actor)) -> Actor:
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

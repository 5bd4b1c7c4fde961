"""Who may run each use case: every public service function declares it with `@allow`.

The declaration is checked before the use case runs, and kept on the function, so a test can
enumerate the service modules and check that no use case is missing a rule and that each
refuses an actor without the right role.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from antrean.domain.audit import RequestInfo
from antrean.domain.identity import Actor, Role

P = ParamSpec("P")
R = TypeVar("R")

SIGNED_IN = (Role.PATIENT, Role.OPERATOR, Role.DOCTOR)  # ownership is checked inside
FRONT_DESK = (Role.OPERATOR, Role.DOCTOR, Role.KIOSK)  # staff, or a kiosk device


# The use case running on this thread (its name and actor): what the audit log records for
# the changes and reads its units of work commit.
_use_case: ContextVar[tuple[str, Actor] | None] = ContextVar("antrean_use_case", default=None)
# Where the request being served came from (set by the edge, for the audit log).
request_info: ContextVar[RequestInfo | None] = ContextVar("antrean_request", default=None)


def current_use_case() -> tuple[str, Actor] | None:
    return _use_case.get()


def allow(*roles: Role, public: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The roles that may run a use case (admin and system always may). `public=True`: any
    actor, anonymous included. The use case is called with `actor=` as a keyword."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            actor = kwargs.get("actor")
            if not isinstance(actor, Actor):
                raise TypeError(f"{fn.__name__} needs actor= (an Actor)")
            if not public:
                actor.require(*roles)
            token = _use_case.set((fn.__name__, actor))
            try:
                return fn(*args, **kwargs)
            finally:
                _use_case.reset(token)

        checked.__access__ = (frozenset(roles), public)  # type: ignore[attr-defined]
        return checked

    return wrap


def access_rule(fn: Callable[..., Any]) -> tuple[frozenset[Role], bool] | None:
    """The roles a use case allows and whether it is public; None when it declares none."""
    rule: tuple[frozenset[Role], bool] | None = getattr(fn, "__access__", None)
    return rule

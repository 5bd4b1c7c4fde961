"""Every use case declares who may run it, and refuses everyone else.

The use cases are found by reading the service modules, so a new function that takes an actor
but declares no rule fails here, and so does a new function taking a unit of work that is
neither a use case nor a known in-transaction helper.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import antrean.services
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role
from antrean.services.access import access_rule
from antrean.testing import FakeUnitOfWork, FrozenClock

# Functions that take a unit of work but run inside their caller's transaction, after the
# caller's rule was checked: they are not use cases and declare no rule of their own.
IN_TRANSACTION_HELPERS = {
    "antrean.services.catalog.find_clinic",
    "antrean.services.catalog.find_doctor",
    "antrean.services.catalog.find_service",
    "antrean.services.booking.load_appointment",
    "antrean.services.booking.save_changed",
    "antrean.services.identity.issue_tokens",
    "antrean.services.patients.add_checked_patient",
    "antrean.services.patients.new_patient",
    "antrean.services.patients.today",
    "antrean.services.queue.issue_ticket",
    "antrean.services.queue.people_ahead",
    "antrean.services.queue.refresh_service_time",
    "antrean.services.booking_views.details_of",
    "antrean.services.queue.status_now",
    "antrean.services.notifications.announce",
    "antrean.services.notifications.queue_turn_near",
    "antrean.services.notifications.texts_of",
    "antrean.services.slot_sync.plan_sync",
    "antrean.services.slot_sync.sync_slots",
    "antrean.services.two_factor.second_step_passes",
    "antrean.services.two_factor.two_factor_on",
}
EVERY_ROLE = frozenset(Role)


def _service_functions() -> list[tuple[str, Callable[..., Any]]]:
    found = []
    for info in pkgutil.iter_modules(antrean.services.__path__):
        module = importlib.import_module(f"antrean.services.{info.name}")
        for name, fn in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            if fn.__module__ != module.__name__:
                continue  # imported from elsewhere
            params = inspect.signature(fn).parameters
            if "uow" in params or "actor" in params:
                found.append((f"{module.__name__}.{name}", fn))
    return sorted(found)


USE_CASES = [(name, fn) for name, fn in _service_functions() if name not in IN_TRANSACTION_HELPERS]


def test_the_service_modules_were_read():
    assert len(USE_CASES) >= 45, [name for name, _ in USE_CASES]


@pytest.mark.parametrize(("name", "fn"), USE_CASES, ids=[n for n, _ in USE_CASES])
def test_every_use_case_declares_a_rule_and_takes_an_actor(name, fn):
    assert access_rule(fn) is not None, f"{name} declares no @allow rule"
    params = inspect.signature(fn).parameters
    assert "actor" in params and params["actor"].kind is inspect.Parameter.KEYWORD_ONLY, name


def _call(fn: Callable[..., Any], actor: Actor) -> None:
    """Call a use case with placeholder arguments: the rule is checked before any is used."""
    uow = FakeUnitOfWork(FrozenClock(datetime(2026, 11, 22, tzinfo=UTC)))
    kwargs: dict[str, Any] = {}
    for param in list(inspect.signature(fn).parameters.values())[1:]:
        if param.default is inspect.Parameter.empty and param.name != "actor":
            kwargs[param.name] = None
    fn(uow, actor=actor, **kwargs)


RESTRICTED = [(n, f) for n, f in USE_CASES if access_rule(f) and not access_rule(f)[1]]


@pytest.mark.parametrize(("name", "fn"), RESTRICTED, ids=[n for n, _ in RESTRICTED])
def test_every_restricted_use_case_refuses_an_actor_without_the_role(name, fn):
    allowed, _ = access_rule(fn)
    others = EVERY_ROLE - allowed - {Role.ADMIN, Role.SYSTEM}
    for actor in (
        Actor.anonymous(1),
        Actor(user_id=7, facility_id=1, roles=frozenset(others), patient_id=3),
    ):
        with pytest.raises(AntreanError) as err:
            _call(fn, actor)
        assert err.value.code == "forbidden", name


def test_public_use_cases_are_the_reads_anyone_may_make():
    public = sorted(n.rsplit(".", 1)[1] for n, f in USE_CASES if access_rule(f)[1])
    assert public == sorted(
        [
            "board_snapshot",
            "clinics_open_now",
            "get_clinic",
            "get_doctor",
            "get_facility",
            "list_clinics",
            "list_counters",
            "list_doctors",
            "list_exceptions",
            "list_schedules",
            "list_services",
            "login",
            "logout",
            "missed_events",
            "open_device",
            "refresh_session",
            "register_account",
            "resume_session",
            "booking_choices",
            "free_places",
            "get_slot",
            "search_slots",
            "sign_in_with_provider",
            "slot_page",
            "start_clinic_stream",
            "start_ticket_stream",
            "still_allowed",  # whether a token's account may still act: asked of any token
            "ticket_snapshot",
            "ticket_status",
        ]
    )


def test_a_kiosk_may_issue_walk_ins_but_not_run_the_queue():
    from antrean.services import queue, queue_actions

    assert Role.KIOSK in access_rule(queue.issue_walk_in)[0]
    kiosk = Actor.kiosk(1, "kiosk-1")
    with pytest.raises(AntreanError) as err:
        _call(queue_actions.call_next, kiosk)
    assert err.value.code == "forbidden"

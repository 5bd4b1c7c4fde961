"""Every web page times every kind of caller, on SQLite and PostgreSQL.

The pages have no role dependency to read their rule from, so the rule of each page is written
down here, one line per route (`PAGES`): who may use it, and what a signed-in caller it refuses
gets. The routes themselves come from the app: a page added without a line here fails, and so
does a line whose page is gone.

What each cell proves:

- a caller the rule allows is let through: never the sign-in redirect, never a 403 (it may
  still get 400, 404 or 409 for the minimal forms sent, or a 303 onwards);
- a signed-out caller it refuses (nobody signed in, an account disabled since it signed in, a
  session signed out since) is sent to sign in first (303 to /login?next=...);
- a signed-in caller it refuses gets what the line says: the 403 page ("for another account or
  role"), a 404 where the page hides that the thing exists (another patient's booking), or a
  303 to their own start page (the patient pages, for staff);
- a form from a session that has ended is refused as a stale form (the 403 page that says the
  form has expired): its CSRF secret ended with the session, so it never reaches the rule;
- device pages (display and kiosk) and a ticket's pages are keyed by an unguessable token, not
  by who asks: with a made-up token every caller gets 404;
- nobody ever gets a 500, and a refused request changes nothing in the database (every table,
  byte for byte, but the sign-in throttle's counters).

Forms carry the session's own CSRF secret, so a refusal is the rule's and not the forgery
check's; ids in addresses are real (the patient's booking, a waiting ticket, a spare doctor,
account and display link), so that a missing check would show as a change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, create_engine, text

from antrean.adapters.web import ROUTERS
from antrean.adapters.web.assets import PREFIX as ASSETS
from antrean.adapters.web.core import WebRoute
from antrean.adapters.web.session import CSRF_FIELD, LANG_COOKIE, SESSION_COOKIE
from antrean.domain.catalog import DoctorDraft
from antrean.domain.devices import DeviceKind, DeviceLinkDraft
from antrean.domain.queue import WalkInDraft
from antrean.domain.scheduling import ExceptionKind, Schedule, ScheduleException
from antrean.http import create_app
from antrean.services import catalog, devices, queue, scheduling
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import (
    LOCAL_CLIENT,
    Api,
    database_of_its_own,
    serving,
    stored_rows,
)
from tests.integration.routes import routes_where, undeclared
from tests.integration.web_client import WebUser

# --- callers -----------------------------------------------------------------------------------

ANONYMOUS, PATIENT, OTHER_PATIENT = "anonymous", "patient", "other-patient"
OPERATOR, DOCTOR, ADMIN = "operator", "doctor", "admin"
DISABLED, REVOKED = "disabled-account", "revoked-session"
CALLERS = (ANONYMOUS, PATIENT, OTHER_PATIENT, OPERATOR, DOCTOR, ADMIN, DISABLED, REVOKED)
ENDED = frozenset({DISABLED, REVOKED})  # signed in once; the session has ended since
SIGNED_OUT = ENDED | {ANONYMOUS}
PATIENTS = frozenset({PATIENT, OTHER_PATIENT})
STAFF = frozenset({OPERATOR, DOCTOR, ADMIN})
EVERYONE = frozenset(CALLERS)
HOMES = {
    PATIENT: "/my",
    OTHER_PATIENT: "/my",
    OPERATOR: "/console",
    DOCTOR: "/doctor",
    ADMIN: "/admin",
}

# --- what a refused caller gets ----------------------------------------------------------------

LOGIN = "303 to sign in"
FORBIDDEN = "403 not for this account or role"
STALE_FORM = "403 form expired"
NOT_FOUND = "404"
HOME = "303 to the caller's start page"
REFUSED_ON_PAGE = "409 with 'not allowed' on the page"


@dataclass(frozen=True)
class Rule:
    """Who may use a page, and what a signed-in caller it refuses gets (a signed-out one is
    sent to sign in). `keyed`: the page is opened by a device's or ticket's token instead."""

    allowed: frozenset[str]
    refused: str = FORBIDDEN
    keyed: bool = False


# The rules: who is let through; what a signed-in caller refused gets.
OPEN = Rule(EVERYONE)
SIGNED_IN = Rule(PATIENTS | STAFF, FORBIDDEN)
KEYED = Rule(EVERYONE, NOT_FOUND, keyed=True)  # a made-up token: 404 for everyone
OWN_RECORD = Rule(PATIENTS, HOME)  # a patient's own pages: staff are sent to their own start
OWN_BOOKING = Rule(STAFF | {PATIENT}, NOT_FOUND)  # staff see any; another patient: no such code
AT_THE_DESK = Rule(STAFF, FORBIDDEN)  # operators and doctors (and admins)
DOCTORS = Rule(frozenset({DOCTOR, ADMIN}), FORBIDDEN)
FRONT_DESK = Rule(frozenset({OPERATOR, ADMIN}), FORBIDDEN)
ADMINS = Rule(frozenset({ADMIN}), FORBIDDEN)
# `/my/access` lets admins past its role check ("admins always"); having no record of their
# own, they are told there is nothing (404). Taking a number online is a patient's: staff,
# admins too, are told so on the walk-in page itself.
PATIENT_ROLE = Rule(PATIENTS | {ADMIN}, FORBIDDEN)
TAKE_A_NUMBER = Rule(PATIENTS, REFUSED_ON_PAGE)

PAGES: dict[tuple[str, str], Rule] = {
    ("GET", "/"): OPEN,
    ("GET", "/lang/{lang}"): OPEN,
    ("GET", "/login"): OPEN,
    ("POST", "/login"): OPEN,
    ("POST", "/logout"): OPEN,
    ("GET", "/signup"): OPEN,
    ("POST", "/signup"): OPEN,
    ("GET", "/login/sso"): OPEN,  # 404 for everyone here: no provider is set up
    ("GET", "/login/sso/return"): OPEN,
    ("GET", "/book"): OPEN,
    ("POST", "/book"): SIGNED_IN,  # staff pass; booking needs a patient, said on the page
    ("GET", "/walk-in"): OPEN,
    ("POST", "/walk-in"): TAKE_A_NUMBER,
    ("GET", "/t"): OPEN,
    ("GET", "/t/{code}"): KEYED,
    ("GET", "/t/{code}/events"): KEYED,
    ("GET", "/t/{status_code}/print"): KEYED,
    ("GET", "/my"): OWN_RECORD,
    ("GET", "/my/messages"): OWN_RECORD,
    ("POST", "/my/messages"): OWN_RECORD,
    ("POST", "/my/messages/{medium}"): OWN_RECORD,
    ("GET", "/my/access"): PATIENT_ROLE,
    ("GET", "/appointments/{code}"): OWN_BOOKING,
    ("GET", "/appointments/{code}/calendar.ics"): OWN_BOOKING,
    ("POST", "/appointments/{code}/cancel"): OWN_BOOKING,
    ("GET", "/appointments/{code}/reschedule"): OWN_BOOKING,
    ("POST", "/appointments/{code}/reschedule"): OWN_BOOKING,
    ("GET", "/account/two-step"): SIGNED_IN,
    ("POST", "/account/two-step/start"): SIGNED_IN,
    ("POST", "/account/two-step/confirm"): SIGNED_IN,
    ("POST", "/account/two-step/off"): SIGNED_IN,
    ("GET", "/doctor"): DOCTORS,
    ("GET", "/doctor/{clinic_id}"): AT_THE_DESK,
    ("POST", "/doctor/{clinic_id}/call-next"): AT_THE_DESK,
    ("POST", "/doctor/{clinic_id}/tickets/{ticket_id}/{action}"): AT_THE_DESK,
    ("GET", "/console"): AT_THE_DESK,
    ("GET", "/console/{clinic_id}"): AT_THE_DESK,
    ("POST", "/console/{clinic_id}/call-next"): AT_THE_DESK,
    ("POST", "/console/{clinic_id}/tickets/{ticket_id}/{action}"): AT_THE_DESK,
    ("POST", "/console/{clinic_id}/check-in"): AT_THE_DESK,
    ("GET", "/console/{clinic_id}/patients"): AT_THE_DESK,
    ("POST", "/console/{clinic_id}/walk-in"): AT_THE_DESK,
    ("GET", "/display/{token}"): KEYED,
    ("GET", "/display/{token}/events"): KEYED,
    ("GET", "/display/{token}/speech"): KEYED,
    ("GET", "/kiosk/{token}"): KEYED,
    ("GET", "/kiosk/{token}/take/{clinic_id}"): KEYED,
    ("POST", "/kiosk/{token}/take/{clinic_id}"): KEYED,
    ("POST", "/kiosk/{token}/check-in"): KEYED,
    ("GET", "/kiosk/{token}/ticket/{status_code}"): KEYED,
    ("GET", "/admin"): ADMINS,
    ("GET", "/admin/events"): ADMINS,
    ("GET", "/admin/settings"): ADMINS,
    ("POST", "/admin/settings"): ADMINS,
    ("GET", "/admin/devices"): ADMINS,
    ("POST", "/admin/devices"): ADMINS,
    ("POST", "/admin/devices/{link_id}/revoke"): ADMINS,
    ("GET", "/admin/clinics"): ADMINS,
    ("POST", "/admin/clinics"): ADMINS,
    ("GET", "/admin/clinics/{clinic_id}"): ADMINS,
    ("POST", "/admin/clinics/{clinic_id}"): ADMINS,
    ("POST", "/admin/clinics/{clinic_id}/counters"): ADMINS,
    ("GET", "/admin/services"): ADMINS,
    ("POST", "/admin/services"): ADMINS,
    ("GET", "/admin/doctors"): ADMINS,
    ("POST", "/admin/doctors"): ADMINS,
    ("GET", "/admin/doctors/{doctor_id}"): ADMINS,
    ("POST", "/admin/doctors/{doctor_id}"): ADMINS,
    ("POST", "/admin/doctors/{doctor_id}/schedules"): ADMINS,
    ("POST", "/admin/doctors/{doctor_id}/schedules/{schedule_id}/delete"): ADMINS,
    ("POST", "/admin/doctors/{doctor_id}/exceptions"): ADMINS,
    ("POST", "/admin/doctors/{doctor_id}/exceptions/{exception_id}/delete"): ADMINS,
    ("GET", "/admin/users"): ADMINS,
    ("POST", "/admin/users"): ADMINS,
    ("POST", "/admin/users/{user_id}/{action}"): ADMINS,
    ("GET", "/admin/bookings"): AT_THE_DESK,
    ("GET", "/admin/bookings.csv"): AT_THE_DESK,
    ("GET", "/admin/bookings/{code}"): AT_THE_DESK,
    ("GET", "/admin/messages"): FRONT_DESK,
    ("POST", "/admin/messages/{message_id}/send-again"): FRONT_DESK,
    ("GET", "/admin/messages/texts"): ADMINS,
    ("GET", "/admin/messages/texts/{kind}/{lang}"): ADMINS,
    ("POST", "/admin/messages/texts/{kind}/{lang}"): ADMINS,
    ("POST", "/admin/messages/texts/{kind}/{lang}/reset"): ADMINS,
    ("GET", "/admin/audit"): ADMINS,
}

# Live streams answer for as long as they are open: the callers they allow are not asked here
# (the streams have tests of their own); the callers they refuse are.
STREAMS = {("GET", "/admin/events")}

# What goes into an address, by path parameter ("$name": a value of the world below). Where a
# route needs another value for a parameter, `FILLS` says so.
DEFAULT_FILL = {
    "lang": "en",
    "medium": "whatsapp",
    "kind": "booking_confirmed",
    "token": "$made_up",
    "status_code": "$made_up",
    "code": "$booking",
    "clinic_id": "$clinic_id",
    "ticket_id": "$ticket_id",
    "doctor_id": "$spare_doctor",
    "schedule_id": "$spare_schedule",
    "exception_id": "$spare_exception",
    "link_id": "$spare_link",
    "user_id": "$spare_user",
    "message_id": "$message_id",
    "action": "cancel",
}
FILLS: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/t/{code}"): {"code": "$made_up"},
    ("GET", "/t/{code}/events"): {"code": "$made_up"},
    ("POST", "/appointments/{code}/cancel"): {"code": "$to_cancel"},
    ("POST", "/appointments/{code}/reschedule"): {"code": "$to_move"},
    ("POST", "/doctor/{clinic_id}/tickets/{ticket_id}/{action}"): {"ticket_id": "$other_ticket"},
    ("POST", "/admin/users/{user_id}/{action}"): {"action": "disable"},
}
HOURS = {"open": "on", "opens": "00:00", "closes": "23:59"}  # a clinic's day, all of it
ALL_WEEK = {f"{name}_{day}": v for day in range(7) for name, v in HOURS.items()}
# Forms that would change something if the rule let them through (the CSRF secret is added).
FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/login"): {"username": "nobody", "password": "not-the-password"},
    ("POST", "/book"): {"slot": "$free_slot"},
    ("POST", "/walk-in"): {"clinic": "$clinic_id"},
    ("POST", "/my/messages"): {"email": "someone@example.com", "language": "en"},
    ("POST", "/my/messages/{medium}"): {"out": "1"},
    ("POST", "/appointments/{code}/cancel"): {"reason": "Berhalangan hadir"},
    ("POST", "/appointments/{code}/reschedule"): {"slot": "$move_slot"},
    ("POST", "/account/two-step/confirm"): {"code": "000000"},
    ("POST", "/account/two-step/off"): {"password": "not-the-password", "code": "000000"},
    ("POST", "/doctor/{clinic_id}/call-next"): {"counter": "Ruang 1"},
    ("POST", "/console/{clinic_id}/call-next"): {"counter": "Loket 1"},
    ("POST", "/console/{clinic_id}/check-in"): {"code": "$booking"},
    ("POST", "/console/{clinic_id}/walk-in"): {"name": "Pasien Baru", "birth_date": "1980-01-01"},
    ("POST", "/kiosk/{token}/take/{clinic_id}"): {"name": "Tamu", "birth_date": "1980-01-01"},
    ("POST", "/kiosk/{token}/check-in"): {"code": "$booking"},
    ("POST", "/admin/settings"): {"name": "Klinik Diganti"},
    ("POST", "/admin/devices"): {
        "kind": "display",
        "name": "Layar baru",
        "clinic_ids": "$clinic_id",
    },
    ("POST", "/admin/clinics"): {"code": "BARU", "name": "Poli Baru", "queue_prefix": "B"},
    ("POST", "/admin/clinics/{clinic_id}"): {
        "name": "Poli Umum Baru",
        "queue_prefix": "A",
        "is_open": "on",
        **ALL_WEEK,
    },
    ("POST", "/admin/clinics/{clinic_id}/counters"): {"counter": "Ruang 9"},
    ("POST", "/admin/services"): {
        "clinic_id": "$clinic_id",
        "name": "Cek gula darah",
        "duration_minutes": "10",
    },
    ("POST", "/admin/doctors"): {"name": "dr. Baru"},
    ("POST", "/admin/doctors/{doctor_id}"): {"name": "dr. Cadangan Dua", "active": "on"},
    ("POST", "/admin/doctors/{doctor_id}/schedules"): {
        "clinic_id": "$clinic_id",
        "weekday": "5",
        "start": "13:00",
        "end": "14:00",
        "slot_minutes": "30",
        "capacity": "1",
    },
    ("POST", "/admin/doctors/{doctor_id}/exceptions"): {
        "kind": "leave",
        "date_from": "2027-03-01",
        "step": "save",
    },
    ("POST", "/admin/users"): {
        "username": "baru",
        "password": "staff-password-1",
        "roles": "operator",
    },
    ("POST", "/admin/messages/texts/{kind}/{lang}"): {"subject": "Diganti", "body": "Diganti"},
}


# --- the routes --------------------------------------------------------------------------------


WEB = "antrean.adapters.web"


def _is_page(path: str, route: Any) -> bool:
    """A page of the web adapter: a `WebRoute`, or any route whose endpoint the adapter
    defines, but the static assets."""
    module = getattr(getattr(route, "endpoint", None), "__module__", "") or ""
    ours = isinstance(route, WebRoute) or module == WEB or module.startswith(WEB + ".")
    return ours and not path.startswith(ASSETS)


def web_pages(routes: Any) -> set[tuple[str, str]]:
    return routes_where(routes, _is_page)


ADAPTER_PAGES = web_pages(r for module in ROUTERS for r in module.router.routes)


def expected(method: str, path: str, who: str) -> str | None:
    """What this caller gets: None when the rule lets them through, else the refusal."""
    rule = PAGES[method, path]
    if rule.keyed:
        return NOT_FOUND
    if method == "POST" and who in ENDED:
        return STALE_FORM
    if who in rule.allowed:
        return None
    return LOGIN if who in SIGNED_OUT else rule.refused


def _cells() -> list[Any]:
    cells = []
    for method, path in sorted(ADAPTER_PAGES | PAGES.keys(), key=lambda k: (k[1], k[0])):
        if (method, path) not in PAGES or (method, path) not in ADAPTER_PAGES:
            cells.append(pytest.param(method, path, None, id=f"{method}:{path}"))
            continue
        # Per page, the callers it refuses go first: each meets the page's things as they
        # were made, before an allowed caller's form changes them.
        order = sorted(CALLERS, key=lambda who: expected(method, path, who) is None)
        for who in order:
            if (method, path) in STREAMS and expected(method, path, who) is None:
                continue
            cells.append(pytest.param(method, path, who, id=f"{method}:{path}:{who}"))
    return cells


# --- the world ---------------------------------------------------------------------------------


@dataclass
class Session:
    cookie: str | None  # the session cookie as the browser holds it (None: no cookie yet)
    csrf: str  # the secret the forms of its pages carry


@dataclass
class World:
    api: Api
    engine: Engine
    sessions: dict[str, Session]
    spare_sessions: dict[str, Session]  # signed out by the cells of POST /logout
    values: dict[str, str]
    last: dict[str, list[Any]] | None = None  # the tables as the last refused cell left them

    def snapshot(self) -> dict[str, list[str]]:
        return stored_rows(self.engine, leave_out=frozenset({"sign_in_throttle"}))


def _web_session(api: Api, username: str, password: str) -> Session:
    user = WebUser(TestClient(api.client.app, client=LOCAL_CLIENT))
    user.sign_in(username, password)
    return Session(user.client.cookies.get(SESSION_COOKIE), user.csrf())


def _anonymous_session(api: Api) -> Session:
    user = WebUser(TestClient(api.client.app, client=LOCAL_CLIENT))
    user.get("/login")
    return Session(user.client.cookies.get(SESSION_COOKIE), user.csrf())


def _book(api: Api, headers: dict[str, str], slot_id: int) -> str:
    r = api.client.post("/api/v1/appointments", headers=headers, json={"slot_id": slot_id})
    assert r.status_code == 201, r.text
    code: str = r.json()["code"]
    return code


def _build(api: Api, engine: Engine) -> World:
    c = api.container
    admin = api.staff("boss", "admin")
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(12), slot_minutes=30, capacity=2
    )
    catalog.add_counter(c.uow(), actor=c.system(), clinic_id=clinic_id, name="Loket 1")
    api.staff("ani", "operator")
    api.staff("drandi", "doctor")
    patient = api.patient("siti", "081211112222")
    api.patient("budi", "081233334444")

    # The patient's bookings: one to look at (today, so the desk can check it in), one to
    # cancel, one to move; and free places to book and to move to.
    today = c.clock.now().astimezone(c.policy.time_zone).date()
    slots = api.client.get(
        "/api/v1/slots",
        params={"date_from": str(today), "date_to": str(today + timedelta(days=4))},
    ).json()

    def slot(day: date, at: str) -> int:
        zone = c.policy.time_zone
        found = [
            s
            for s in slots
            if s["day"] == str(day)
            and datetime.fromisoformat(s["start_at"]).astimezone(zone).strftime("%H:%M") == at
        ]
        assert found, (day, at)
        return int(found[0]["id"])

    values = {
        "made_up": "NoSuchToken0123456789",
        "clinic_id": str(clinic_id),
        "booking": _book(api, patient, slot(today, "10:30")),
        "to_cancel": _book(api, patient, slot(today + timedelta(days=1), "08:00")),
        "to_move": _book(api, patient, slot(today + timedelta(days=2), "08:00")),
        "move_slot": str(slot(today + timedelta(days=2), "08:30")),
        "free_slot": str(slot(today + timedelta(days=3), "08:00")),
    }
    # Two waiting tickets, one for each desk's ticket actions.
    for name in ("ticket_id", "other_ticket"):
        issued = queue.issue_walk_in(
            c.uow(),
            actor=c.system(),
            policy=c.policy,
            phones=c.phones,
            walk_in=WalkInDraft(clinic_id=clinic_id, name="Tamu", birth_date=date(1980, 1, 1)),
        )
        values[name] = str(issued.ticket.id)
    # Spare things for the admin's forms to change: a doctor with a schedule and a leave, an
    # account, a display link.
    spare = catalog.create_doctor(c.uow(), actor=c.system(), draft=DoctorDraft("dr. Cadangan"))
    schedule, _ = scheduling.save_schedule(
        c.uow(),
        actor=c.system(),
        policy=c.policy,
        schedule=Schedule(0, spare.id, clinic_id, 6, time(13), time(14), 30, 1),
    )
    leave, _ = scheduling.add_exception(
        c.uow(),
        actor=c.system(),
        policy=c.policy,
        exception=ScheduleException(
            id=0,
            kind=ExceptionKind.LEAVE,
            date_from=date(2027, 2, 1),
            date_to=date(2027, 2, 2),
            doctor_id=spare.id,
        ),
    )
    link = devices.create_device_link(
        c.uow(),
        actor=c.system(),
        draft=DeviceLinkDraft(
            kind=DeviceKind.DISPLAY, name="Ruang tunggu", clinic_ids=(clinic_id,)
        ),
    )
    api.staff("cadangan", "operator")
    for name in ("gone", "old"):  # admins: for the sessions that end, nothing is left to open
        api.staff(name, "admin")
    users = api.client.get("/api/v1/auth/users?size=200", headers=admin).json()["items"]
    ids = {u["username"]: u["id"] for u in users}
    with engine.connect() as conn:  # the booking's confirmation, waiting to be sent
        message = conn.execute(text("SELECT min(id) FROM outbox_message")).scalar()
    values |= {
        "spare_doctor": str(spare.id),
        "spare_schedule": str(schedule.id),
        "spare_exception": str(leave.id),
        "spare_link": str(link.link.id),
        "spare_user": str(ids["cadangan"]),
        "message_id": str(message or 999_999),
    }

    # A browser session for each caller, and a second one for those that sign out.
    accounts = {
        PATIENT: ("siti", "patient-password-1"),
        OTHER_PATIENT: ("budi", "patient-password-1"),
        OPERATOR: ("ani", "staff-password-1"),
        DOCTOR: ("drandi", "staff-password-1"),
        ADMIN: ("boss", "staff-password-1"),
    }
    sessions = {who: _web_session(api, *account) for who, account in accounts.items()}
    spare_sessions = {who: _web_session(api, *account) for who, account in accounts.items()}
    sessions[ANONYMOUS] = spare_sessions[ANONYMOUS] = _anonymous_session(api)
    # Signed in, then the account disabled by an admin.
    sessions[DISABLED] = _web_session(api, "gone", "staff-password-1")
    r = api.client.patch(f"/api/v1/auth/users/{ids['gone']}", headers=admin, json={"active": False})
    assert r.status_code == 200, r.text
    # Signed in, then signed out: the browser still sends the cookie it had.
    sessions[REVOKED] = old = _web_session(api, "old", "staff-password-1")
    r = _send(api.client, old, "POST", "/logout", {})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text[:300]
    for who in ENDED:
        spare_sessions[who] = sessions[who]
        assert _send(api.client, sessions[who], "GET", "/console", {}).status_code == 303
    return World(api, engine, sessions, spare_sessions, values)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One database, app and set of callers per database kind, shared by every cell: each
    refused cell checks that it changed nothing, and an allowed cell's change is to things
    no later cell needs unchanged (the spare ones, or the booking's own page)."""
    directory = tmp_path_factory.mktemp("web-matrix")
    with (
        database_of_its_own(request, request.param, directory) as url,
        serving(url, directory / "data") as api,
    ):
        engine = create_engine(url)
        try:
            yield _build(api, engine)
        finally:
            engine.dispose()


# --- one request -------------------------------------------------------------------------------


def _send(
    client: TestClient, session: Session, method: str, path: str, form: dict[str, str]
) -> Response:
    """The request as the caller's browser sends it: its own cookie and nothing else (a
    cookie the answer sets is not kept, so a caller stays the same caller), in English."""
    client.cookies.clear()
    if session.cookie is not None:
        client.cookies.set(SESSION_COOKIE, session.cookie)
    client.cookies.set(LANG_COOKIE, "en")
    try:
        if method == "GET":
            answer: Response = client.get(path, follow_redirects=False)
        else:
            body = {CSRF_FIELD: session.csrf, **form}
            answer = client.request(method, path, data=body, follow_redirects=False)
        return answer
    finally:
        client.cookies.clear()


def _resolve(value: str, values: dict[str, str]) -> str:
    return values[value[1:]] if value.startswith("$") else value


def _address(method: str, path: str, values: dict[str, str]) -> str:
    fill = DEFAULT_FILL | FILLS.get((method, path), {})

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in fill, f"no value for {{{name}}} in {method} {path}: add it to the fills"
        return _resolve(fill[name], values)

    return re.sub(r"\{([a-z_]+)\}", one, path)


def outcome(r: Response, who: str) -> str:
    """The answer, in the words of the table."""
    location = r.headers.get("location", "")
    if r.status_code == 303 and location.startswith("/login?next="):
        return LOGIN
    if r.status_code == 303 and location == HOMES.get(who):
        return HOME
    if r.status_code == 403 and "This page is for another account or role." in r.text:
        return FORBIDDEN
    if r.status_code == 403 and "This form has expired" in r.text:
        return STALE_FORM
    if r.status_code == 404:
        return NOT_FOUND
    if r.status_code == 409 and "You are not allowed to do this." in r.text:
        return REFUSED_ON_PAGE
    return f"{r.status_code} {location}".strip()


def _ask(world: World, who: str, method: str, path: str) -> tuple[Response, str, str]:
    """The caller asks for the page (with its form): the answer, in the words of the table,
    and a line saying who asked what. Never a 500."""
    sessions = world.spare_sessions if (method, path) == ("POST", "/logout") else world.sessions
    form = {k: _resolve(v, world.values) for k, v in FORMS.get((method, path), {}).items()}
    address = _address(method, path, world.values)
    r = _send(world.api.client, sessions[who], method, address, form)
    got = outcome(r, who)
    where = f"{who}: {method} {address} answered {r.status_code} ({got})"
    assert r.status_code < 500, f"{where}\n{r.text[:500]}"
    return r, got, where


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "who"), _cells())
def test_each_page_answers_each_caller_by_its_rule(
    world: World, method: str, path: str, who: str | None
) -> None:
    declared, exists = (method, path) in PAGES, (method, path) in ADAPTER_PAGES
    assert declared, f"{method} {path} has no rule: add a line for it to PAGES"
    assert exists, f"{method} {path} is in PAGES but the app has no such page: remove the line"
    assert who is not None
    want = expected(method, path, who)
    if want is None:
        world.last = None  # an allowed caller may change things: the next refused one looks again
        r, got, where = _ask(world, who, method, path)
        refusals = (LOGIN, PAGES[method, path].refused)
        assert r.status_code != 403 and got not in refusals, f"{where}, but the rule lets them in"
        return
    before = world.last if world.last is not None else world.snapshot()
    r, got, where = _ask(world, who, method, path)
    world.last = after = world.snapshot()
    changed = sorted(name for name in after if after[name] != before[name])
    assert got == want, f"{where}; the rule refuses them with: {want} (tables changed: {changed})"
    assert not changed, f"{where}, refused, yet these tables changed: {changed}"


def test_the_table_names_exactly_the_apps_pages(world: World) -> None:
    """Read from the running app: a page added anywhere (not only in the adapter's routers)
    without a line in the table is caught, and so is a line for a page that is gone."""
    app: Any = world.api.client.app
    pages = web_pages(app.routes)
    assert len(pages) > 80
    missing, gone = undeclared(pages, PAGES)
    assert not missing, f"pages without a rule (add them to PAGES): {missing}"
    assert not gone, f"rules for pages the app does not have (remove them): {gone}"


def test_a_new_page_without_a_rule_is_caught(world: World) -> None:
    app = create_app(world.api.container)

    async def forgotten() -> dict[str, str]:  # no rule anywhere
        return {"patients": "all of them"}

    app.router.routes.append(WebRoute("/forgotten", forgotten))
    missing, gone = undeclared(web_pages(app.routes), PAGES)
    assert missing == ["GET /forgotten"] and not gone

"""Every page route, read from the app itself, answered with hostile input in its path, its
query and its form, signed out and signed in as each role: never a server error, and a form
without the session's token changes nothing."""

from __future__ import annotations

import re
from itertools import product

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from antrean.adapters import web
from antrean.adapters.web.core import WebRoute
from antrean.http import create_app
from tests.integration.conftest import Api
from tests.integration.web_client import WebUser

HOSTILE = [
    "",
    "0",
    "-1",
    "99999999999999999999999",
    "9223372036854775808",
    "1.5",
    "x" * 5000,
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00",
    "２０２６-１１-２６",
    "2026-02-30",
    "9999-12-31",
    "now",
    "any",
    "-start",
    "🙂" * 50,
]
PATH_VALUES = ["0", "-1", "99999999999999999999999", "x" * 300, "%00", "..", "🙂", "1"]
FIELDS = [
    "name", "birth_date", "sex", "phone", "username", "password", "next", "clinic", "service",
    "doctor", "day", "slot", "note", "idem", "reason", "code", "counter", "to_clinic", "q",
    "mrn", "priority", "priority_reason", "kind", "clinic_ids", "printer", "sound", "address",
    "queue_prefix", "is_open", "open_0", "opens_0", "closes_0", "duration_minutes",
    "service_id", "clinic_id", "active", "specialty", "weekday", "start", "end",
    "slot_minutes", "capacity", "date_from", "date_to", "step", "roles", "doctor_id",
    "full_name", "new_password", "remove",
]  # fmt: skip
QUERY = ["clinic", "service", "doctor", "day", "slot", "start", "code", "q", "from", "to",
         "status", "order", "page", "size", "counter", "next", "v", "t", "new"]  # fmt: skip


def _page_routes() -> list[APIRoute]:
    """The page routes as the web adapter declares them (mounted without a prefix)."""
    found = [r for module in web.ROUTERS for r in module.router.routes]
    assert all(isinstance(r, WebRoute) for r in found)
    return found


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _visitors(api: Api) -> dict[str, WebUser]:
    api.staff("boss", "admin")
    api.staff("ani", "operator")
    api.staff("drandi", "doctor")
    visitors = {"anonymous": WebUser(TestClient(create_app(api.container)))}
    for role, name in (("admin", "boss"), ("operator", "ani"), ("doctor", "drandi")):
        user = WebUser(TestClient(create_app(api.container)))
        user.sign_in(name, "staff-password-1")
        visitors[role] = user
    return visitors


@pytest.mark.slow
def test_no_page_answers_hostile_input_with_a_server_error(api: Api, clinic_setup):
    routes = _page_routes()
    assert len(routes) > 40, [r.path for r in routes]
    failures = []
    # The admin may open every page, so every value reaches every page's handling as the
    # admin; the other visitors, whom most pages refuse or send away, each take a third.
    third = {"anonymous": 0, "operator": 1, "doctor": 2}
    for role, user in _visitors(api).items():
        user.get("/signup")
        token = user.csrf()
        values = [(n, v) for n, v in enumerate(HOSTILE) if n % 3 == third.get(role, n % 3)]
        for route, (n, value) in product(routes, values):
            path = _fill(route.path, PATH_VALUES[n % len(PATH_VALUES)])
            query = {QUERY[(n + k) % len(QUERY)]: value for k in range(3)}
            for method in route.methods:
                if method == "GET":
                    r = user.client.get(path, params=query, follow_redirects=False)
                else:
                    form = {f: value for f in FIELDS[n % 7 :: 7]}
                    form["csrf_token"] = token
                    r = user.client.post(path, data=form, follow_redirects=False)
                if r.status_code >= 500:
                    failures.append((role, method, path, value[:20], r.status_code))
            if n == 0 and "GET" in route.methods:  # bytes that are not UTF-8 at all
                raw = path + "?q=%ff%fe&clinic=%c0%af&day=%ed%a0%80&next=%e2%80"
                r = user.client.get(raw, follow_redirects=False)
                if r.status_code >= 500:
                    failures.append((role, "GET", raw, "", r.status_code))
    assert not failures, failures[:20]


def test_a_form_without_the_session_token_changes_nothing(api: Api, clinic_setup):
    visitors = _visitors(api)
    admin = visitors["admin"]
    before = admin.get("/admin/clinics").text
    for route in _page_routes():
        if "POST" not in route.methods:
            continue
        path = _fill(route.path, str(clinic_setup["clinic_id"]))
        for token in (None, "forged", admin.csrf() + "x"):
            form = {"name": "Diubah", "code": "NEW", "queue_prefix": "Z", "username": "evil"}
            if token is not None:
                form["csrf_token"] = token
            r = admin.client.post(path, data=form, follow_redirects=False)
            # Refused before any use case: 403, or 404 where the address itself names
            # nothing (a kiosk's link) and is checked first.
            assert r.status_code in (403, 404), (path, token, r.status_code)
    assert admin.get("/admin/clinics").text == before

"""Every REST endpoint times every kind of caller: the rule of each endpoint is read from the
routes themselves (the role dependency it declares), so an endpoint added without a rule fails
here. Callers the rule refuses get 401 or 403 and change nothing; callers it allows are not
refused (they may still get 404 or 422 for the made-up ids and bodies sent)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from antrean.adapters.rest import deps
from antrean.domain.queue import WalkInDraft
from antrean.http import create_app
from antrean.services.queue import issue_walk_in
from tests.integration.conftest import LOCAL_CLIENT, Api, stored_rows
from tests.integration.routes import all_routes, routes_where

ANONYMOUS, PATIENT, OTHER_PATIENT = "anonymous", "patient", "other patient"
OPERATOR, DOCTOR, ADMIN = "operator", "doctor", "admin"
DISABLED, EXPIRED = "disabled account", "expired token"
SIGNED_IN = {PATIENT, OTHER_PATIENT, OPERATOR, DOCTOR, ADMIN}
EVERYONE = SIGNED_IN | {ANONYMOUS}
CALLERS = [ANONYMOUS, PATIENT, OTHER_PATIENT, OPERATOR, DOCTOR, ADMIN, DISABLED, EXPIRED]

# The role dependencies, and who each lets through (admins always).
RULES = {
    deps.admin: {ADMIN},
    deps.front_desk: {OPERATOR, ADMIN},
    deps.staff: {OPERATOR, DOCTOR, ADMIN},
    deps.current_actor: SIGNED_IN,
    deps.patient: {PATIENT, OTHER_PATIENT},  # their own account only; admins have none
    deps.caller: EVERYONE,  # anyone; what a patient may see is the use case's to decide
}
# Endpoints open to anyone without reading a caller at all: signing in, up and out; a ticket's
# status, whose unguessable status code is the key; a clinic's queue as its TV board shows it.
NO_CALLER = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/queue/status/{status_code}"),
    ("GET", "/api/v1/queue/status/{status_code}/events"),
    ("GET", "/api/v1/clinics/{clinic_id}/events"),
}


def _rule(route: APIRoute) -> set[str] | None:
    found: list[set[str]] = []

    def walk(dependant) -> None:  # type: ignore[no-untyped-def]
        for sub in dependant.dependencies:
            if sub.call in RULES:
                found.append(RULES[sub.call])
            walk(sub)

    walk(route.dependant)
    if not found:
        return None
    allowed = set(EVERYONE)
    for rule in found:
        allowed &= rule
    return allowed


def _api_routes(routes) -> Iterator[tuple[str, APIRoute]]:  # type: ignore[no-untyped-def]
    """Every API route with its full path, those of included routers too."""
    return ((path, route) for path, route in all_routes(routes) if isinstance(route, APIRoute))


def _endpoints(app) -> list[tuple[str, str, set[str]]]:  # type: ignore[no-untyped-def]
    endpoints, missing = [], []
    for path, route in _api_routes(app.routes):
        if not path.startswith("/api/v1"):
            continue
        for method in sorted(route.methods - {"HEAD"}):
            rule = _rule(route)
            if rule is None:
                if (method, path) not in NO_CALLER:
                    missing.append(f"{method} {path}")
                rule = set(CALLERS)  # reads no token: every caller is just someone
            endpoints.append((method, path, rule))
    assert not missing, f"endpoints without a rule (add a role dependency): {missing}"
    return endpoints


def _snapshot(db_url: str) -> dict[str, list[str]]:
    return stored_rows(db_url, leave_out=frozenset({"sign_in_throttle"}))


@pytest.fixture
def callers(api: Api, clinic_setup) -> dict[str, dict[str, str]]:
    admin = api.staff("boss", "admin")
    headers = {
        ANONYMOUS: {},
        OPERATOR: api.staff("ani", "operator"),
        DOCTOR: api.staff("drandi", "doctor"),
        ADMIN: admin,
    }
    headers[PATIENT] = api.patient("siti", "081211112222")
    headers[OTHER_PATIENT] = api.patient("budi", "081233334444")
    gone = api.staff("gone", "operator")
    users = api.client.get("/api/v1/auth/users?size=200", headers=admin).json()["items"]
    gone_id = next(u["id"] for u in users if u["username"] == "gone")
    r = api.client.patch(f"/api/v1/auth/users/{gone_id}", headers=admin, json={"active": False})
    assert r.status_code == 200
    headers[DISABLED] = gone  # its access token has not run out: the account is what changed
    old = api.staff("old", "admin")
    headers[EXPIRED] = old
    # Something of the patient's own to ask for: their record and a booking.
    me = api.client.get("/api/v1/auth/me", headers=headers[PATIENT]).json()
    start = api.container.clock.now().date() + timedelta(days=1)
    slots = api.client.get(
        "/api/v1/slots",
        params={"date_from": str(start), "date_to": str(start + timedelta(days=7))},
    ).json()
    free = next(x for x in slots if x["available"] > 0)
    booked = api.client.post(
        "/api/v1/appointments", headers=headers[PATIENT], json={"slot_id": free["id"]}
    )
    assert booked.status_code == 201, booked.text
    headers["own"] = {"patient_id": me["patient_id"], "code": booked.json()["code"]}
    return headers


def _call(client: TestClient, method: str, path: str, headers: dict[str, str], own: dict):
    filled = (
        path.replace("{code}", own["code"])
        .replace("{patient_id}", str(own["patient_id"]))
        .replace("{status_code}", "nothing-here")
        .replace("{action}", "call")
        .replace("{name}", "Loket%201")
        .replace("{kind}", "booking_confirmed")
        .replace("{lang}", "id")
        .replace("{medium}", "whatsapp")
    )
    filled = re.sub(r"\{[a-z_]*id\}", "1", filled)  # every id: 1
    assert "{" not in filled, f"fill in {path}"
    if method == "GET":
        query = {"date_from": str(date(2026, 11, 30)), "day": "2026-11-30"}
        return client.get(filled, headers=headers, params=query)
    return client.request(method, filled, headers=headers, json={})


def test_every_endpoint_allows_exactly_its_callers(api: Api, callers, db_url):
    endpoints = _endpoints(api.client.app)
    assert len(endpoints) > 60
    clock = api.container.clock
    client = TestClient(api.client.app, client=LOCAL_CLIENT)  # the fixture's app and lifespan
    refused_wrongly, let_through = [], []
    for method, path, allowed in endpoints:
        if PATIENT in allowed and ("{patient_id}" in path or "{code}" in path):
            allowed = allowed - {OTHER_PATIENT}  # the patient's own record: not another's
        for who in CALLERS:
            headers = callers[who]
            if path.endswith("/events") and who in allowed:
                continue  # a live stream: answered for as long as it is open (test_live_events)
            if who == EXPIRED:
                clock.advance(timedelta(minutes=20))  # past its 15 minutes
            try:
                before = _snapshot(db_url) if who not in allowed else None
                r = _call(client, method, path, headers, callers["own"])
            finally:
                if who == EXPIRED:
                    clock.advance(timedelta(minutes=-20))
            if who in allowed:
                if r.status_code in (401, 403):
                    refused_wrongly.append((who, method, path, r.status_code, r.text[:120]))
            else:
                expected = (401,) if who in (ANONYMOUS, DISABLED, EXPIRED) else (401, 403)
                if who == OTHER_PATIENT and PATIENT in allowed:
                    # Another's record: refused, or not even found (codes cannot be probed), or
                    # the made-up body refused before the record is looked at.
                    expected = (403, 404, 422)
                if r.status_code not in expected:
                    let_through.append((who, method, path, r.status_code, r.text[:120]))
                assert _snapshot(db_url) == before, (who, method, path)
            assert r.status_code < 500, (who, method, path, r.text[:300])
    assert not let_through, let_through[:20]
    assert not refused_wrongly, [x[:4] for x in refused_wrongly]


def test_a_new_endpoint_without_a_rule_is_caught(api: Api):
    app = create_app(api.container)

    @app.get("/api/v1/forgotten")
    async def forgotten() -> dict[str, str]:  # no role dependency at all
        return {"patients": "all of them"}

    with pytest.raises(AssertionError, match="/api/v1/forgotten"):
        _endpoints(app)


# FHIR interactions (adapters/fhir): each route's rule, declared here and checked against the
# router both ways. Every one served so far is a public read, as in the REST API: anyone may
# call it, and a token that is no longer good (a disabled account, an expired token) is
# refused with 401 rather than read as anonymous. The CapabilityStatement reads no caller at
# all: a client asks for it before it has a token.
FHIR_RULES = {
    ("GET", "/fhir/R4/metadata"): set(CALLERS),
    **{
        ("GET", f"/fhir/R4/{kind}"): EVERYONE
        for kind in (
            "Organization", "Location", "HealthcareService", "Practitioner",
            "PractitionerRole", "Schedule", "Slot",
        )
    },
    # A patient's record: staff, or the patient themself; searching records is staff's.
    ("GET", "/fhir/R4/Patient/{rid}"): {PATIENT, OPERATOR, DOCTOR, ADMIN},
    ("GET", "/fhir/R4/Patient"): {OPERATOR, DOCTOR, ADMIN},
    # A visit (queue ticket): staff, or the patient it is for; a patient's search finds only
    # their own, so any signed-in caller may search.
    ("GET", "/fhir/R4/Encounter/{rid}"): {PATIENT, OPERATOR, DOCTOR, ADMIN},
    ("GET", "/fhir/R4/Encounter"): SIGNED_IN,
    # Appointments: the patient's own, or staff's (an admin may do what any role may);
    # proposing appointments from free slots is as public as the slots are.
    ("GET", "/fhir/R4/Appointment/{rid}"): {PATIENT, OPERATOR, DOCTOR, ADMIN},
    ("GET", "/fhir/R4/Appointment/{rid}/_history/{vid}"): {PATIENT, OPERATOR, DOCTOR, ADMIN},
    ("GET", "/fhir/R4/Appointment"): SIGNED_IN,
    ("PUT", "/fhir/R4/Appointment/{rid}"): {PATIENT, OPERATOR, DOCTOR, ADMIN},
    ("PATCH", "/fhir/R4/Appointment/{rid}"): {PATIENT, OPERATOR, DOCTOR, ADMIN},
    ("POST", "/fhir/R4/Appointment"): SIGNED_IN,
    ("POST", "/fhir/R4/Appointment/$hold"): SIGNED_IN,
    ("POST", "/fhir/R4/Appointment/$book"): SIGNED_IN,
    ("GET", "/fhir/R4/Appointment/$find"): EVERYONE,
    ("POST", "/fhir/R4/Appointment/$find"): EVERYONE,
    **{
        ("GET", f"/fhir/R4/{kind}/{{rid}}"): EVERYONE
        for kind in (
            "Organization", "Location", "HealthcareService", "Practitioner",
            "PractitionerRole", "Schedule", "Slot",
        )
    },
}  # fmt: skip
CATCH_ALL = "/fhir/R4/{rest:path}"
# Interactions where another patient's record answers as if it did not exist (404), not 403.
HIDDEN_FROM_OTHERS = {
    ("GET", "/fhir/R4/Encounter/{rid}"),
    ("GET", "/fhir/R4/Appointment/{rid}"),
    ("GET", "/fhir/R4/Appointment/{rid}/_history/{vid}"),
    ("PUT", "/fhir/R4/Appointment/{rid}"),
    ("PATCH", "/fhir/R4/Appointment/{rid}"),
}
# What a write sends: a body that passes the access check and then asks for nothing that
# changes the world (a slot that does not exist, the appointment as it is). A caller it
# allows gets an answer about the body, never 401 or 403.
NOT_REFUSED = "not refused"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _write(method: str, path: str, appointment: dict) -> tuple[dict, dict] | None:
    nowhere = {
        "name": "appointment-reference",
        "valueReference": {"reference": "Appointment/slot-999999"},
    }
    bodies = {
        ("POST", "/fhir/R4/Appointment"): (
            {
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{"reference": "Slot/999999"}],
            },
            FHIR_JSON,
        ),
        ("PUT", "/fhir/R4/Appointment/{rid}"): (appointment, FHIR_JSON),
        ("PATCH", "/fhir/R4/Appointment/{rid}"): (
            [{"op": "test", "path": "/status", "value": "booked"}],
            {"Content-Type": "application/json-patch+json"},
        ),
        ("POST", "/fhir/R4/Appointment/$hold"): (
            {"resourceType": "Parameters", "parameter": [nowhere]},
            FHIR_JSON,
        ),
        ("POST", "/fhir/R4/Appointment/$book"): (
            {"resourceType": "Parameters", "parameter": [nowhere]},
            FHIR_JSON,
        ),
        ("POST", "/fhir/R4/Appointment/$find"): ({"resourceType": "Parameters"}, FHIR_JSON),
    }
    return bodies.get((method, path))


def _fhir_routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return routes_where(
        app.routes,
        lambda path, route: (
            isinstance(route, APIRoute) and path.startswith("/fhir/") and path != CATCH_ALL
        ),
    )


def test_every_fhir_interaction_allows_exactly_its_callers(api: Api, callers, clinic_setup):
    served = _fhir_routes(api.client.app)
    assert served == set(FHIR_RULES), served ^ set(FHIR_RULES)
    ids = {
        "Organization": "1",
        "Location": str(clinic_setup["clinic_id"]),
        "HealthcareService": str(clinic_setup["service_id"]),
        "Practitioner": str(clinic_setup["doctor_id"]),
        "PractitionerRole": str(clinic_setup["doctor_id"]),
        "Schedule": f"{clinic_setup['doctor_id']}-{clinic_setup['clinic_id']}",
        "Patient": str(callers["own"]["patient_id"]),
        "Encounter": _own_visit(api, callers[PATIENT], clinic_setup["clinic_id"]),
    }
    own = api.client.get(
        "/fhir/R4/Appointment",
        params={"identifier": callers["own"]["code"]},
        headers=callers[PATIENT],
    ).json()["entry"][0]["resource"]
    ids["Appointment"] = own["id"]
    ids["Slot"] = own["slot"][0]["reference"].split("/")[1]
    clock = api.container.clock
    client = TestClient(api.client.app, client=LOCAL_CLIENT)
    wrong = []
    for (method, path), allowed in sorted(FHIR_RULES.items()):
        kind = path.split("/")[3]
        filled = path.replace("{rid}", ids.get(kind, "")).replace("{vid}", own["meta"]["versionId"])
        body, media = _write(method, path, own) or (None, {})
        for who in CALLERS:
            if who == EXPIRED:
                clock.advance(timedelta(minutes=20))
            try:
                r = client.request(method, filled, headers={**callers[who], **media}, json=body)
            finally:
                if who == EXPIRED:
                    clock.advance(timedelta(minutes=-20))
            assert r.headers["content-type"].startswith("application/fhir+json"), filled
            expected: int | str = 200 if who in allowed else 401
            if who in allowed and body is not None:
                expected = NOT_REFUSED
            if who not in allowed and who not in (ANONYMOUS, DISABLED, EXPIRED):
                expected = 403  # signed in, without the role (or another patient's record)
                if who == OTHER_PATIENT and (method, path) in HIDDEN_FROM_OTHERS:
                    expected = 404
            if expected == NOT_REFUSED and r.status_code not in (401, 403):
                expected = r.status_code
            if r.status_code != expected:
                wrong.append((who, method, filled, r.status_code, r.text[:120]))
            if r.status_code in (401, 403):
                assert r.json()["resourceType"] == "OperationOutcome"
    assert not wrong, wrong


def _own_visit(api: Api, patient: dict[str, str], clinic_id: int) -> str:
    """A queue ticket of the patient's own, issued on Monday morning (the clinic is shut on
    Sunday), as the id of its Encounter; the clock is then put back."""
    me = api.client.get("/api/v1/patients/me", headers=patient).json()
    c, clock = api.container, api.container.clock
    now = clock.now()
    clock.set(now + timedelta(days=1))
    try:
        issued = issue_walk_in(
            c.uow(),
            actor=c.system(),
            policy=c.policy,
            phones=c.phones,
            walk_in=WalkInDraft(clinic_id, me["name"], date(1990, 1, 1), mrn=me["mrn"]),
        )
    finally:
        clock.set(now)
    return str(issued.ticket.id)


def test_a_new_fhir_interaction_without_a_rule_is_caught(api: Api):
    app = create_app(api.container)
    app.add_api_route("/fhir/R4/Observation", lambda: {}, methods=["GET"])
    assert ("GET", "/fhir/R4/Observation") in _fhir_routes(app) - set(FHIR_RULES)

"""Hostile and malformed input, over REST and XML-RPC, on SQLite and PostgreSQL.

The contract: bad input never gets a 5xx and never reaches the database unchecked. Over REST it is
answered with 422 and an RFC 9457 problem (`application/problem+json` with `status`, `code`,
`detail`, `type` and `title`; schema errors carry `code: validation_error` and an `errors` list),
and the database is left exactly as it was. Over XML-RPC it is a fault with a client-error code.

Each table row is one case; its id names the endpoint, the field and the input. Where a route
rightly answers another 4xx (an id that fits in 64 bits but names nothing is 404), a control row
says so, so that a rejection can never pass for the wrong reason.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest

from tests.integration.conftest import (
    MONDAY,
    Api,
    database_of_its_own,
    open_clinic,
    serving,
    stored_rows,
)

API = "/api/v1"
PROBLEM = "application/problem+json"
INT64_MAX = 2**63 - 1
# 2^63 is one past the largest 64-bit id, -2^63-1 one below the smallest; the others far past.
ID_VALUES = {"2^63": 2**63, "2^64": 2**64, "10^30": 10**30, "-2^63-1": -(2**63) - 1}
FITS = "2^63-1 (fits)"
CONTROL_CHARS = [pytest.param("\x00", id="NUL"), pytest.param("\x1b", id="ESC")]
MON = MONDAY.isoformat()
ALL_DAY = [{"weekday": d, "opens": "00:00", "closes": "23:59:59.999999"} for d in range(7)]
_UNSET: Any = object()


# --- plumbing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    """One request, relative to /api/v1; sent with the admin's token unless `anonymous`."""

    method: str
    path: str
    json: Any = _UNSET
    params: dict[str, Any] | None = None
    content: bytes | None = None
    form: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    anonymous: bool = False


def send(api: Api, admin: dict[str, str], req: Req) -> Any:
    headers = {} if req.anonymous else dict(admin)
    headers.update(req.headers or {})
    kwargs: dict[str, Any] = {"headers": headers}
    if req.json is not _UNSET:
        kwargs["json"] = req.json
    if req.params is not None:
        kwargs["params"] = req.params
    if req.content is not None:
        kwargs["content"] = req.content
        headers.setdefault("content-type", "application/json")
    if req.form is not None:
        kwargs["data"] = req.form
    return api.client.request(req.method, API + req.path, **kwargs)


def assert_problem(r: Any, status: int = 422, code: str | None = None) -> dict[str, Any]:
    """`r` is an RFC 9457 problem with this status; returns its body."""
    where = f"{r.request.method} {r.request.url.path}"
    assert r.status_code == status, f"{where} -> {r.status_code}: {r.text[:600]}"
    media_type = r.headers.get("content-type", "").split(";")[0].strip()
    assert media_type == PROBLEM, f"{where} -> content-type {media_type!r}"
    body = r.json()
    assert body.get("status") == status, body
    for key in ("type", "title", "detail", "code"):
        assert isinstance(body.get(key), str) and body[key], f"{key} missing: {body}"
    if code is not None:
        assert body["code"] == code, body
    if body["code"] == "validation_error":
        assert isinstance(body.get("errors"), list) and body["errors"], body
    return body


def verdict(r: Any, status: int, code: str | None = None) -> str:
    """`str(status)` when `r` is a well-formed problem with this status (and code); otherwise
    what came back, so that a table of answers shows every case that went wrong at once."""
    media_type = r.headers.get("content-type", "").split(";")[0].strip()
    try:
        body = r.json()
    except ValueError:
        body = None
    got = body.get("code") if isinstance(body, dict) else None
    if r.status_code != status or media_type != PROBLEM or not isinstance(body, dict):
        return f"{r.status_code} {got or media_type or '-'}"
    if code is not None and got != code:
        return f"{status} {got}"
    keys_ok = all(isinstance(body.get(k), str) and body[k] for k in ("type", "title", "detail"))
    errors_ok = got != "validation_error" or bool(body.get("errors"))
    if body.get("status") != status or not got or not keys_ok or not errors_ok:
        return f"{status} malformed problem: {body}"
    return str(status)


def fits_verdict(r: Any, control: str) -> str:
    """The answer for the largest id that fits: a 404 problem, or an empty listing."""
    if control != "200 []":
        return verdict(r, int(control))
    found = r.json() if r.status_code == 200 else None
    items = found.get("items") if isinstance(found, dict) else found
    return "200 []" if items == [] else verdict(r, 200)


def id_answers(call: Callable[[int], Any], control: str) -> dict[str, str]:
    got = {label: verdict(call(value), 422) for label, value in ID_VALUES.items()}
    got[FITS] = fits_verdict(call(INT64_MAX), control)
    return got


def expected_id_answers(control: str) -> dict[str, str]:
    return {**dict.fromkeys(ID_VALUES, "422"), FITS: control}


def assert_answers(got: dict[str, str], want: dict[str, str]) -> None:
    """Every answer as wanted; the message lists each one that is not, whatever the verbosity."""
    wrong = [
        f"{key}: {got.get(key)} (want {value})"
        for key, value in want.items()
        if got.get(key) != value
    ]
    assert not wrong, "\n".join(wrong)


def error_fields(body: dict[str, Any]) -> set[str]:
    """Every name that appears in a location of the problem's field errors."""
    return {str(part) for e in body.get("errors", []) for part in e.get("loc", [])}


def db_rows(api: Api) -> dict[str, list[str]]:
    """Every row of every table, as text: two equal dumps mean nothing was written."""
    return stored_rows(api.container.db.engine.url.render_as_string(hide_password=False))


@contextmanager
def db_unchanged(api: Api) -> Iterator[None]:
    before = db_rows(api)
    yield
    after = db_rows(api)
    changed = sorted(name for name in before if before[name] != after[name])
    assert not changed, f"rows written to {changed} by a rejected request"


def _slot_body(w: World, **override: Any) -> dict[str, Any]:
    return {
        "doctor_id": w.doctor_id,
        "clinic_id": w.clinic_id,
        "weekday": 5,
        "start": "13:00",
        "end": "15:00",
        "slot_minutes": 30,
        "capacity": 1,
        **override,
    }


def _monday_schedule(w: World, **override: Any) -> dict[str, Any]:
    """The body that re-saves the Monday schedule as it is, with `override` applied."""
    monday = {"weekday": 0, "start": "08:00", "end": "12:00", "capacity": 2}
    return _slot_body(w, **{**monday, **override})


class World:
    """`clinic_setup` plus whatever a case needs, made on first use over the API itself."""

    def __init__(self, api: Api, admin: dict[str, str], setup: dict[str, int]) -> None:
        self.api = api
        self.admin = admin
        self.clinic_id = setup["clinic_id"]
        self.doctor_id = setup["doctor_id"]
        self.service_id = setup["service_id"]

    def ok(self, req: Req, status: int = 200) -> Any:
        r = send(self.api, self.admin, req)
        assert r.status_code == status, f"setup {req.method} {req.path}: {r.status_code} {r.text}"
        return r.json()

    @cached_property
    def patient_id(self) -> int:
        body = {"name": "Budi Santoso", "birth_date": "1980-02-03", "sex": "male"}
        return int(self.ok(Req("POST", "/patients", body), 201)["id"])

    def fresh_patient_id(self) -> int:
        """A new patient, for a case whose control changes what it touches."""
        body = {"name": "Ani Lestari", "birth_date": "1990-04-05", "sex": "female"}
        return int(self.ok(Req("POST", "/patients", body), 201)["id"])

    def fresh_appointment_code(self) -> str:
        body = {"slot_id": self.slot_ids[2], "patient_id": self.fresh_patient_id()}
        return str(self.ok(Req("POST", "/appointments", body), 201)["code"])

    @cached_property
    def slot_ids(self) -> list[int]:
        slots = self.ok(Req("GET", "/slots", params={"date_from": MON}))
        assert len(slots) == 8
        return [s["id"] for s in slots]

    @cached_property
    def appointment_code(self) -> str:
        body = {"slot_id": self.slot_ids[0], "patient_id": self.patient_id}
        return str(self.ok(Req("POST", "/appointments", body), 201)["code"])

    @cached_property
    def schedule_id(self) -> int:
        rows = self.ok(Req("GET", "/schedules", params={"doctor_id": self.doctor_id}))
        return int(next(s["id"] for s in rows if s["weekday"] == 0))

    @cached_property
    def open_clinic_id(self) -> int:
        """A clinic open around the clock every day, so walk-ins are taken now."""
        body = {"code": "IGD", "name": "IGD", "queue_prefix": "B", "hours": ALL_DAY}
        return int(self.ok(Req("POST", "/clinics", body), 201)["id"])

    @cached_property
    def ticket_id(self) -> int:
        """A waiting ticket in the open clinic."""
        body = {"clinic_id": self.open_clinic_id, "name": "Ani", "birth_date": "1990-01-02"}
        self.ok(Req("POST", "/queue/walk-ins", body), 201)
        queue = self.ok(Req("GET", f"/clinics/{self.open_clinic_id}/queue"))
        return int(queue[0]["id"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One database, app and clinic for every REST case of this module, per database kind:
    each case checks that its refused request changed nothing, so the cases can share them
    (and the module runs in seconds rather than building hundreds of worlds)."""
    directory = tmp_path_factory.mktemp("hostile")
    with (
        database_of_its_own(request, request.param, directory) as url,
        serving(url, directory / "data") as api,
    ):
        admin = api.staff("admin", "admin")
        yield World(api, admin, open_clinic(api, admin))


Case = Callable[[World, Any], Req]


def check_rejected(world: World, case: Case, value: Any, code: str | None = None) -> dict:
    req = case(world, value)  # builds what the case needs before the database is read
    with db_unchanged(world.api):
        return assert_problem(send(world.api, world.admin, req), 422, code)


# --- ids beyond 64 bits ------------------------------------------------------------------------

# Each case sends the id at 2^63, 2^64, 10^30 and -2^63-1 (422 expected), then at 2^63-1, which
# fits and names nothing: 404, or an empty listing where the route lists what is under the id.
# (method, path with {} for the id, body, answer for 2^63-1)
PATH_IDS = [
    pytest.param("GET", "/clinics/{}", None, "404", id="GET clinics-id"),
    pytest.param("PATCH", "/clinics/{}", {"name": "Poli Baru"}, "404", id="PATCH clinics-id"),
    pytest.param("GET", "/doctors/{}", None, "404", id="GET doctors-id"),
    pytest.param("PATCH", "/doctors/{}", {"name": "dr. Baru"}, "404", id="PATCH doctors-id"),
    pytest.param("PATCH", "/services/{}", {"name": "Baru"}, "404", id="PATCH services-id"),
    pytest.param(
        "PUT",
        "/schedules/{}",
        {
            "doctor_id": 1,
            "clinic_id": 1,
            "weekday": 0,
            "start": "08:00",
            "end": "12:00",
            "slot_minutes": 30,
            "capacity": 1,
        },
        "404",
        id="PUT schedules-id",
    ),
    pytest.param("DELETE", "/schedules/{}", None, "404", id="DELETE schedules-id"),
    pytest.param("DELETE", "/schedule-exceptions/{}", None, "404", id="DELETE exceptions-id"),
    pytest.param("GET", "/patients/{}", None, "404", id="GET patients-id"),
    pytest.param("PATCH", "/patients/{}", {"name": "Budi"}, "404", id="PATCH patients-id"),
    pytest.param("GET", "/clinics/{}/queue", None, "404", id="GET clinics-id-queue"),
    pytest.param(
        "POST", "/clinics/{}/queue/call-next", {"counter": "Loket 1"}, "404", id="POST call-next"
    ),
    pytest.param("GET", "/clinics/{}/counters", None, "200 []", id="GET clinics-id-counters"),
    pytest.param("POST", "/clinics/{}/counters", {"name": "Loket 1"}, "404", id="POST counters"),
    pytest.param("DELETE", "/clinics/{}/counters/Loket%201", None, "404", id="DELETE counter"),
    pytest.param("POST", "/queue/tickets/{}/transfer", {"clinic_id": 1}, "404", id="POST transfer"),
    pytest.param("POST", "/queue/tickets/{}/undo", None, "404", id="POST undo"),
    # One route serves recall, start, finish, skip, requeue and cancel.
    pytest.param("POST", "/queue/tickets/{}/start", None, "404", id="POST tickets-id-action"),
]


@pytest.mark.parametrize(("method", "path", "body", "control"), PATH_IDS)
def test_id_beyond_64_bits_in_path(world, method, path, body, control):
    api, admin = world.api, world.admin

    def call(value: int) -> Any:
        return send(api, admin, Req(method, path.format(value), _UNSET if body is None else body))

    with db_unchanged(api):
        assert_answers(id_answers(call, control), expected_id_answers(control))


# (path, query parameter, other parameters, answer for 2^63-1; a search by a service that does
# not exist is 404, since the service decides the clinic)
QUERY_IDS = [
    pytest.param("/services", "clinic_id", {}, "200 []", id="services?clinic_id"),
    pytest.param("/schedules", "doctor_id", {}, "200 []", id="schedules?doctor_id"),
    pytest.param("/schedules", "clinic_id", {}, "200 []", id="schedules?clinic_id"),
    pytest.param("/slots", "clinic_id", {"date_from": MON}, "200 []", id="slots?clinic_id"),
    pytest.param("/slots", "doctor_id", {"date_from": MON}, "200 []", id="slots?doctor_id"),
    pytest.param("/slots", "service_id", {"date_from": MON}, "404", id="slots?service_id"),
    pytest.param("/appointments", "clinic_id", {}, "200 []", id="appointments?clinic_id"),
    pytest.param("/appointments", "doctor_id", {}, "200 []", id="appointments?doctor_id"),
    pytest.param("/appointments", "patient_id", {}, "200 []", id="appointments?patient_id"),
]


@pytest.mark.parametrize(("path", "name", "extra", "control"), QUERY_IDS)
def test_id_beyond_64_bits_in_query(world, path, name, extra, control):
    def call(value: int) -> Any:
        return send(world.api, world.admin, Req("GET", path, params={**extra, name: str(value)}))

    with db_unchanged(world.api):
        assert_answers(id_answers(call, control), expected_id_answers(control))


# A reference to an id that fits but names nothing is 404, and nothing is stored.
BODY_IDS: list[Any] = [
    pytest.param(
        lambda w, v: Req(
            "POST", "/services", {"clinic_id": v, "name": "Gula", "duration_minutes": 9}
        ),
        id="POST services clinic_id",
    ),
    pytest.param(
        lambda w, v: Req("PATCH", f"/services/{w.service_id}", {"clinic_id": v}),
        id="PATCH services clinic_id",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, doctor_id=v)),
        id="POST schedules doctor_id",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, clinic_id=v)),
        id="POST schedules clinic_id",
    ),
    pytest.param(
        lambda w, v: Req("PUT", f"/schedules/{w.schedule_id}", _monday_schedule(w, doctor_id=v)),
        id="PUT schedules doctor_id",
    ),
    pytest.param(
        lambda w, v: Req("PUT", f"/schedules/{w.schedule_id}", _monday_schedule(w, clinic_id=v)),
        id="PUT schedules clinic_id",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/schedule-exceptions",
            {"kind": "leave", "date_from": MON, "date_to": MON, "doctor_id": v},
        ),
        id="POST exceptions doctor_id",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/schedule-exceptions",
            {"kind": "holiday", "date_from": MON, "date_to": MON, "clinic_id": v},
        ),
        id="POST exceptions clinic_id",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/appointments", {"slot_id": v, "patient_id": w.patient_id}),
        id="POST appointments slot_id",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/appointments", {"slot_id": w.slot_ids[1], "patient_id": v}),
        id="POST appointments patient_id",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/appointments",
            {"slot_id": w.slot_ids[1], "patient_id": w.patient_id, "service_id": v},
        ),
        id="POST appointments service_id",
    ),
    pytest.param(
        lambda w, v: Req("POST", f"/appointments/{w.appointment_code}/reschedule", {"slot_id": v}),
        id="POST reschedule slot_id",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST", "/queue/walk-ins", {"clinic_id": v, "name": "Budi", "birth_date": "1980-01-01"}
        ),
        id="POST walk-ins clinic_id",
    ),
    pytest.param(
        lambda w, v: Req("POST", f"/queue/tickets/{w.ticket_id}/transfer", {"clinic_id": v}),
        id="POST transfer clinic_id",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/auth/users",
            {"username": "dokter1", "password": "pw-123456", "roles": ["doctor"], "doctor_id": v},
        ),
        id="POST auth-users doctor_id",
    ),
]


@pytest.mark.parametrize("case", BODY_IDS)
def test_id_beyond_64_bits_in_body(world, case):
    requests = {value: case(world, value) for value in [*ID_VALUES.values(), INT64_MAX]}

    def call(value: int) -> Any:
        return send(world.api, world.admin, requests[value])

    with db_unchanged(world.api):
        assert_answers(id_answers(call, "404"), expected_id_answers("404"))


# --- PATCH with nothing in it, and explicit nulls -----------------------------------------------

PATCHABLE = {
    "clinics": lambda w: w.clinic_id,
    "doctors": lambda w: w.doctor_id,
    "services": lambda w: w.service_id,
    "patients": lambda w: w.patient_id,
}


@pytest.mark.parametrize("resource", list(PATCHABLE))
def test_empty_patch_is_refused(world, resource):
    path = f"/{resource}/{PATCHABLE[resource](world)}"
    check_rejected(world, lambda w, v: Req("PATCH", path, {}), None)


NULLS = (
    [
        pytest.param("clinics", field, id=f"clinics {field}")
        for field in ("name", "queue_prefix", "is_open")
    ]
    + [
        pytest.param("doctors", field, id=f"doctors {field}")
        for field in ("name", "specialty", "active")
    ]
    + [
        pytest.param("services", field, id=f"services {field}")
        for field in ("name", "duration_minutes", "clinic_id", "active")
    ]
    + [
        pytest.param("patients", field, id=f"patients {field}")
        for field in ("name", "birth_date", "sex")
    ]
)


@pytest.mark.parametrize(("resource", "field"), NULLS)
def test_null_for_a_field_that_cannot_be_null(world, resource, field):
    path = f"/{resource}/{PATCHABLE[resource](world)}"
    body = check_rejected(world, lambda w, v: Req("PATCH", path, {field: None}), None)
    assert body["code"] == "validation_error", body
    assert field in error_fields(body), body


# --- wall-clock times with an offset ------------------------------------------------------------

TIME_OFFSETS: list[Any] = [
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, start="02:00Z")),
        id="POST schedules start 02:00Z",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, end="15:00+07:00")),
        id="POST schedules end 15:00+07:00",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, start="13:00+00:00")),
        id="POST schedules start 13:00+00:00",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, start="13:00:00.5-05:00")),
        id="POST schedules start 13:00:00.5-05:00",
    ),
    pytest.param(
        lambda w, v: Req(
            "PUT",
            f"/schedules/{w.schedule_id}",
            _monday_schedule(w, start="01:00Z", end="05:00Z"),
        ),
        id="PUT schedules 01:00Z-05:00Z",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/clinics",
            {
                "code": "GIGI",
                "name": "Poli Gigi",
                "queue_prefix": "G",
                "hours": [{"weekday": 0, "opens": "00:00Z", "closes": "09:00Z"}],
            },
        ),
        id="POST clinics hours 00:00Z",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/clinics",
            {
                "code": "GIGI",
                "name": "Poli Gigi",
                "queue_prefix": "G",
                "hours": [{"weekday": 0, "opens": "07:00", "closes": "16:00+07:00"}],
            },
        ),
        id="POST clinics hours 16:00+07:00",
    ),
    pytest.param(
        lambda w, v: Req(
            "PATCH",
            f"/clinics/{w.clinic_id}",
            {"hours": [{"weekday": 0, "opens": "07:00+07:00", "closes": "16:00+07:00"}]},
        ),
        id="PATCH clinics hours 07:00+07:00",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/schedule-exceptions",
            {
                "kind": "changed_hours",
                "date_from": MON,
                "date_to": MON,
                "doctor_id": w.doctor_id,
                "start": "08:00+07:00",
                "end": "10:00+07:00",
            },
        ),
        id="POST exceptions 08:00+07:00",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/schedule-exceptions",
            {
                "kind": "changed_hours",
                "date_from": MON,
                "date_to": MON,
                "doctor_id": w.doctor_id,
                "start": "01:00Z",
                "end": "03:00Z",
            },
        ),
        id="POST exceptions 01:00Z",
    ),
]


@pytest.mark.parametrize("case", TIME_OFFSETS)
def test_time_with_an_offset_is_refused(world, case):
    """Times are the clinic's wall-clock times: an offset must be refused, not dropped, and
    nothing is stored."""
    check_rejected(world, case, None)


# --- NUL and other control characters in text ---------------------------------------------------


def _walk_in(w: World, **override: Any) -> dict[str, Any]:
    return {"clinic_id": w.open_clinic_id, "name": "Budi", "birth_date": "1980-01-01", **override}


def _patient(**override: Any) -> dict[str, Any]:
    return {"name": "Siti", "birth_date": "1985-05-17", **override}


def _register(**override: Any) -> dict[str, Any]:
    return {
        "username": "siti",
        "password": "rahasia-123",
        "name": "Siti",
        "birth_date": "1985-05-17",
        **override,
    }


def _user(**override: Any) -> dict[str, Any]:
    return {"username": "ops1", "password": "rahasia-123", "roles": ["operator"], **override}


def _clinic(**override: Any) -> dict[str, Any]:
    return {"code": "GIGI", "name": "Poli Gigi", "queue_prefix": "G", **override}


def _call_next(w: World, counter: str) -> Req:
    assert w.ticket_id, "a patient waits, so the call gets as far as the counter"
    return Req("POST", f"/clinics/{w.open_clinic_id}/queue/call-next", {"counter": counter})


def _pct(s: str) -> str:
    return "".join(f"%{ord(ch):02X}" if ord(ch) < 0x20 else ch for ch in s)


TEXTS: list[Any] = [
    pytest.param(
        lambda w, s: Req("POST", "/clinics", _clinic(name=f"Poli{s}Gigi")), id="POST clinics name"
    ),
    pytest.param(
        lambda w, s: Req("PATCH", f"/clinics/{w.clinic_id}", {"name": f"Poli{s}Umum"}),
        id="PATCH clinics name",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/doctors", {"name": f"dr.{s}Budi"}), id="POST doctors name"
    ),
    pytest.param(
        lambda w, s: Req("POST", "/doctors", {"name": "dr. Budi", "specialty": f"Gigi{s}"}),
        id="POST doctors specialty",
    ),
    pytest.param(
        lambda w, s: Req("PATCH", f"/doctors/{w.doctor_id}", {"name": f"dr.{s}Andi"}),
        id="PATCH doctors name",
    ),
    pytest.param(
        lambda w, s: Req(
            "POST",
            "/services",
            {"clinic_id": w.clinic_id, "name": f"Cek{s}gula", "duration_minutes": 10},
        ),
        id="POST services name",
    ),
    pytest.param(
        lambda w, s: Req("PATCH", f"/services/{w.service_id}", {"name": f"Cek{s}umum"}),
        id="PATCH services name",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/patients", _patient(name=f"Siti{s}Aminah")),
        id="POST patients name",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/patients", _patient(mrn=f"RM{s}001")), id="POST patients mrn"
    ),
    pytest.param(
        lambda w, s: Req("POST", "/patients", _patient(address=f"Jl. Mawar{s}1")),
        id="POST patients address",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/patients", _patient(bpjs_number=f"0001{s}2")),
        id="POST patients bpjs_number",
    ),
    pytest.param(
        lambda w, s: Req("PATCH", f"/patients/{w.patient_id}", {"name": f"Budi{s}S"}),
        id="PATCH patients name",
    ),
    pytest.param(
        lambda w, s: Req("PATCH", f"/patients/{w.patient_id}", {"address": f"Jl.{s}Melati"}),
        id="PATCH patients address",
    ),
    pytest.param(
        lambda w, s: Req(
            "POST",
            "/appointments",
            {"slot_id": w.slot_ids[1], "patient_id": w.patient_id, "note": f"Kontrol{s}gula"},
        ),
        id="POST appointments note",
    ),
    pytest.param(
        lambda w, s: Req(
            "POST", f"/appointments/{w.appointment_code}/cancel", {"reason": f"Sembuh{s}"}
        ),
        id="POST cancel reason",
    ),
    pytest.param(
        lambda w, s: Req(
            "POST",
            "/schedule-exceptions",
            {"kind": "holiday", "date_from": MON, "date_to": MON, "reason": f"Libur{s}"},
        ),
        id="POST exceptions reason",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/queue/walk-ins", _walk_in(w, name=f"Budi{s}S")),
        id="POST walk-ins name",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/queue/walk-ins", _walk_in(w, mrn=f"RM{s}9")),
        id="POST walk-ins mrn",
    ),
    pytest.param(
        lambda w, s: Req(
            "POST",
            "/queue/walk-ins",
            _walk_in(w, priority="priority", priority_reason=f"Lansia{s}"),
        ),
        id="POST walk-ins priority_reason",
    ),
    pytest.param(lambda w, s: _call_next(w, f"Loket{s}1"), id="POST call-next counter"),
    pytest.param(
        lambda w, s: Req("POST", f"/clinics/{w.clinic_id}/counters", {"name": f"Loket{s}1"}),
        id="POST counters name",
    ),
    pytest.param(
        lambda w, s: Req("DELETE", f"/clinics/{w.clinic_id}/counters/{_pct(f'Loket{s}1')}"),
        id="DELETE counters name-in-path",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/auth/register", _register(name=f"Siti{s}A"), anonymous=True),
        id="POST register name",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/auth/register", _register(username=f"siti{s}"), anonymous=True),
        id="POST register username",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/auth/users", _user(username=f"ops{s}1")),
        id="POST users username",
    ),
    pytest.param(
        lambda w, s: Req("POST", "/auth/users", _user(full_name=f"Operator{s}1")),
        id="POST users full_name",
    ),
    pytest.param(
        lambda w, s: Req(
            "POST",
            "/auth/token",
            form={"username": f"admin{s}", "password": "x"},
            anonymous=True,
        ),
        id="POST token username",
    ),
    pytest.param(
        lambda w, s: Req("GET", "/patients", params={"name": f"Bu{s}di"}), id="GET patients?name"
    ),
    pytest.param(
        lambda w, s: Req("GET", "/patients", params={"mrn": f"RM{s}1"}), id="GET patients?mrn"
    ),
    pytest.param(
        lambda w, s: Req("GET", f"/appointments/{_pct(f'A{s}1')}"),
        id="GET appointments code-in-path",
    ),
    pytest.param(
        lambda w, s: Req("GET", f"/queue/status/{_pct(f'x{s}y')}", anonymous=True),
        id="GET queue-status code-in-path",
    ),
]


@pytest.mark.parametrize("char", CONTROL_CHARS)
@pytest.mark.parametrize("case", TEXTS)
def test_control_character_in_text(world, case, char):
    check_rejected(world, case, char)


# Every C0 control character but TAB, LF and CR, each sent on its own. Each request makes a new
# patient, so one that gets through cannot change how the next is answered.
OTHER_C0 = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]


@pytest.mark.parametrize(
    "field", [pytest.param("name", id="patients name"), pytest.param("address", id="address")]
)
def test_every_other_c0_character_is_refused(world, field):
    with db_unchanged(world.api):
        got = {
            f"U+{ord(ch):04X}": verdict(
                send(
                    world.api, world.admin, Req("POST", "/patients", _patient(**{field: f"a{ch}b"}))
                ),
                422,
            )
            for ch in OTHER_C0
        }
        assert_answers(got, dict.fromkeys(got, "422"))


FREE_TEXT: list[Any] = [
    pytest.param(
        lambda w, s: Req("POST", "/patients", _patient(address=f"Jl. Mawar 1{s}Bandung")),
        "address",
        201,
        id="POST patients address",
    ),
    pytest.param(
        lambda w, s: Req(
            "POST",
            "/appointments",
            {"slot_id": w.slot_ids[3], "patient_id": w.fresh_patient_id(), "note": f"Puasa{s}dulu"},
        ),
        "note",
        201,
        id="POST appointments note",
    ),
    pytest.param(
        lambda w, s: Req(
            "POST",
            f"/appointments/{w.fresh_appointment_code()}/cancel",
            {"reason": f"Sudah{s}sembuh"},
        ),
        "cancel_reason",
        200,
        id="POST cancel reason",
    ),
]


@pytest.mark.parametrize("char", [pytest.param("\n", id="LF"), pytest.param("\t", id="TAB")])
@pytest.mark.parametrize(("case", "field", "status"), FREE_TEXT)
def test_tab_and_newline_are_kept_in_free_text(world, case, field, status, char):
    """Control: the free-text fields still take a line break or a tab."""
    r = send(world.api, world.admin, case(world, char))
    assert r.status_code == status, r.text
    assert char in r.json()[field]


# --- over-long strings and wrong types ----------------------------------------------------------

LONG = "x" * 300
SHAPES: list[Any] = [
    pytest.param(lambda w, v: Req("POST", "/clinics", _clinic(name=LONG)), id="clinics name 300"),
    pytest.param(
        lambda w, v: Req("PATCH", f"/clinics/{w.clinic_id}", {"name": LONG}),
        id="PATCH clinics name 300",
    ),
    pytest.param(lambda w, v: Req("POST", "/doctors", {"name": LONG}), id="doctors name 300"),
    pytest.param(
        lambda w, v: Req(
            "POST", "/services", {"clinic_id": w.clinic_id, "name": LONG, "duration_minutes": 5}
        ),
        id="services name 300",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/patients", _patient(name=LONG)), id="patients name 300"
    ),
    pytest.param(
        lambda w, v: Req("POST", "/patients", _patient(mrn="M" * 40)), id="patients mrn 40"
    ),
    pytest.param(
        lambda w, v: Req("PATCH", f"/patients/{w.patient_id}", {"name": LONG}),
        id="PATCH patients name 300",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/queue/walk-ins", _walk_in(w, name=LONG)), id="walk-ins name 300"
    ),
    pytest.param(
        lambda w, v: Req("POST", "/queue/walk-ins", _walk_in(w, mrn="M" * 40)), id="walk-ins mrn 40"
    ),
    pytest.param(
        lambda w, v: Req("POST", f"/clinics/{w.clinic_id}/counters", {"name": "L" * 40}),
        id="counters name 40",
    ),
    pytest.param(
        lambda w, v: Req("POST", f"/clinics/{w.clinic_id}/queue/call-next", {"counter": "L" * 40}),
        id="call-next counter 40",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/auth/register", _register(username="u" * 300), anonymous=True),
        id="register username 300",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/auth/users", _user(full_name=LONG)), id="users full_name 300"
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/appointments",
            {"slot_id": w.slot_ids[1], "patient_id": w.patient_id, "note": "n" * 600},
        ),
        id="appointments note 600",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST", f"/appointments/{w.appointment_code}/cancel", {"reason": "r" * 600}
        ),
        id="cancel reason 600",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/schedule-exceptions",
            {"kind": "holiday", "date_from": MON, "date_to": MON, "reason": LONG},
        ),
        id="exceptions reason 300",
    ),
    pytest.param(
        lambda w, v: Req("GET", "/patients", params={"name": LONG}), id="patients?name 300"
    ),
    pytest.param(
        lambda w, v: Req(
            "POST", "/services", {"clinic_id": "satu", "name": "X", "duration_minutes": 5}
        ),
        id="services clinic_id string",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST", "/services", {"clinic_id": w.clinic_id, "name": "X", "duration_minutes": 10**9}
        ),
        id="services duration_minutes 10^9",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST", "/services", {"clinic_id": w.clinic_id, "name": "X", "duration_minutes": 1.5}
        ),
        id="services duration_minutes 1.5",
    ),
    pytest.param(
        lambda w, v: Req("PATCH", f"/services/{w.service_id}", {"duration_minutes": 2**64}),
        id="PATCH services duration_minutes 2^64",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, capacity=10**6)),
        id="schedules capacity 10^6",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, capacity=2**63)),
        id="schedules capacity 2^63",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, slot_minutes=10**30)),
        id="schedules slot_minutes 10^30",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, weekday=7)), id="schedules weekday 7"
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, weekday=2**64)),
        id="schedules weekday 2^64",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, weekday=-1)), id="schedules weekday -1"
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, weekday="senin")),
        id="schedules weekday string",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/schedules", _slot_body(w, start="25:00")),
        id="schedules start 25:00",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST", "/clinics", _clinic(hours={"weekday": 0, "opens": "07:00", "closes": "09:00"})
        ),
        id="clinics hours object-for-list",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/clinics", _clinic(hours=[[0, "07:00", "09:00"]])),
        id="clinics hours list-for-object",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST",
            "/clinics",
            _clinic(hours=[{"weekday": 10**30, "opens": "07:00", "closes": "09:00"}]),
        ),
        id="clinics hours weekday 10^30",
    ),
    pytest.param(lambda w, v: Req("POST", "/clinics", _clinic(name=123)), id="clinics name int"),
    pytest.param(
        lambda w, v: Req("POST", "/patients", _patient(birth_date=["1985-05-17"])),
        id="patients birth_date list",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/patients", _patient(sex="robot")),
        id="patients sex unknown-value",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/patients", _patient(is_admin=True)), id="patients extra field"
    ),
    pytest.param(
        lambda w, v: Req("POST", "/auth/users", _user(roles="admin")),
        id="users roles string-for-list",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/auth/users", _user(roles=["root"])), id="users roles unknown"
    ),
    pytest.param(
        lambda w, v: Req(
            "POST", "/appointments", {"slot_id": [w.slot_ids[1]], "patient_id": w.patient_id}
        ),
        id="appointments slot_id list",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/appointments", {"slot_id": 1.5, "patient_id": w.patient_id}),
        id="appointments slot_id 1.5",
    ),
    pytest.param(
        lambda w, v: Req("POST", "/queue/walk-ins", _walk_in(w, priority="vip")),
        id="walk-ins priority unknown",
    ),
    pytest.param(
        lambda w, v: Req(
            "POST", f"/clinics/{w.clinic_id}/queue/call-next", {"counter": ["Loket 1"]}
        ),
        id="call-next counter list",
    ),
    pytest.param(
        lambda w, v: Req("GET", "/appointments", params={"page": str(2**64)}),
        id="appointments?page 2^64",
    ),
    pytest.param(
        lambda w, v: Req("GET", "/appointments", params={"size": str(10**30)}),
        id="appointments?size 10^30",
    ),
]


@pytest.mark.parametrize("case", SHAPES)
def test_over_long_or_wrong_type_is_refused(world, case):
    check_rejected(world, case, None, code="validation_error")


# --- edge dates: an answer, never a crash ------------------------------------------------------

EDGE_DATES: list[Any] = [
    pytest.param(Req("GET", "/slots", params={"date_from": "9999-12-31"}), id="slots 9999-12-31"),
    pytest.param(Req("GET", "/slots", params={"date_from": "0001-01-01"}), id="slots 0001-01-01"),
    pytest.param(
        Req(
            "GET",
            "/schedule-exceptions",
            params={"date_from": "0001-01-01", "date_to": "9999-12-31"},
        ),
        id="exceptions 0001-9999",
    ),
    pytest.param(
        Req("GET", "/appointments", params={"date_from": "0001-01-01", "date_to": "9999-12-31"}),
        id="appointments 0001-9999",
    ),
    pytest.param(
        Req("GET", "/clinics/1/queue", params={"day": "9999-12-31"}), id="queue day 9999-12-31"
    ),
    pytest.param(
        Req(
            "POST",
            "/schedule-exceptions",
            {"kind": "holiday", "date_from": "9999-12-31", "date_to": "9999-12-31"},
        ),
        id="exception on 9999-12-31",
    ),
    pytest.param(
        Req("POST", "/patients", _patient(birth_date="0001-01-01")), id="birth_date 0001-01-01"
    ),
]


@pytest.mark.parametrize("req", EDGE_DATES)
def test_edge_dates_are_answered_not_crashed(world, req):
    """A date at the end of the calendar is either answered or refused with a 422 problem."""
    r = send(world.api, world.admin, req)
    assert r.status_code in {200, 201, 422}, f"{r.status_code}: {r.text[:600]}"
    if r.status_code == 422:
        assert_problem(r, 422)


# --- malformed bodies ---------------------------------------------------------------------------

BODY_ROUTES = [
    ("POST", "/clinics"),
    ("PATCH", "/clinics/1"),
    ("POST", "/services"),
    ("PATCH", "/services/1"),
    ("POST", "/doctors"),
    ("PATCH", "/doctors/1"),
    ("POST", "/schedules"),
    ("PUT", "/schedules/1"),
    ("POST", "/schedule-exceptions"),
    ("POST", "/patients"),
    ("PATCH", "/patients/1"),
    ("POST", "/appointments"),
    ("POST", "/appointments/A-1/cancel"),
    ("POST", "/appointments/A-1/reschedule"),
    ("POST", "/queue/walk-ins"),
    ("POST", "/clinics/1/queue/call-next"),
    ("POST", "/queue/tickets/1/transfer"),
    ("POST", "/clinics/1/counters"),
    ("POST", "/auth/register"),
    ("POST", "/auth/users"),
    ("POST", "/auth/logout"),
]
NESTED = b"[" * 1500 + b"]" * 1500
JSON = {"content-type": "application/json"}
# name: (body, headers); each is sent to every route that takes a body.
BAD_BODIES: dict[str, tuple[bytes, dict[str, str]]] = {
    "not-json": (b"{nope", JSON),
    "truncated": (b'{"name": "x"', JSON),
    "array": (b'[{"name": "x"}]', JSON),
    "empty": (b"", JSON),
    "null": (b"null", JSON),
    "string": (b'"x"', JSON),
    "nested-1500": (NESTED, JSON),
    "invalid-utf8": (b'{"name": "\xff\xfe"}', JSON),
    "int-5000-digits": (b'{"slot_id": 1' + b"0" * 5000 + b"}", JSON),
    "float-overflow": (b'{"slot_id": 1e400, "clinic_id": 1e400}', JSON),
    "text-plain": (b'{"name": "x"}', {"content-type": "text/plain"}),
}


@pytest.mark.parametrize(
    ("method", "path"), [pytest.param(*r, id=f"{r[0]} {r[1]}") for r in BODY_ROUTES]
)
def test_malformed_body(world, method, path):
    """Every one of BAD_BODIES is a 422 validation problem on every route that takes a body."""
    api, admin = world.api, world.admin
    with db_unchanged(api):
        got = {
            name: verdict(send(api, admin, Req(method, path, content=body, headers=headers)), 422)
            for name, (body, headers) in BAD_BODIES.items()
        }
        assert_answers(got, dict.fromkeys(BAD_BODIES, "422"))


# --- XML-RPC -----------------------------------------------------------------------------------

FAULT_CLIENT = range(400, 500)


@pytest.fixture
def kiosk(api: Api, admin: dict[str, str]) -> int:
    """The only clinic, open around the clock every day: number 1 on the kiosk menu."""
    r = send(
        api,
        admin,
        Req(
            "POST",
            "/clinics",
            {"code": "IGD", "name": "IGD", "queue_prefix": "B", "hours": ALL_DAY},
        ),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def rpc_raw(api: Api, body: bytes) -> Any:
    r = api.client.post("/RPC2", content=body, headers={"content-type": "text/xml"})
    assert r.status_code == 200, r.text
    (result,), _ = xmlrpc.client.loads(r.content)
    return result


def rpc(api: Api, method: str, *params: Any) -> Any:
    return rpc_raw(api, xmlrpc.client.dumps(params, method, allow_none=True).encode())


def call_xml(method: str, *values: str) -> bytes:
    """A methodCall written by hand, for values the standard library will not marshal."""
    params = "".join(f"<param><value>{v}</value></param>" for v in values)
    return (
        f'<?xml version="1.0"?><methodCall><methodName>{method}</methodName>'
        f"<params>{params}</params></methodCall>"
    ).encode()


PATIENT_XML = (
    "<struct><member><name>name</name><value><string>Budi</string></value></member>"
    "<member><name>dob</name><value><string>1980-01-01</string></value></member></struct>"
)
NESTED_XML = (
    "<array><data><value>" * 1499
    + "<array><data></data></array>"
    + ("</value></data></array>" * 1499)
)


def _dob(**info: Any) -> dict[str, Any]:
    return {"name": "Budi", "dob": "1980-01-01", **info}


RPC_BAD: list[Any] = [
    pytest.param(xmlrpc.client.dumps((1, _dob(name="x" * 300)), "register_patient"), id="name 300"),
    pytest.param(xmlrpc.client.dumps((1, _dob(mrn="M" * 40)), "register_patient"), id="mrn 40"),
    pytest.param(
        xmlrpc.client.dumps((1, _dob(name=xmlrpc.client.Binary(b"Budi\x00S"))), "register_patient"),
        id="name NUL (base64)",
    ),
    pytest.param(
        xmlrpc.client.dumps((1, _dob(mrn=xmlrpc.client.Binary(b"RM\x001"))), "register_patient"),
        id="mrn NUL (base64)",
    ),
    pytest.param(
        xmlrpc.client.dumps((1, _dob(name=xmlrpc.client.Binary(b"Budi\x1bS"))), "register_patient"),
        id="name ESC (base64)",
    ),
    pytest.param(
        xmlrpc.client.dumps((1, _dob(name="Budi\x00S")), "register_patient"), id="name NUL (raw)"
    ),
    pytest.param(
        call_xml("register_patient", f"<int>{2**31}</int>", PATIENT_XML), id="clinic int 2^31"
    ),
    pytest.param(
        call_xml("register_patient", f"<i8>{2**63}</i8>", PATIENT_XML), id="clinic i8 2^63"
    ),
    pytest.param(
        call_xml("register_patient", f"<i4>{10**30}</i4>", PATIENT_XML), id="clinic i4 10^30"
    ),
    pytest.param(
        call_xml("register_patient", f"<int>{-(2**63) - 1}</int>", PATIENT_XML),
        id="clinic int -2^63-1",
    ),
    pytest.param(call_xml("ticket_status", f"<i8>{2**63}</i8>"), id="ticket_status i8 2^63"),
    pytest.param(call_xml("register_patient", NESTED_XML, PATIENT_XML), id="clinic nested-1500"),
    pytest.param(
        call_xml("register_patient", "<int>1</int>", NESTED_XML), id="patient_info nested-1500"
    ),
    pytest.param(call_xml("ticket_status", NESTED_XML), id="ticket_status nested-1500"),
    pytest.param(call_xml("get_queue_status", NESTED_XML), id="get_queue_status nested-1500"),
    pytest.param(call_xml("get_menu", NESTED_XML), id="get_menu nested-1500"),
]


@pytest.mark.parametrize("body", RPC_BAD)
def test_xmlrpc_bad_input_is_a_client_fault(api, kiosk, body):
    data = body if isinstance(body, bytes) else body.encode()
    assert len(data) < 64 * 1024, "under the size limit: the limit must not be what answers"
    with db_unchanged(api):
        try:
            answer = rpc_raw(api, data)
        except xmlrpc.client.Fault as fault:
            assert fault.faultCode in FAULT_CLIENT, (fault.faultCode, fault.faultString)
        else:
            pytest.fail(f"no fault: answered {answer!r}")


def test_xmlrpc_takes_the_same_limits_as_rest_at_their_edge(api, admin, kiosk):
    """Control: a 200-character name and a 32-character MRN still get a ticket."""
    first = rpc(api, "register_patient", 1, _dob(name="x" * 200))
    second = rpc(api, "register_patient", "IGD", _dob(name="Ani", mrn="M" * 32))
    assert first.startswith("B-001-") and second.startswith("B-002-"), (first, second)
    queue = send(api, admin, Req("GET", f"/clinics/{kiosk}/queue")).json()
    assert [k["label"] for k in queue] == ["B-001", "B-002"]

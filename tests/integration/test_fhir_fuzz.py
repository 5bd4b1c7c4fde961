"""Generated FHIR requests: every search parameter each resource takes (and names it does not)
with hostile values, ids of every shape, with and without strict handling. The answer is
never a server error; it is a Bundle or an OperationOutcome that validates against the R4B
models, with a status the specification allows."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from antrean.adapters.fhir.capability import RESOURCES
from antrean.persistence import tables as t
from tests.integration.test_fhir import BASE, valid

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "", "0", "-1", "99999999999999999999999", "²", "①", "\x00", "a\x00b", "1.5",
            "ge2026-11-30", "gt2026-02-30", "le9999-12-31", "lt0001-01-01", "eq2026-11-30T08:00",
            "2026-11-30T08:00:00+07:00", "Schedule/1-1", "Schedule/1", "Location/1",
            "urn:antrean:service|1", "|", "free", "busy", "busy-unavailable", "true", "x" * 3000,
        ]
    ),
)  # fmt: skip
KINDS = sorted(RESOURCES)
ALLOWED = {200, 400, 401, 404, 406}  # 401: Patient, asked without a token
BOUNDED = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@st.composite
def searches(draw: Any) -> tuple[str, list[tuple[str, str]], dict[str, str]]:
    kind = draw(st.sampled_from(KINDS))
    names = [p[0] for p in RESOURCES[kind][1]] + ["_count", "_summary", "page", "_format"]
    names += ["colour", "_include", "start:missing"]
    params = draw(st.lists(st.tuples(st.sampled_from(names), HOSTILE), max_size=5))
    strict = draw(st.booleans())
    return kind, params, {"Prefer": "handling=strict"} if strict else {}


def test_generated_searches_and_reads_never_fail_the_server(api, clinic_setup):
    seen: set[int] = set()

    @BOUNDED
    @given(search=searches(), rid=HOSTILE)
    def one(search: tuple[str, list[tuple[str, str]], dict[str, str]], rid: str) -> None:
        kind, params, headers = search
        for r in (
            api.client.get(f"{BASE}/{kind}", params=params, headers=headers),
            api.client.get(f"{BASE}/{kind}/{quote(rid, safe='')}" if rid else f"{BASE}/{kind}"),
        ):
            assert r.status_code in ALLOWED, (kind, params, rid, r.status_code, r.text[:300])
            assert r.headers["content-type"].startswith("application/fhir+json")
            body = valid(r.json())
            assert body["resourceType"] != "OperationOutcome" or r.status_code >= 400
            seen.add(r.status_code)

    one()
    assert {200, 400} <= seen, seen  # both answers were reached: the generation ran


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | HOSTILE,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
REFERENCES = st.one_of(
    HOSTILE,
    st.sampled_from(["Slot/1", "Slot/2", "Slot/20", "Slot/45", "Slot/999999", "Appointment/slot-1",
                     "Appointment/slot-3", "Appointment/slot-20", "Appointment/slot-45",
                     "Appointment/slot-999999", "Appointment/hold-2",
                     "Appointment/hold-1", "Appointment/hold-x", "Appointment/1", "Patient/1",
                     "Patient/2", "Practitioner/1"]),
)  # fmt: skip
STATUSES = st.sampled_from(["booked", "cancelled", "proposed", "arrived", "noshow", "x", ""])
PATCHES = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["replace", "add", "remove", "test", "move"]),
            "path": st.sampled_from(["/status", "/slot", "/comment", "/x/y", "", "status"]),
            "value": STATUSES | JSON_VALUES,
        }
    ),
    max_size=3,
)


@st.composite
def appointments(draw: Any) -> Any:
    """Appointments near enough to valid to reach the rules, and far enough to break them."""
    body: dict[str, Any] = {"resourceType": "Appointment"}
    for field, value in (
        ("status", STATUSES | JSON_VALUES),
        (
            "slot",
            st.lists(st.fixed_dictionaries({"reference": REFERENCES}), max_size=2) | JSON_VALUES,
        ),
        (
            "participant",
            st.lists(
                st.fixed_dictionaries({"actor": st.fixed_dictionaries({"reference": REFERENCES})}),
                max_size=3,
            )
            | JSON_VALUES,
        ),
        ("comment", HOSTILE | JSON_VALUES),
        (
            "serviceType",
            st.just([{"coding": [{"system": "urn:antrean:service", "code": "1"}]}]) | JSON_VALUES,
        ),
        ("cancelationReason", st.fixed_dictionaries({"text": HOSTILE}) | JSON_VALUES),
    ):
        if draw(st.booleans()):
            body[field] = draw(value)
    return body


@st.composite
def parameters(draw: Any) -> Any:
    names = st.sampled_from(["appointment-reference", "appointment-resource", "patient-reference",
                             "patient-resource", "comment", "start", "end", "practitioner",
                             "specialty", "visit-type", "x"])  # fmt: skip
    value = st.one_of(
        st.builds(lambda r: {"valueReference": {"reference": r}}, REFERENCES),
        st.builds(lambda t: {"valueString": t}, HOSTILE),
        st.builds(lambda a: {"resource": a}, appointments()),
        st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=2),
    )
    items = draw(st.lists(st.tuples(names, value), max_size=4))
    return {"resourceType": "Parameters", "parameter": [{"name": n, **v} for n, v in items]}


SLOTS = st.sampled_from(["Slot/1", "Slot/20", "Slot/45", "Slot/80", "Slot/999999"])


@st.composite
def bookings(draw: Any) -> Any:
    """Valid bookings of real (or unknown) slots, with a field or two made hostile."""
    body = {"resourceType": "Appointment", "status": "booked", "slot": [{"reference": draw(SLOTS)}]}
    for field, value in (("comment", HOSTILE), ("status", STATUSES), ("participant", JSON_VALUES)):
        if draw(st.booleans()):
            body[field] = draw(value)
    return body


OPERATIONS = st.builds(
    lambda name, ref: {
        "resourceType": "Parameters",
        "parameter": [{"name": "appointment-reference", "valueReference": {"reference": ref}}],
    },
    st.just("appointment-reference"),
    SLOTS.map(lambda ref: "Appointment/slot-" + ref.split("/")[1])
    | st.sampled_from(["Appointment/hold-1", "Appointment/hold-2", "Appointment/hold-99"]),
)

WRITES = st.one_of(
    st.tuples(st.just("POST"), st.just("/Appointment"), bookings()),
    st.tuples(
        st.just("POST"), st.sampled_from(["/Appointment/$hold", "/Appointment/$book"]), OPERATIONS
    ),
    st.tuples(st.just("POST"), st.just("/Appointment"), appointments() | JSON_VALUES),
    st.tuples(st.just("PUT"), st.just("/Appointment/{own}"), appointments()),
    st.tuples(st.just("PATCH"), st.just("/Appointment/{own}"), PATCHES | JSON_VALUES),
    st.tuples(
        st.just("POST"),
        st.sampled_from(["/Appointment/$hold", "/Appointment/$book", "/Appointment/$find"]),
        parameters() | JSON_VALUES,
    ),
)  # fmt: skip
WRITE_ANSWERS = {200, 201, 400, 403, 404, 409, 412, 415, 422}


def test_generated_bookings_never_fail_the_server_or_overbook(api, clinic_setup):
    """Hostile writes by a patient on their own appointment and on the slots: each answer is
    an allowed status with a valid resource, and afterwards every slot's count of taken
    places is the count of its active bookings and holds, within its capacity."""
    patient = api.patient("ani", "081234567890")
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[0]
    own = api.client.post("/api/v1/appointments", json={"slot_id": slot["id"]}, headers=patient)
    assert own.status_code == 201, own.text
    found = api.client.get(
        f"{BASE}/Appointment", params={"identifier": own.json()["code"]}, headers=patient
    )
    own_id = found.json()["entry"][0]["resource"]["id"]
    seen: set[int] = set()

    @settings(BOUNDED, max_examples=300)
    @given(write=WRITES)
    def one(write: tuple[str, str, Any]) -> None:
        method, path, body = write
        if method == "PUT":
            body = {**body, "id": own_id}  # the address's id: what PUT checks first
        media = "application/json-patch+json" if method == "PATCH" else "application/fhir+json"
        r = api.client.request(
            method,
            BASE + path.replace("{own}", own_id),
            json=body,
            headers={**patient, "Content-Type": media},
        )
        assert r.status_code in WRITE_ANSWERS, (method, path, body, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/fhir+json"), r.text[:200]
        answer = valid(r.json())
        assert (answer["resourceType"] == "OperationOutcome") == (r.status_code >= 400)
        seen.add(r.status_code)

    one()
    # The generation reached the rules, not only the checks of shape.
    assert {200, 201, 400, 404, 409, 422} <= seen, seen
    s, a, h = t.slot, t.appointment, t.slot_hold
    with api.container.db.engine.connect() as conn:
        slots = conn.execute(select(s.c.id, s.c.capacity, s.c.booked)).all()
        booked = conn.execute(select(a.c.slot_id, a.c.status)).all()
        holds = conn.execute(select(h.c.slot_id)).all()
    active = ("booked", "arrived", "checked-in")
    for slot_id, capacity, places in slots:
        taken = sum(1 for b in booked if b.slot_id == slot_id and b.status in active)
        taken += sum(1 for hold in holds if hold.slot_id == slot_id)
        assert places == taken <= capacity, (slot_id, places, taken, capacity)

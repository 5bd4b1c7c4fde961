"""No overbooking, ever: concurrent requests over HTTP against two server processes.

The server runs with two worker processes, so nothing inside one process can serialise the
requests: only the database's conditional updates and constraints stand between them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, time, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from antrean.bootstrap import build, ensure_facility
from antrean.domain.booking import BookingDraft
from antrean.domain.identity import Role, StaffAccountDraft
from antrean.domain.patients import PatientDraft, Sex
from antrean.persistence import tables as t
from antrean.services import accounts, booking, patients, scheduling
from antrean.testing.live_server import running_server
from antrean.testing.seed import ADMIN, open_all_week_clinic
from tests.integration.conftest import SECRET, make_settings

pytestmark = pytest.mark.slow


class Seeded:
    def __init__(self, db_url: str, data_dir: Path, patients_count: int, capacity: int) -> None:
        c = build(make_settings(db_url, data_dir))
        ensure_facility(c)
        self.container = c
        self.clinic_id, _ = open_all_week_clinic(
            c, doctors=1, start=time(8), end=time(20), slot_minutes=15, capacity=capacity
        )
        self.day = c.clock.now().astimezone(c.policy.time_zone).date() + timedelta(days=2)
        self.slots = scheduling.search_slots(
            c.uow(), actor=c.anonymous(), policy=c.policy, date_from=self.day, date_to=self.day
        )
        self.patient_ids = [
            patients.register_patient(
                c.uow(),
                actor=ADMIN,
                policy=c.policy,
                phones=c.phones,
                draft=PatientDraft(
                    name=f"Pasien {n}",
                    birth_date=date(1980, 1, 1) + timedelta(days=n),
                    sex=Sex.UNKNOWN,
                ),
            ).id
            for n in range(patients_count)
        ]
        accounts.create_user(
            c.uow(),
            actor=ADMIN,
            hasher=c.passwords,
            draft=StaffAccountDraft(
                username="ops", password="operator-password", roles=frozenset({Role.OPERATOR})
            ),
        )
        c.close()
        self.db_url = db_url

    def count(self, stmt) -> int:  # type: ignore[no-untyped-def]
        engine = create_engine(self.db_url)
        with engine.connect() as conn:
            value = conn.execute(stmt).scalar_one()
        engine.dispose()
        return int(value)


async def _fire(
    base: str, requests: list[tuple[str, dict, dict]], method: str = "POST"
) -> list[httpx.Response]:
    """Every request at once, by the operator: JSON bodies (as FHIR's media type when a
    request's headers name it in Content-Type)."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        r = await client.post(
            "/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
        )
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        start = asyncio.Event()

        async def one(path: str, body: dict, headers: dict) -> httpx.Response:
            await start.wait()
            if "Content-Type" in headers:
                content = json.dumps(body).encode()
                return await client.request(
                    method, path, content=content, headers={**auth, **headers}
                )
            return await client.request(method, path, json=body, headers={**auth, **headers})

        tasks = [asyncio.create_task(one(*req)) for req in requests]
        await asyncio.sleep(0)  # let every task reach the gate, then open it at once
        start.set()
        return await asyncio.gather(*tasks)


def _codes(responses: list[httpx.Response]) -> dict[object, int]:
    result: dict[object, int] = {}
    for r in responses:
        key = r.status_code if r.status_code < 300 else r.json().get("code")
        result[key] = result.get(key, 0) + 1
    return result


FHIR = {"Content-Type": "application/fhir+json"}


def _fhir_codes(responses: list[httpx.Response]) -> dict[object, int]:
    """How many answers of each kind: the status of a success, (status, issue code) of a
    refusal, which must be an OperationOutcome in FHIR's media type."""
    result: dict[object, int] = {}
    for r in responses:
        assert r.headers["content-type"].startswith("application/fhir+json"), r.text
        key: object = r.status_code
        if r.status_code >= 300:
            body = r.json()
            assert body["resourceType"] == "OperationOutcome", r.text
            key = (r.status_code, body["issue"][0]["code"])
        result[key] = result.get(key, 0) + 1
    return result


def _reference_parameters(**references: str) -> dict:
    """A Parameters resource of references (`appointment_reference`: appointment-reference)."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name.replace("_", "-"), "valueReference": {"reference": ref}}
            for name, ref in references.items()
        ],
    }


def _bundled(r: httpx.Response) -> dict:
    """The one appointment an operation's searchset Bundle answers with."""
    body = r.json()
    assert body["resourceType"] == "Bundle" and body["total"] == 1, r.text
    return dict(body["entry"][0]["resource"])


@pytest.mark.parametrize("db_calls", ["auto", "threads"])
def test_200_patients_race_for_5_places(db_url, tmp_path, db_calls):
    """Both ways of running database calls: on the event loop, and on the thread pool."""
    world = Seeded(db_url, tmp_path / "data", patients_count=200, capacity=5)
    slot = world.slots[0]
    requests = [
        ("/api/v1/appointments", {"slot_id": slot.id, "patient_id": pid}, {})
        for pid in world.patient_ids
    ]
    env = {"ANTREAN_DB_CALLS": db_calls}
    with running_server(db_url, tmp_path / "data", secret=SECRET, extra_env=env) as base:
        responses = asyncio.run(_fire(base, requests))
    assert _codes(responses) == {201: 5, "slot_full": 195}
    a, s = t.appointment, t.slot
    assert world.count(select(func.count()).select_from(a).where(a.c.slot_id == slot.id)) == 5
    assert world.count(select(s.c.booked).where(s.c.id == slot.id)) == 5
    codes = {r.json()["code"] for r in responses if r.status_code == 201}
    assert len(codes) == 5


@pytest.mark.parametrize("db_calls", ["auto", "threads"])
def test_200_patients_race_for_5_places_through_fhir_book(db_url, tmp_path, db_calls):
    """The same race through FHIR `$book` of a proposed appointment, the operator naming each
    patient: five bookings, and an OperationOutcome for each of the others."""
    world = Seeded(db_url, tmp_path / "data", patients_count=200, capacity=5)
    slot = world.slots[0]
    requests = [
        (
            "/fhir/R4/Appointment/$book",
            _reference_parameters(
                appointment_reference=f"Appointment/slot-{slot.id}",
                patient_reference=f"Patient/{pid}",
            ),
            FHIR,
        )
        for pid in world.patient_ids
    ]
    env = {"ANTREAN_DB_CALLS": db_calls}
    with running_server(db_url, tmp_path / "data", secret=SECRET, extra_env=env) as base:
        responses = asyncio.run(_fire(base, requests))
    assert _fhir_codes(responses) == {201: 5, (409, "conflict"): 195}
    booked = [_bundled(r) for r in responses if r.status_code == 201]
    assert {a["status"] for a in booked} == {"booked"}
    assert {a["slot"][0]["reference"] for a in booked} == {f"Slot/{slot.id}"}
    patients = {p["actor"]["reference"] for a in booked for p in a["participant"]} & {
        f"Patient/{pid}" for pid in world.patient_ids
    }
    assert len(patients) == 5, "five bookings for five different patients"
    assert len({a["identifier"][0]["value"] for a in booked}) == 5
    a, s = t.appointment, t.slot
    assert world.count(select(func.count()).select_from(a).where(a.c.slot_id == slot.id)) == 5
    assert world.count(select(func.count()).select_from(a)) == 5
    assert world.count(select(s.c.booked).where(s.c.id == slot.id)) == 5


def test_50_holds_at_once_keep_the_5_places_of_a_slot(db_url, tmp_path):
    """Fifty `$hold`s of one slot of five places by one operator: five holds, and for the rest
    the IHE answer for a place no longer there. Staff may hold twenty at once, so the places
    run out, not the operator's allowance (which would answer `conflict`, not `not-found`)."""
    world = Seeded(db_url, tmp_path / "data", patients_count=0, capacity=5)
    slot = world.slots[0]
    body = _reference_parameters(appointment_reference=f"Appointment/slot-{slot.id}")
    requests = [("/fhir/R4/Appointment/$hold", body, FHIR)] * 50
    with running_server(db_url, tmp_path / "data", secret=SECRET) as base:
        responses = asyncio.run(_fire(base, requests))
    assert _fhir_codes(responses) == {200: 5, (409, "not-found"): 45}
    held = [_bundled(r) for r in responses if r.status_code == 200]
    assert {a["status"] for a in held} == {"pending"}
    assert {a["slot"][0]["reference"] for a in held} == {f"Slot/{slot.id}"}
    hold_ids = {int(a["id"].removeprefix("hold-")) for a in held}
    assert len(hold_ids) == 5
    refusals = [r.json()["issue"][0] for r in responses if r.status_code == 409]
    assert {i["severity"] for i in refusals} == {"fatal"}
    h, s = t.slot_hold, t.slot
    assert world.count(select(s.c.booked).where(s.c.id == slot.id)) == 5
    assert world.count(select(func.count()).select_from(h)) == 5
    assert world.count(select(func.count()).select_from(h).where(h.c.id.in_(hold_ids))) == 5
    assert world.count(select(func.count()).select_from(t.appointment)) == 0


@pytest.mark.parametrize("if_match", [True, False], ids=["if-match", "no-if-match"])
def test_10_cancels_at_once_of_one_appointment_give_one_place_back(db_url, tmp_path, if_match):
    """Ten FHIR PUTs of the same appointment as cancelled. With the ETag in If-Match one
    cancels and nine find the version changed (412). Without it, one cancels and each other
    is refused (409: not active any more, or changed meanwhile) or, coming after the cancel,
    finds nothing to change (200, cancelled). Either way the place comes back once."""
    world = Seeded(db_url, tmp_path / "data", patients_count=3, capacity=5)
    slot = world.slots[0]
    c = build(make_settings(db_url, tmp_path / "data"))
    made = [
        booking.book_appointment(
            c.uow(),
            actor=ADMIN,
            policy=c.policy,
            draft=BookingDraft(slot_id=slot.id, patient_id=pid),
        )
        for pid in world.patient_ids
    ]
    c.close()
    target = made[0]
    s, e = t.slot, t.domain_event
    assert world.count(select(s.c.booked).where(s.c.id == slot.id)) == 3
    with running_server(db_url, tmp_path / "data", secret=SECRET) as base:
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "ops", "password": "operator-password"},
        ).json()["access_token"]
        read = httpx.get(
            f"{base}/fhir/R4/Appointment/{target.id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert read.status_code == 200, read.text
        wanted = {**read.json(), "status": "cancelled"}
        headers = {**FHIR, "If-Match": read.headers["etag"]} if if_match else FHIR
        path = f"/fhir/R4/Appointment/{target.id}"
        responses = asyncio.run(_fire(base, [(path, wanted, headers)] * 10, method="PUT"))
    codes = _fhir_codes(responses)
    assert all(r.status_code < 500 for r in responses), codes
    if if_match:
        assert codes == {200: 1, (412, "conflict"): 9}
    else:
        assert codes.get(200, 0) >= 1 and set(codes) <= {200, (409, "conflict")}, codes
    assert {r.json()["status"] for r in responses if r.status_code == 200} == {"cancelled"}
    a = t.appointment
    gone = select(func.count()).select_from(a).where(a.c.id == target.id, a.c.status == "cancelled")
    assert world.count(gone) == 1
    assert world.count(select(s.c.booked).where(s.c.id == slot.id)) == 2, "one place back"
    cancelled = e.c.kind == "appointment.cancelled"
    assert world.count(select(func.count()).select_from(e).where(cancelled)) == 1
    assert world.count(select(func.count()).select_from(a).where(a.c.status == "booked")) == 2


def test_concurrent_reschedules_into_one_slot(db_url, tmp_path):
    world = Seeded(db_url, tmp_path / "data", patients_count=50, capacity=5)
    target, sources = world.slots[-1], world.slots[:10]
    c = build(make_settings(db_url, tmp_path / "data"))
    codes = [
        booking.book_appointment(
            c.uow(),
            actor=ADMIN,
            policy=c.policy,
            draft=BookingDraft(slot_id=sources[n // 5].id, patient_id=pid),
        ).code
        for n, pid in enumerate(world.patient_ids)
    ]
    c.close()
    requests = [
        (f"/api/v1/appointments/{code}/reschedule", {"slot_id": target.id}, {}) for code in codes
    ]
    with running_server(db_url, tmp_path / "data", secret=SECRET) as base:
        responses = asyncio.run(_fire(base, requests))
    assert _codes(responses) == {200: 5, "slot_full": 45}
    s, a = t.slot, t.appointment
    assert world.count(select(s.c.booked).where(s.c.id == target.id)) == 5
    assert world.count(select(func.sum(s.c.booked))) == 50, (
        "every place moved, none lost or doubled"
    )
    assert world.count(select(func.count()).select_from(a).where(a.c.slot_id == target.id)) == 5


def test_same_patient_books_twice_at_once(db_url, tmp_path):
    world = Seeded(db_url, tmp_path / "data", patients_count=1, capacity=5)
    pid = world.patient_ids[0]
    requests = [
        ("/api/v1/appointments", {"slot_id": slot.id, "patient_id": pid}, {})
        for slot in world.slots[:20]
    ]
    with running_server(db_url, tmp_path / "data", secret=SECRET) as base:
        responses = asyncio.run(_fire(base, requests))
    assert _codes(responses) == {201: 1, "duplicate_appointment": 19}
    s, a = t.slot, t.appointment
    assert world.count(select(func.count()).select_from(a).where(a.c.patient_id == pid)) == 1
    assert world.count(select(func.sum(s.c.booked))) == 1


def test_same_idempotency_key_at_once_books_once(db_url, tmp_path):
    world = Seeded(db_url, tmp_path / "data", patients_count=1, capacity=5)
    body = {"slot_id": world.slots[0].id, "patient_id": world.patient_ids[0]}
    requests = [("/api/v1/appointments", body, {"Idempotency-Key": "same-key"})] * 20
    with running_server(db_url, tmp_path / "data", secret=SECRET) as base:
        responses = asyncio.run(_fire(base, requests))
    assert _codes(responses) == {201: 20}
    assert len({r.json()["code"] for r in responses}) == 1
    assert world.count(select(func.count()).select_from(t.appointment)) == 1


def test_100_walk_ins_at_once_get_100_consecutive_numbers(db_url, tmp_path):
    world = Seeded(db_url, tmp_path / "data", patients_count=0, capacity=1)
    requests = [
        (
            "/api/v1/queue/walk-ins",
            {"clinic_id": world.clinic_id, "name": f"Pasien {n}", "birth_date": "1980-01-01"},
            {},
        )
        for n in range(100)
    ]
    with running_server(db_url, tmp_path / "data", secret=SECRET) as base:
        responses = asyncio.run(_fire(base, requests))
    assert _codes(responses) == {201: 100}
    numbers = sorted(int(r.json()["ticket"].split("-")[1]) for r in responses)
    assert numbers == list(range(1, 101))
    k = t.ticket
    assert world.count(select(func.count(func.distinct(k.c.number))).select_from(k)) == 100


def test_two_operators_calling_at_once_never_get_the_same_ticket(db_url, tmp_path):
    world = Seeded(db_url, tmp_path / "data", patients_count=0, capacity=1)
    walk_ins = [
        (
            "/api/v1/queue/walk-ins",
            {"clinic_id": world.clinic_id, "name": f"Pasien {n}", "birth_date": "1980-01-01"},
            {},
        )
        for n in range(30)
    ]
    calls = [
        (f"/api/v1/clinics/{world.clinic_id}/queue/call-next", {"counter": f"Loket {n % 4}"}, {})
        for n in range(50)
    ]
    with running_server(db_url, tmp_path / "data", secret=SECRET) as base:
        assert _codes(asyncio.run(_fire(base, walk_ins))) == {201: 30}
        responses = asyncio.run(_fire(base, calls))
    assert _codes(responses) == {200: 30, "queue_empty": 20}
    called = [r.json()["label"] for r in responses if r.status_code == 200]
    assert len(set(called)) == 30, "a ticket was called twice"
    k = t.ticket
    assert world.count(select(func.count()).select_from(k).where(k.c.state == "called")) == 30
    e = t.domain_event
    assert world.count(select(func.count()).select_from(e).where(e.c.action == "call")) == 30

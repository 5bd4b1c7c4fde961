"""No overbooking, ever: concurrent requests over HTTP against two server processes.

The server runs with two worker processes, so nothing inside one process can serialise the
requests: only the database's conditional updates and constraints stand between them.
"""

from __future__ import annotations

import asyncio
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


async def _fire(base: str, requests: list[tuple[str, dict, dict]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        r = await client.post(
            "/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
        )
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        start = asyncio.Event()

        async def one(path: str, body: dict, headers: dict) -> httpx.Response:
            await start.wait()
            return await client.post(path, json=body, headers={**auth, **headers})

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

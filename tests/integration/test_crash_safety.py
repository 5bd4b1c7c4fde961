"""The whole server killed (SIGKILL, every process) in the middle of bookings, three times over,
on SQLite and PostgreSQL: after each restart every booking that was acknowledged is there, a
retry with its Idempotency-Key returns that same booking, none is stored twice, no slot is over
capacity, each slot's counter equals the bookings it holds, and SQLite's integrity check passes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import and_, create_engine, func, select, text

from antrean.persistence import tables as t
from antrean.testing.live_server import start_server
from tests.integration.conftest import SECRET
from tests.integration.test_races import Seeded

pytestmark = pytest.mark.slow

ROUNDS = 3
PER_ROUND = 150
KILL_AFTER = 40  # acknowledged bookings in a round before the server is killed
AT_ONCE = 16
CAPACITY = 10
ACTIVE = ("booked", "checked_in")


@contextmanager
def server(db_url: str, data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`antrean serve` with two processes in a process group of its own, so a kill reaches
    every one of them at once, as a power cut or the OOM killer would."""
    env = {"ANTREAN_LOG_LEVEL": "critical", "ANTREAN_EMBEDDED_WORKER": "false"}
    base, proc = start_server(
        db_url, data_dir, workers=2, secret=SECRET, extra_env=env, own_group=True
    )
    try:
        yield base, proc
    finally:
        kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _token(base: str) -> dict[str, str]:
    r = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _book(
    base: str, requests: list[tuple[str, dict]], on_ack, timeout: float = 10.0
) -> dict[str, httpx.Response | None]:
    """Each request once, AT_ONCE at a time; None where no answer came (the server died)."""
    answers: dict[str, httpx.Response | None] = {}
    gate = asyncio.Semaphore(AT_ONCE)
    headers = _token(base)
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:

        async def one(key: str, body: dict) -> None:
            async with gate:
                try:
                    r = await client.post(
                        "/api/v1/appointments",
                        json=body,
                        headers={**headers, "Idempotency-Key": key},
                    )
                except httpx.TransportError:
                    answers[key] = None
                    return
            answers[key] = r
            if r.status_code == 201:
                on_ack(key, r.json()["code"])

        await asyncio.gather(*(one(key, body) for key, body in requests))
    return answers


def test_the_server_killed_mid_load_three_times_loses_no_acknowledged_booking(db_url, tmp_path):
    data = tmp_path / "data"
    world = Seeded(db_url, data, patients_count=ROUNDS * PER_ROUND, capacity=CAPACITY)
    acknowledged: dict[str, str] = {}  # Idempotency-Key -> booking code
    bodies: dict[str, dict] = {}
    for n, pid in enumerate(world.patient_ids):
        bodies[f"patient-{pid}"] = {"slot_id": world.slots[n // CAPACITY].id, "patient_id": pid}
    keys = list(bodies)
    killed_with_requests_unanswered = 0
    for round_ in range(ROUNDS):
        batch = keys[round_ * PER_ROUND : (round_ + 1) * PER_ROUND]
        with server(db_url, data) as (base, proc):
            acked_now: list[str] = []

            def on_ack(key: str, code: str, proc=proc, acked_now=acked_now) -> None:
                acknowledged[key] = code
                acked_now.append(key)
                if len(acked_now) == KILL_AFTER:
                    kill(proc)  # every server process, mid-load

            answers = asyncio.run(_book(base, [(k, bodies[k]) for k in batch], on_ack))
            assert proc.poll() is not None, "the server was killed"
            unanswered = [k for k, r in answers.items() if r is None]
            killed_with_requests_unanswered += len(unanswered)
            errors = [r.text for r in answers.values() if r is not None and r.status_code >= 500]
            assert not errors, errors[:3]
        with server(db_url, data) as (base, _proc):
            headers = _token(base)
            for key in acked_now:  # every acknowledged booking is there
                r = httpx.get(f"{base}/api/v1/appointments/{acknowledged[key]}", headers=headers)
                assert r.status_code == 200 and r.json()["status"] == "booked", (key, r.text)
            # Retry the whole round with the same keys: the acknowledged ones answer their own
            # booking again; the ones without an answer are stored now, or were already.
            retried = asyncio.run(_book(base, [(k, bodies[k]) for k in batch], lambda *_: None))
            for key, r in retried.items():
                assert r is not None and r.status_code == 201, (key, r and r.text)
                if key in acknowledged:
                    assert r.json()["code"] == acknowledged[key], key
                acknowledged[key] = r.json()["code"]
        _check_database(world, db_url, booked=(round_ + 1) * PER_ROUND)
    assert killed_with_requests_unanswered > 0, "each kill came while requests were in flight"
    assert len(set(acknowledged.values())) == ROUNDS * PER_ROUND


def _check_database(world: Seeded, db_url: str, *, booked: int) -> None:
    a, s = t.appointment, t.slot
    engine = create_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(a)).scalar_one()
        assert stored == booked, "each booking once: none lost, none twice"
        twice = select(a.c.patient_id).group_by(a.c.patient_id).having(func.count() > 1)
        assert conn.execute(select(func.count()).select_from(twice.subquery())).scalar_one() == 0
        over = conn.execute(
            select(func.count()).select_from(s).where(s.c.booked > s.c.capacity)
        ).scalar_one()
        assert over == 0, "no slot over capacity"
        holds = (
            select(s.c.id, s.c.booked, func.count(a.c.id).label("held"))
            .select_from(s.outerjoin(a, and_(a.c.slot_id == s.c.id, a.c.status.in_(ACTIVE))))
            .group_by(s.c.id, s.c.booked)
        )
        wrong = [row for row in conn.execute(holds) if row.booked != row.held]
        assert wrong == [], "each slot's counter equals the bookings it holds"
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            assert conn.execute(text("PRAGMA foreign_key_check")).first() is None
    engine.dispose()

"""A display that is new, or too far behind, starts from the current state (a `snapshot`
event) and then goes on live; one that missed a few events gets exactly those. Against a real
server process, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import date, time

import httpx
import pytest

from antrean.bootstrap import build, ensure_facility
from antrean.domain.identity import Role, StaffAccountDraft
from antrean.domain.queue import WalkInDraft
from antrean.services.accounts import create_user
from antrean.services.queue import issue_walk_in
from antrean.testing.live_server import running_server
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import SECRET, make_settings
from tests.integration.sse import sse_events

pytestmark = pytest.mark.slow
MISSED = 1_000


def _container(db_url, data_dir):
    c = build(make_settings(db_url, data_dir))
    ensure_facility(c)
    return c


def _walk_ins(c, clinic_id: int, count: int) -> None:
    """Walk-ins made by another process while the display was away."""
    for n in range(count):
        issue_walk_in(
            c.uow(),
            actor=c.system(),
            policy=c.policy,
            phones=c.phones,
            walk_in=WalkInDraft(
                clinic_id=clinic_id, name=f"Pasien {n}", birth_date=date(1980, 1, 1)
            ),
        )


async def _read(base: str, path: str, count: int, headers=None, then=None) -> list[dict]:
    """The first `count` events of a stream; `then` runs once the stream is subscribed."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=20) as client,
        client.stream("GET", path, headers=headers or {}) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        async for line in lines:
            if line.strip() == ": subscribed":
                break
        seen: list[dict] = []
        started = asyncio.Event()

        async def collect():
            async for event in sse_events(lines):
                seen.append(event)
                started.set()
                if len(seen) == count:
                    return

        task = asyncio.create_task(collect())
        if then is not None:
            await asyncio.wait_for(started.wait(), timeout=15)  # the snapshot or replay first
            await then(client)
        await asyncio.wait_for(task, timeout=15)
        return seen


async def _api_walk_in(client: httpx.AsyncClient, clinic_id: int, name: str) -> None:
    r = await client.post(
        "/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
    )
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    body = {"clinic_id": clinic_id, "name": name, "birth_date": "1980-01-01"}
    r = await client.post("/api/v1/queue/walk-ins", headers=auth, json=body)
    assert r.status_code == 201, r.text


def test_new_far_behind_and_slightly_behind_displays(db_url, tmp_path):
    c = _container(db_url, tmp_path / "data")
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(9), slot_minutes=30, capacity=1
    )
    create_user(
        c.uow(),
        actor=c.system(),
        hasher=c.passwords,
        draft=StaffAccountDraft("ops", "operator-password", frozenset({Role.OPERATOR})),
    )
    path = f"/api/v1/clinics/{clinic_id}/events"
    env = {"ANTREAN_EVENT_BUS": "tail"} if db_url.startswith("sqlite") else {}
    with running_server(db_url, tmp_path / "data", secret=SECRET, workers=1, extra_env=env) as base:
        # A new display: the current (empty) board, then the first walk-in live.
        first = asyncio.run(
            _read(base, path, 2, then=lambda client: _api_walk_in(client, clinic_id, "Budi"))
        )
        assert first[0]["event"] == "snapshot"
        assert json.loads(first[0]["data"])["waiting"] == 0
        assert first[1]["event"] == "queue"
        assert json.loads(first[1]["data"])["ticket"] == "A-001"
        last_seen = int(first[1]["id"])

        # Away while 1,000 more walk-ins happen: back, it gets the board as it is now.
        _walk_ins(c, clinic_id, MISSED)
        back = asyncio.run(
            _read(
                base,
                path,
                2,
                headers={"Last-Event-ID": str(last_seen)},
                then=lambda client: _api_walk_in(client, clinic_id, "Ani"),
            )
        )
        assert back[0]["event"] == "snapshot"
        board = json.loads(back[0]["data"])
        assert board["waiting"] == MISSED + 1 and board["next_up"][0] == "A-001"
        assert int(back[0]["id"]) == board["last_event_id"] > last_seen
        assert back[1]["event"] == "queue" and json.loads(back[1]["data"])["ticket"] == "A-1002"
        assert int(back[1]["id"]) > board["last_event_id"]

        # Missed only a few: exactly those, in order, and no snapshot.
        latest = int(back[1]["id"])
        _walk_ins(c, clinic_id, 2)
        replay = asyncio.run(_read(base, path, 3, headers={"Last-Event-ID": str(latest - 1)}))
        assert [e["event"] for e in replay] == ["queue"] * 3
        assert [json.loads(e["data"])["ticket"] for e in replay] == [
            "A-1002",
            "A-1003",
            "A-1004",
        ]
        ids = [int(e["id"]) for e in replay]
        assert ids == sorted(ids) and ids[0] == latest
    c.close()

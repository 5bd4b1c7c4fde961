"""Server-sent events against real server processes: a change reaches subscribers within a
second, a reconnect with Last-Event-ID misses nothing, and on PostgreSQL a change made through
one server process reaches a subscriber of another."""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from datetime import time

import httpx
import pytest

from antrean.bootstrap import build, ensure_facility
from antrean.testing.live_server import running_server
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import SECRET, make_settings

pytestmark = pytest.mark.slow
DEADLINE = 1.0  # seconds from the change to the subscriber


def _seed(db_url, data_dir) -> int:
    c = build(make_settings(db_url, data_dir))
    ensure_facility(c)
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(9), slot_minutes=30, capacity=1
    )
    from antrean.services.identity import create_user

    create_user(
        c.uow(),
        actor=None,
        facility_id=1,
        username="ops",
        password="operator-password",
        roles="operator",
    )
    c.close()
    return clinic_id


async def _token(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post(
        "/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _events(lines):
    event: dict[str, str] = {}
    async for line in lines:
        if line == "":
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.strip()


async def _subscribed(lines) -> None:
    """Read up to the server's ': subscribed' comment: from then on nothing can be missed."""
    async for line in lines:
        if line.strip() == ": subscribed":
            return
    raise AssertionError("stream ended before the subscription")


async def _first_event(lines) -> dict[str, str]:
    async for event in _events(lines):
        return event
    raise AssertionError("stream ended")


async def _walk_in(base: str, clinic_id: int, name: str) -> dict:
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.post(
            "/api/v1/queue/walk-ins",
            headers=await _token(client),
            json={"clinic_id": clinic_id, "name": name, "birth_date": "1980-01-01"},
        )
        assert r.status_code == 201, r.text
        return r.json()


async def _change_reaches_subscriber(listen_base: str, change_base: str, clinic_id: int):
    path = f"/api/v1/clinics/{clinic_id}/events"
    async with (
        httpx.AsyncClient(base_url=listen_base, timeout=10) as client,
        client.stream("GET", path) as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        await asyncio.wait_for(_subscribed(lines), timeout=5)
        waiter = asyncio.create_task(_first_event(lines))
        loop = asyncio.get_running_loop()
        ticket = await _walk_in(change_base, clinic_id, "Budi")
        sent_at = loop.time()
        event = await asyncio.wait_for(waiter, timeout=DEADLINE + 1)
        latency = loop.time() - sent_at
    data = json.loads(event["data"])
    assert data["ticket"] == ticket["ticket"] == "A-001" and data["state"] == "waiting"
    assert latency < DEADLINE, latency
    return ticket


def test_clinic_and_ticket_streams_and_replay(db_url, tmp_path):
    clinic_id = _seed(db_url, tmp_path / "data")
    with running_server(db_url, tmp_path / "data", secret=SECRET, workers=1) as base:
        ticket = asyncio.run(_change_reaches_subscriber(base, base, clinic_id))

        async def ticket_stream():
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                path = f"/api/v1/queue/status/{ticket['status_code']}/events"
                async with client.stream("GET", path) as stream:
                    lines = stream.aiter_lines()
                    await asyncio.wait_for(_subscribed(lines), timeout=5)
                    waiter = asyncio.create_task(_first_event(lines))
                    r = await client.post(
                        f"/api/v1/clinics/{clinic_id}/queue/call-next",
                        headers=await _token(client),
                        json={"counter": "Loket 3"},
                    )
                    assert r.status_code == 200
                    return await asyncio.wait_for(waiter, timeout=DEADLINE)

        event = asyncio.run(ticket_stream())
        data = json.loads(event["data"])
        assert (data["state"], data["counter"], data["action"]) == ("called", "Loket 3", "call")

        async def replay():
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                headers = {"Last-Event-ID": "0"}
                async with client.stream(
                    "GET", f"/api/v1/clinics/{clinic_id}/events", headers=headers
                ) as stream:
                    seen = []
                    async for ev in _events(stream.aiter_lines()):
                        seen.append(ev)
                        if len(seen) == 2:
                            return seen
            return []

        seen = asyncio.run(asyncio.wait_for(replay(), timeout=5))
        assert [json.loads(e["data"])["action"] for e in seen] == ["issue", "call"]
        assert int(seen[0]["id"]) < int(seen[1]["id"])


def test_change_through_one_process_reaches_a_subscriber_of_another(db_url, tmp_path):
    """Two separate server processes on one database: PostgreSQL shares events with
    LISTEN/NOTIFY, SQLite with the timeline tail (what `serve --workers 2` picks)."""
    clinic_id = _seed(db_url, tmp_path / "data")
    env = {"ANTREAN_EVENT_BUS": "tail"} if db_url.startswith("sqlite") else {}
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(
                running_server(db_url, tmp_path / name, secret=SECRET, workers=1, extra_env=env)
            )
            for name in ("a", "b")
        )
        asyncio.run(_change_reaches_subscriber(a, b, clinic_id))

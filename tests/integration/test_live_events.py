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
from antrean.domain.identity import Role, StaffAccountDraft
from antrean.services.accounts import create_user
from antrean.testing.live_server import running_server
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import SECRET, make_settings
from tests.integration.sse import sse_events

pytestmark = pytest.mark.slow
DEADLINE = 1.0  # seconds from the change to the subscriber


def _seed(db_url, data_dir) -> int:
    c = build(make_settings(db_url, data_dir))
    ensure_facility(c)
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(9), slot_minutes=30, capacity=1
    )
    create_user(
        c.uow(),
        actor=c.system(),
        hasher=c.passwords,
        draft=StaffAccountDraft(
            username="ops", password="operator-password", roles=frozenset({Role.OPERATOR})
        ),
    )
    c.close()
    return clinic_id


async def _token(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post(
        "/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _subscribed(lines) -> dict[str, str]:
    """Read up to the server's ': subscribed' comment, then the `snapshot` event a new client
    starts from: every later change comes as an event of its own."""
    async for line in lines:
        if line.strip() == ": subscribed":
            break
    else:
        raise AssertionError("stream ended before the subscription")
    snapshot = await _first_event(lines)
    assert snapshot["event"] == "snapshot", snapshot
    return snapshot


async def _first_event(lines) -> dict[str, str]:
    async for event in sse_events(lines):
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
        board = json.loads((await asyncio.wait_for(_subscribed(lines), timeout=5))["data"])
        assert (board["clinic_id"], board["waiting"]) == (clinic_id, 0)
        waiter = asyncio.create_task(_first_event(lines))
        loop = asyncio.get_running_loop()
        ticket = await _walk_in(change_base, clinic_id, "Budi")
        sent_at = loop.time()
        event = await asyncio.wait_for(waiter, timeout=DEADLINE + 1)
        latency = loop.time() - sent_at
    assert event["event"] == "queue", event
    data = json.loads(event["data"])
    assert data["ticket"] == ticket["ticket"] == "A-001" and data["state"] == "waiting"
    assert latency < DEADLINE, latency
    return ticket, int(event["id"])


def test_clinic_and_ticket_streams_and_replay(db_url, tmp_path):
    clinic_id = _seed(db_url, tmp_path / "data")
    with running_server(db_url, tmp_path / "data", secret=SECRET, workers=1) as base:
        ticket, issued_id = asyncio.run(_change_reaches_subscriber(base, base, clinic_id))

        async def ticket_stream():
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                path = f"/api/v1/queue/status/{ticket['status_code']}/events"
                async with client.stream("GET", path) as stream:
                    lines = stream.aiter_lines()
                    where = json.loads(
                        (await asyncio.wait_for(_subscribed(lines), timeout=5))["data"]
                    )
                    assert (where["ticket"], where["state"]) == ("A-001", "waiting")
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
        # While the board that saw the first ticket issued is away, one more walks in.
        asyncio.run(_walk_in(base, clinic_id, "Ani"))

        async def replay():
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                headers = {"Last-Event-ID": str(issued_id)}
                async with client.stream(
                    "GET", f"/api/v1/clinics/{clinic_id}/events", headers=headers
                ) as stream:
                    seen = []
                    async for ev in sse_events(stream.aiter_lines()):
                        seen.append(ev)
                        if len(seen) == 2:
                            return seen
            return []

        seen = asyncio.run(asyncio.wait_for(replay(), timeout=5))
        assert [e["event"] for e in seen] == ["queue", "queue"], "missed events, no snapshot"
        assert [
            (json.loads(e["data"])["action"], json.loads(e["data"])["ticket"]) for e in seen
        ] == [("call", "A-001"), ("issue", "A-002")]
        assert issued_id < int(seen[0]["id"]) < int(seen[1]["id"])


def test_change_through_one_process_reaches_a_subscriber_of_another(db_url, tmp_path):
    """Two separate server processes on one database: PostgreSQL shares events with
    LISTEN/NOTIFY, SQLite with the timeline tail (what `serve --workers 2` picks). Both use
    the data keys the seed made: servers sharing a database share its keys."""
    clinic_id = _seed(db_url, tmp_path / "data")
    env = {"ANTREAN_DATA_KEYS_FILE": str(tmp_path / "data" / "data_keys")}
    if db_url.startswith("sqlite"):
        env["ANTREAN_EVENT_BUS"] = "tail"
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(
                running_server(db_url, tmp_path / name, secret=SECRET, workers=1, extra_env=env)
            )
            for name in ("a", "b")
        )
        asyncio.run(_change_reaches_subscriber(a, b, clinic_id))

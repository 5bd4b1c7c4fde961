"""Queue speed on a live server, against the same server's /healthz in the same run.

    python bench/queue_speed.py --db sqlite|postgresql [--workers N] [--subscribers 2000]

1. walk-in registrations/s (wrk, 64 connections, each a new patient, round the clinics of a
   hospital: 20 poli by default, `--clinics 1` puts everyone in one line),
2. public status reads/s of one ticket in a queue of 100 (wrk),
3. server-sent events: N subscribers to one clinic's stream; one walk-in; the time until each
   subscriber has the event (p50, p99, max) and how many got it.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from booking import SECRET, wrk
from databases import scratch_database

from antrean.bootstrap import build, ensure_facility
from antrean.config import Settings
from antrean.domain.catalog import ClinicDraft, OpeningHours
from antrean.domain.identity import Role, StaffAccountDraft
from antrean.persistence.engine import create_database
from antrean.persistence.migrate import upgrade
from antrean.services import catalog
from antrean.services.accounts import create_user
from antrean.testing.live_server import running_server
from antrean.testing.seed import ADMIN, open_all_week_clinic

WALK_IN_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local clinics = {%(clinics)s}
local sent = 0
function request()
  sent = sent + 1
  local clinic = clinics[(sent %% #clinics) + 1]
  local body = '{"clinic_id": ' .. clinic .. ', "name": "Pasien Uji", "birth_date": "1980-01-01"}'
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if status ~= 201 then failed = (failed or 0) + 1 end
end
"""


def _letters(n: int) -> str:
    """A queue prefix of its own for the n-th clinic: letters only ("CAC" for 2)."""
    return "C" + chr(ord("A") + n // 26 % 26) + chr(ord("A") + n % 26)


def seed(url: str, workdir: Path, clinics: int, **settings: object) -> tuple[list[int], int]:
    db = create_database(url)
    upgrade(db.engine)
    db.dispose()
    c = build(
        Settings(  # type: ignore[arg-type]
            database_url=url, data_dir=workdir, environment="test", secret_key=SECRET, **settings
        )
    )
    ensure_facility(c)
    busy, _ = open_all_week_clinic(
        c, doctors=1, start=clock_time(8), end=clock_time(9), slot_minutes=30, capacity=1
    )
    around_the_clock = tuple(OpeningHours(d, clock_time.min, clock_time.max) for d in range(7))
    reads = catalog.create_clinic(
        c.uow(),
        actor=ADMIN,
        policy=c.policy,
        draft=ClinicDraft(code="GIGI", name="Poli Gigi", queue_prefix="B", hours=around_the_clock),
    )
    walk_ins = [busy]
    for n in range(2, clinics + 1):
        walk_ins.append(
            catalog.create_clinic(
                c.uow(),
                actor=ADMIN,
                policy=c.policy,
                draft=ClinicDraft(
                    code=f"P{n:02d}",
                    name=f"Poli {n}",
                    queue_prefix=_letters(n),
                    hours=around_the_clock,
                ),
            ).id
        )
    create_user(
        c.uow(),
        actor=c.system(),
        hasher=c.passwords,
        draft=StaffAccountDraft(
            username="bench", password="bench-password", roles=frozenset({Role.OPERATOR})
        ),
    )
    c.close()
    return walk_ins, reads.id


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post(
        "/api/v1/auth/token", data={"username": "bench", "password": "bench-password"}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def status_code_in_queue(base: str, clinic_id: int, size: int = 100) -> str:
    async with httpx.AsyncClient(base_url=base) as client:
        auth = await _login(client)
        codes = []
        for n in range(size):
            r = await client.post(
                "/api/v1/queue/walk-ins",
                headers=auth,
                json={"clinic_id": clinic_id, "name": f"Pasien {n}", "birth_date": "1980-01-01"},
            )
            codes.append(r.json()["status_code"])
        return codes[size // 2]


async def _subscribe(host: str, port: int, path: str) -> tuple[asyncio.StreamReader, Any]:
    """A bare HTTP/1.1 event-stream subscriber: the measuring client must cost far less than
    the server it measures, and 2,000 full HTTP clients in one Python process do not. Returns
    once the stream has sent the board it starts from (the `snapshot` event): the next data
    line is a change."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    while b": subscribed" not in await reader.readline():
        pass
    while not (await reader.readline()).startswith(b"data:"):
        pass
    return reader, writer


async def sse_fanout(base: str, clinic_id: int, subscribers: int) -> dict[str, float]:
    url = httpx.URL(base)
    host, port = url.host, url.port or 80
    path = f"/api/v1/clinics/{clinic_id}/events"
    streams = []
    for start in range(0, subscribers, 200):  # connect in waves, as a waiting room fills up
        streams += await asyncio.wait_for(
            asyncio.gather(
                *(_subscribe(host, port, path) for _ in range(min(200, subscribers - start)))
            ),
            timeout=120,
        )
    received: list[float] = []

    async def first_event(reader: asyncio.StreamReader) -> None:
        while not (await reader.readline()).startswith(b"data:"):
            pass
        received.append(time.perf_counter())

    waiting = [asyncio.create_task(first_event(reader)) for reader, _ in streams]
    async with httpx.AsyncClient(base_url=base) as other:
        auth = await _login(other)
        sent = time.perf_counter()
        await other.post(
            "/api/v1/queue/walk-ins",
            headers=auth,
            json={"clinic_id": clinic_id, "name": "Trigger", "birth_date": "1980-01-01"},
        )
    _done, pending = await asyncio.wait(waiting, timeout=10)
    for task in pending:
        task.cancel()
    for _, writer in streams:
        writer.close()
    latencies = sorted(t - sent for t in received)
    pick = lambda q: latencies[min(int(q * len(latencies)), len(latencies) - 1)]  # noqa: E731
    return {
        "received": len(latencies),
        "p50": pick(0.5),
        "p99": pick(0.99),
        "max": latencies[-1] if latencies else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument(
        "--clinics",
        type=int,
        default=20,
        help="walk-ins go round these clinics (a hospital's poli); 1 sends all to one line",
    )
    parser.add_argument(
        "--no-group-commit", action="store_true", help="one transaction per write (SQLite)"
    )
    parser.add_argument("--sqlite-synchronous", choices=["FULL", "NORMAL"], default="FULL")
    args = parser.parse_args()
    server_env = {
        "ANTREAN_GROUP_COMMIT": "false" if args.no_group_commit else "true",
        "ANTREAN_SQLITE_SYNCHRONOUS": args.sqlite_synchronous,
    }
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    with scratch_database(args.db) as (url, workdir):
        walk_in_clinics, reads = seed(url, workdir, args.clinics)
        common = {"connections": args.connections, "threads": 2}
        with running_server(
            url, workdir, secret=SECRET, workers=args.workers, extra_env=server_env
        ) as base:
            token = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": "bench", "password": "bench-password"},
            ).json()
            code = asyncio.run(status_code_in_queue(base, reads))
            wrk(f"{base}/healthz", duration=2, script=None, **common)
            health = wrk(f"{base}/healthz", duration=args.duration, script=None, **common)
            status = wrk(
                f"{base}/api/v1/queue/status/{code}", duration=args.duration, script=None, **common
            )
            script = workdir / "walk_in.lua"
            clinic_ids = ", ".join(str(n) for n in walk_in_clinics)
            script.write_text(WALK_IN_LUA % {"token": token["access_token"], "clinics": clinic_ids})
            walk = wrk(
                f"{base}/api/v1/queue/walk-ins", duration=args.duration, script=script, **common
            )
            sse = asyncio.run(sse_fanout(base, reads, args.subscribers))
    print(
        f"\n== queue benchmark: {args.db}, {args.workers} server process(es), "
        f"walk-ins over {args.clinics} clinic(s), SQLite synchronous={args.sqlite_synchronous}, "
        f"group commit {'off' if args.no_group_commit else 'on'} =="
    )
    print(f"healthz      {health['rps']:9.0f} req/s   p99 {health['p99_ms']:7.2f} ms")
    print(
        f"walk-ins     {walk['rps']:9.0f} req/s   p50 {walk['p50_ms']:7.2f} ms   "
        f"p99 {walk['p99_ms']:7.2f} ms   non-2xx {walk['non2xx']}   "
        f"ratio {walk['rps'] / health['rps']:.3f}"
    )
    print(
        f"status reads {status['rps']:9.0f} req/s   p50 {status['p50_ms']:7.2f} ms   "
        f"p99 {status['p99_ms']:7.2f} ms   non-2xx {status['non2xx']}   "
        f"ratio {status['rps'] / health['rps']:.3f}"
    )
    print(
        f"SSE fan-out  {sse['received']}/{args.subscribers} subscribers got the event: "
        f"p50 {sse['p50'] * 1000:.0f} ms, p99 {sse['p99'] * 1000:.0f} ms, "
        f"max {sse['max'] * 1000:.0f} ms"
    )
    ok = walk["non2xx"] == 0 and status["non2xx"] == 0 and sse["received"] == args.subscribers
    print("check        " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

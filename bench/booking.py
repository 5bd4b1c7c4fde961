"""Booking throughput on a live server, against the same server's /healthz in the same run.

    python bench/booking.py --db sqlite|postgresql [--workers N] [--duration 10] [--connections 64]
    python bench/booking.py --db sqlite|postgresql --messages-cost [--rounds 4]

Seeds a facility with more free places than the run can take, starts uvicorn with the real app,
and drives it with wrk (a C load generator, so it is not the bottleneck). Each request books a
distinct free place for a distinct patient; five requests share each slot, so they also contend.
Prints bookings/s, p50/p99 latency, /healthz requests/s and the ratio, then checks the database:
zero errors, zero overbooking, every successful booking stored exactly once.

With --messages-cost: the same load against servers with messages on and off (the booking
confirmation written to the outbox in the booking's transaction, or not), in the order on, off,
off, on, ... each on a fresh database; the cost of the outbox row is the difference of the mean
bookings/s. The embedded message worker is off in both, so only the writing is measured.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from datetime import date, time, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select

from antrean.bootstrap import build, ensure_facility
from antrean.config import Settings
from antrean.domain.identity import Role, StaffAccountDraft
from antrean.persistence import tables as t
from antrean.persistence.migrate import upgrade
from antrean.persistence.protect import keyring_of
from antrean.services import accounts
from antrean.testing.live_server import running_server

sys.path.insert(0, str(Path(__file__).parent))
from databases import scratch_database

from antrean.testing.seed import open_all_week_clinic

SECRET = "benchmark-secret-" + "b" * 40
CAPACITY = 5
# How the REST API is asked to book slot %d for patient %d: path, media type, Lua format.
REST_BOOKING = ("/api/v1/appointments", "application/json", '{"slot_id": %d, "patient_id": %d}')

LUA = """
local slots = {%(slots)s}
local capacity = %(capacity)d
local patient0 = %(patient0)d
local nthreads = %(threads)d
local threads = {}
local counter = 0
ok = 0
failed = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "%(media)s"
  wrk.headers["Authorization"] = "Bearer %(token)s"
end

function request()
  local i = counter * nthreads + tid
  counter = counter + 1
  local slot = slots[math.floor(i / capacity) %% #slots + 1]
  return wrk.format(nil, "%(path)s", nil, string.format('%(body)s', slot, patient0 + i))
end

function response(status, headers, body)
  if status == 201 then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_failed = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_failed = total_failed + thread:get("failed")
  end
  io.write(string.format("BENCH ok=%%d failed=%%d\\n", total_ok, total_failed))
end
"""


def script_request(booking: tuple[str, str, str]) -> dict[str, str]:
    path, media, body = booking
    return {"path": path, "media": media, "body": body}


def seed(
    url: str, workdir: Path, doctors: int, patients: int, **settings: object
) -> tuple[list[int], int]:
    """Clinic, doctors with 10-minute slots 06:00-22:00 every day, patients. Returns slot ids.
    `settings` go to the seeding's own settings (as `ANTREAN_...` would)."""
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    c = build(
        Settings(  # type: ignore[arg-type]
            database_url=url, data_dir=workdir, environment="test", secret_key=SECRET, **settings
        )
    )
    ensure_facility(c)
    open_all_week_clinic(
        c, doctors=doctors, start=time(6), end=time(22), slot_minutes=10, capacity=CAPACITY
    )
    accounts.create_user(
        c.uow(),
        actor=c.system(),
        hasher=c.passwords,
        draft=StaffAccountDraft(
            username="bench", password="bench-password", roles=frozenset({Role.OPERATOR})
        ),
    )
    tomorrow = c.clock.now().astimezone(c.policy.time_zone).date() + timedelta(days=1)
    with c.db.engine.begin() as conn:
        slot_ids = list(
            conn.execute(
                select(t.slot.c.id).where(t.slot.c.day >= tomorrow).order_by(t.slot.c.id)
            ).scalars()
        )
        now = c.clock.now()
        keys = keyring_of(conn)
        rows = [
            {
                "facility_id": 1,
                "mrn": f"B-{n:07d}",
                "mrn_index": keys.blind("mrn", f"B-{n:07d}"),
                "name": f"Pasien {n}",
                "birth_date": date(1980, 1, 1),
                "sex": "unknown",
                "created_at": now,
            }
            for n in range(patients)
        ]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(t.patient), rows[start : start + 5000])
        patient0 = conn.execute(select(func.min(t.patient.c.id))).scalar_one()
    c.close()
    return slot_ids, int(patient0)


def wrk(url: str, *, connections: int, threads: int, duration: int, script: Path | None) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "raw": out}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        result[f"p{pct}_ms"] = (
            value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
        )
    m = re.search(r"BENCH ok=(\d+) failed=(\d+)", out)
    if m:
        result["ok"], result["failed"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = m.group(1) if m else ""
    return result


def verify(url: str) -> dict[str, int]:
    engine = create_engine(url)
    s, a = t.slot, t.appointment
    with engine.connect() as conn:
        over = conn.execute(select(func.count()).select_from(s).where(s.c.booked > s.c.capacity))
        facts = {
            "overbooked_slots": over.scalar_one(),
            "appointments": conn.execute(select(func.count()).select_from(a)).scalar_one(),
            "booked_places": conn.execute(
                select(func.coalesce(func.sum(s.c.booked), 0))
            ).scalar_one(),
        }
    engine.dispose()
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--doctors", type=int, default=10)
    parser.add_argument("--patients", type=int, default=80_000)
    parser.add_argument("--sqlite-synchronous", default="FULL")
    parser.add_argument("--messages-cost", action="store_true")
    parser.add_argument("--rounds", type=int, default=4, help="--messages-cost: runs (even)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package 'wrk')", file=sys.stderr)
        return 2
    if args.messages_cost:
        return _messages_cost(args)
    with scratch_database(args.db) as (url, workdir):
        return _run(args, url, workdir)


def _messages_cost(args: argparse.Namespace) -> int:
    rates: dict[bool, list[float]] = {True: [], False: []}
    for n in range(args.rounds):
        on = (n // 2) % 2 == n % 2  # on, off, off, on, on, off, ...
        with scratch_database(args.db) as (url, workdir):
            seeded = seed(url, workdir, args.doctors, args.patients)
            env = {
                "ANTREAN_SQLITE_SYNCHRONOUS": args.sqlite_synchronous,
                "ANTREAN_MESSAGES": "true" if on else "false",
                "ANTREAN_EMBEDDED_WORKER": "false",
            }
            book, facts, healthy = _load(args, url, workdir, env, seeded)
            if not healthy:
                print(f"FAILED: {book} {facts}")
                return 1
            with create_engine(url).connect() as conn:
                messages = conn.execute(
                    select(func.count()).select_from(t.outbox_message)
                ).scalar_one()
            if messages != (facts["appointments"] if on else 0):
                print(f"FAILED: {messages} messages for {facts['appointments']} bookings")
                return 1
            rates[on].append(book["rps"])
            print(
                f"messages {'on ' if on else 'off'}: {book['rps']:.0f} bookings/s, "
                f"p50 {book['p50_ms']:.1f} ms, p99 {book['p99_ms']:.1f} ms, "
                f"{messages} messages",
                flush=True,
            )
    on_rate, off_rate = (sum(rates[k]) / len(rates[k]) for k in (True, False))
    print(
        f"\n== outbox cost over HTTP: {args.db}, {args.workers} server process(es), "
        f"{args.connections} connections, {args.duration}s a run ==\n"
        f"bookings/s with messages {on_rate:.0f}, without {off_rate:.0f} "
        f"(means of {len(rates[True])} runs each); "
        f"cost {(off_rate - on_rate) / off_rate * 100:.1f}%"
    )
    return 0


def _run(args: argparse.Namespace, url: str, workdir: Path) -> int:
    print(f"seeding {args.db} ...", flush=True)
    seeded = seed(url, workdir, args.doctors, args.patients)
    env = {"ANTREAN_SQLITE_SYNCHRONOUS": args.sqlite_synchronous}
    book, facts, healthy = _load(args, url, workdir, env, seeded, health_too=True)
    health = book["health"]
    ratio = book["rps"] / health["rps"]
    print(
        f"\n== booking benchmark: {args.db}, {args.workers} server process(es), "
        f"{args.connections} connections, {args.duration}s =="
    )
    print(
        f"healthz     {health['rps']:9.0f} req/s   p50 {health['p50_ms']:6.2f} ms   "
        f"p99 {health['p99_ms']:6.2f} ms"
    )
    print(
        f"bookings    {book['rps']:9.0f} req/s   p50 {book['p50_ms']:6.2f} ms   "
        f"p99 {book['p99_ms']:6.2f} ms"
    )
    print(f"ratio       bookings/healthz = {ratio:.3f}")
    print(
        f"responses   201: {book.get('ok')}, other: {book.get('failed')}, "
        f"socket errors: {book['socket_errors'] or 'none'}"
    )
    print(
        f"database    appointments {facts['appointments']}, booked places "
        f"{facts['booked_places']}, overbooked slots {facts['overbooked_slots']}"
    )
    print("check       " + ("OK: zero errors, zero overbooking" if healthy else "FAILED"))
    return 0 if healthy else 1


def _load(
    args: argparse.Namespace,
    url: str,
    workdir: Path,
    env: dict[str, str],
    seeded: tuple[list[int], int],
    *,
    health_too: bool = False,
) -> tuple[dict, dict[str, int], bool]:
    """Bookings against a server on the seeded database (and /healthz after, if asked); the
    wrk figures, the database's facts, and whether they add up."""
    slot_ids, patient0 = seeded
    places = min(len(slot_ids) * CAPACITY, args.patients)
    with running_server(url, workdir, secret=SECRET, workers=args.workers, extra_env=env) as base:
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "bench", "password": "bench-password"}
        ).json()
        script = workdir / "book.lua"
        script.write_text(
            LUA
            % {
                "slots": ",".join(map(str, slot_ids[: places // CAPACITY])),
                "capacity": CAPACITY,
                "patient0": patient0,
                "threads": args.threads,
                "token": token["access_token"],
                **script_request(REST_BOOKING),
            }
        )
        common = {"connections": args.connections, "threads": args.threads}
        wrk(f"{base}/healthz", duration=2, script=None, **common)  # warm-up
        book = wrk(base, duration=args.duration, script=script, **common)
        if health_too:
            book["health"] = wrk(f"{base}/healthz", duration=args.duration, script=None, **common)
    facts = verify(url)
    # wrk stops counting at the deadline while up to one request per connection is still in
    # flight; the server finishes those, so the database may hold a few more than wrk saw.
    in_flight = facts["appointments"] - (book.get("ok") or 0)
    healthy = (
        book.get("failed") == 0
        and facts["overbooked_slots"] == 0
        and facts["appointments"] == facts["booked_places"]
        and 0 <= in_flight <= args.connections
    )
    return book, facts, healthy


if __name__ == "__main__":
    sys.exit(main())

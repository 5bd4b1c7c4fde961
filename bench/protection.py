"""What protecting patient data costs: booking and walk-in throughput with sealed fields and
the audit log on, against the same build with both off, in the same run.

    python bench/protection.py --db sqlite|postgresql [--rounds 4] [--duration 10]

Each round runs both loads on fresh databases seeded alike, with ANTREAN_DATA_ENCRYPTION and
ANTREAN_AUDIT both true or both false, in the order on, off, off, on, ... (so drift over the
run falls on both sides):
- bookings/s: bench/booking.py's load (64 connections, each request a distinct free place for
  a distinct patient; the booking's event, message and audit entry in its transaction);
- walk-ins/s: bench/queue_speed.py's load (64 connections, each a new patient registered and
  given a number, round 20 clinics; with protection on, the patient's fields are sealed, the
  name's word indexes written and the audit entry appended).
The cost is the difference of the means. Each run is checked: no error, no overbooking, and
with protection on, an audit entry for every booking and walk-in and no patient name stored
in plain text; with it off, no audit entry.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).parent))
import booking
import queue_speed
from databases import scratch_database

from antrean.persistence import tables as t
from antrean.testing.live_server import running_server


def _env(on: bool, sqlite_synchronous: str) -> dict[str, str]:
    flag = "true" if on else "false"
    return {
        "ANTREAN_DATA_ENCRYPTION": flag,
        "ANTREAN_AUDIT": flag,
        "ANTREAN_EMBEDDED_WORKER": "false",
        "ANTREAN_SQLITE_SYNCHRONOUS": sqlite_synchronous,
    }


def _facts(url: str) -> tuple[int, bool]:
    """How many audit entries, and whether a patient's name is stored in plain text."""
    engine = create_engine(url)
    with engine.connect() as conn:
        entries = conn.execute(select(func.count()).select_from(t.audit_entry)).scalar_one()
        plain = conn.execute(
            text("SELECT count(*) FROM patient WHERE name LIKE 'Pasien%'")
        ).scalar_one()
    engine.dispose()
    return int(entries), int(plain) > 0


def _bookings(args: argparse.Namespace, on: bool) -> float:
    settings = {"data_encryption": on, "audit": on}
    with scratch_database(args.db) as (url, workdir):
        seeded = booking.seed(url, workdir, args.doctors, args.patients, **settings)
        rate, facts, healthy = booking._load(
            args, url, workdir, _env(on, args.sqlite_synchronous), seeded
        )
        entries, plain = _facts(url)
    booked = facts["appointments"]
    if not healthy or (entries < booked if on else entries != 0) or plain == on:
        raise SystemExit(
            f"FAILED bookings ({'on' if on else 'off'}): {rate} {facts}, "
            f"{entries} audit entries, names stored plain: {plain}"
        )
    return float(rate["rps"])


def _walk_ins(args: argparse.Namespace, on: bool) -> float:
    settings = {"data_encryption": on, "audit": on}
    with scratch_database(args.db) as (url, workdir):
        clinics, _reads = queue_speed.seed(url, workdir, args.clinics, **settings)
        common = {"connections": args.connections, "threads": args.threads}
        with running_server(
            url,
            workdir,
            secret=queue_speed.SECRET,
            workers=args.workers,
            extra_env=_env(on, args.sqlite_synchronous),
        ) as base:
            token = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": "bench", "password": "bench-password"},
            ).json()
            script = workdir / "walk_in.lua"
            script.write_text(
                queue_speed.WALK_IN_LUA
                % {"token": token["access_token"], "clinics": ", ".join(map(str, clinics))}
            )
            queue_speed.wrk(f"{base}/healthz", duration=2, script=None, **common)
            walk = queue_speed.wrk(
                f"{base}/api/v1/queue/walk-ins", duration=args.duration, script=script, **common
            )
        engine = create_engine(url)
        with engine.connect() as conn:
            tickets = conn.execute(select(func.count()).select_from(t.ticket)).scalar_one()
        engine.dispose()
        entries, plain = _facts(url)
    if walk["non2xx"] or (entries < tickets if on else entries != 0) or plain == on:
        raise SystemExit(
            f"FAILED walk-ins ({'on' if on else 'off'}): {walk}, {tickets} tickets, "
            f"{entries} audit entries, names stored plain: {plain}"
        )
    return float(walk["rps"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each setting (even)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--doctors", type=int, default=10)
    parser.add_argument("--patients", type=int, default=80_000)
    parser.add_argument("--clinics", type=int, default=20)
    parser.add_argument("--sqlite-synchronous", default="FULL")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package 'wrk')", file=sys.stderr)
        return 2
    rates: dict[str, dict[bool, list[float]]] = {
        "bookings": {True: [], False: []},
        "walk-ins": {True: [], False: []},
    }
    for n in range(args.rounds * 2):
        on = (n // 2) % 2 == n % 2  # on, off, off, on, on, off, ...
        b, w = _bookings(args, on), _walk_ins(args, on)
        rates["bookings"][on].append(b)
        rates["walk-ins"][on].append(w)
        print(
            f"protection {'on ' if on else 'off'}: {b:7.0f} bookings/s  {w:7.0f} walk-ins/s",
            flush=True,
        )
    print(
        f"\n== protection cost over HTTP: {args.db}, {args.workers} server process(es), "
        f"{args.connections} connections, {args.duration}s a run, {args.rounds} runs each =="
    )
    for name, by in rates.items():
        on_rate, off_rate = (sum(by[k]) / len(by[k]) for k in (True, False))
        print(
            f"{name:9} on {on_rate:7.0f}/s   off {off_rate:7.0f}/s   "
            f"cost {(off_rate - on_rate) / off_rate * 100:5.1f}%   "
            f"(runs on: {', '.join(f'{r:.0f}' for r in by[True])}; "
            f"off: {', '.join(f'{r:.0f}' for r in by[False])})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

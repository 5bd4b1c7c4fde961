"""Messages: how fast the worker delivers, how fast the reminder job finds its bookings, and what
writing the outbox row costs a booking.

    python bench/notify.py --db sqlite|postgresql [--part all|worker|scale|reminders|outbox]

- worker: booking confirmations (real bookings, rendered from the records) delivered by one
  worker through the HTTP gateway channel to a local gateway (`gateway_server.py`, a process of
  its own), against the same gateway driven with bare HTTP posts from as many threads (the
  ceiling the channel could reach) in this run.
- scale: the same backlog drained by 1, 2 and 4 `antrean worker` processes (PostgreSQL, where
  several workers share the outbox); messages/s for each, and how many went out twice (0).
- reminders: the reminder job over 100,000 bookings (about 3,300 a day for 30 days), against a
  plain count of tomorrow's bookings in the same run.
- outbox: bookings per second through the booking use case with messages on and off, in
  alternating blocks of the same run; the cost of the outbox row is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time as clock
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select, text

from antrean.bootstrap import MessageWorker, build, build_deliverer, ensure_facility
from antrean.config import Settings
from antrean.domain.booking import BookingDraft
from antrean.domain.identity import Actor
from antrean.domain.notifications import MessageState
from antrean.integrations.gateways import HttpGatewayChannel
from antrean.integrations.http_post import HttpPoster
from antrean.persistence import tables as t
from antrean.persistence.migrate import upgrade
from antrean.persistence.protect import keyring_of
from antrean.services.booking import book_appointment
from antrean.services.notifications import ReminderRule, run_reminders
from antrean.testing.live_server import free_port
from antrean.testing.seed import open_all_week_clinic

sys.path.insert(0, str(Path(__file__).parent))
from databases import scratch_database

SECRET = "benchmark-secret-" + "n" * 40
TOKEN = "bench-gateway-token"


def settings(url: str, workdir: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "data_dir": workdir,
        "environment": "test",
        "secret_key": SECRET,
        "quiet_hours": "off",
        "embedded_worker": False,
        "booking_cutoff_minutes": 0,
        "max_appointments_per_patient_clinic_day": 20,
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


def seed(url: str, workdir: Path, patients: int, *, doctors: int = 4, capacity: int = 50):
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    c = build(settings(url, workdir))
    ensure_facility(c)
    open_all_week_clinic(
        c, doctors=doctors, start=time(6), end=time(22), slot_minutes=10, capacity=capacity
    )
    now = c.clock.now()
    tomorrow = now.astimezone(c.policy.time_zone).date() + timedelta(days=1)
    with c.db.engine.begin() as conn:
        keys = keyring_of(conn)
        rows = [
            {
                "facility_id": 1,
                "mrn": f"N-{n:07d}",
                "mrn_index": keys.blind("mrn", f"N-{n:07d}"),
                "name": f"Pasien {n}",
                "birth_date": date(1980, 1, 1),
                "sex": "unknown",
                "phone": f"+62812{n:08d}",
                "phone_index": keys.blind("phone", f"+62812{n:08d}"),
                "created_at": now,
            }
            for n in range(patients)
        ]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(t.patient), rows[start : start + 5000])
        patient_ids = list(conn.execute(select(t.patient.c.id).order_by(t.patient.c.id)).scalars())
        slot_ids = list(
            conn.execute(
                select(t.slot.c.id).where(t.slot.c.day >= tomorrow).order_by(t.slot.c.id)
            ).scalars()
        )
    c.close()
    return patient_ids, slot_ids


def book_many(c, patient_ids: list[int], slot_ids: list[int], capacity: int = 50) -> None:
    actor = Actor.system(1)
    for i, patient_id in enumerate(patient_ids):
        book_appointment(
            c.uow(),
            actor=actor,
            policy=c.policy,
            draft=BookingDraft(slot_id=slot_ids[i // capacity], patient_id=patient_id),
        )


def book_grouped(c, patient_ids: list[int], slot_ids: list[int], at_once: int) -> None:
    """The same bookings as the server makes them under load: `at_once` callers at a time
    through `Container.write`, which on SQLite runs the writes that arrive together in one
    transaction (group commit)."""
    actor = Actor.system(1)

    def one(i: int, patient_id: int):  # type: ignore[no-untyped-def]
        draft = BookingDraft(slot_id=slot_ids[i // 50], patient_id=patient_id)
        return c.write(book_appointment, c.uow(), actor=actor, policy=c.policy, draft=draft)

    async def run() -> None:
        for start in range(0, len(patient_ids), at_once):
            chunk = patient_ids[start : start + at_once]
            await asyncio.gather(*(one(start + k, p) for k, p in enumerate(chunk)))

    asyncio.run(run())


class Gateway:
    """`bench/gateway_server.py` in a process of its own."""

    def __enter__(self) -> Gateway:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        script = Path(__file__).parent / "gateway_server.py"
        self.proc = subprocess.Popen([sys.executable, str(script), str(port)])
        for _ in range(200):
            try:
                httpx.get(f"{self.url}/stats", timeout=1)
                return self
            except httpx.TransportError:
                clock.sleep(0.05)  # waiting for a child process to listen
        raise RuntimeError("the gateway did not start")

    def stats(self) -> dict[str, int]:
        found: dict[str, int] = httpx.get(f"{self.url}/stats", timeout=5).json()
        return found

    def wait_taken(self, count: int, timeout: float) -> None:
        deadline = clock.monotonic() + timeout
        while self.stats()["taken"] < count:
            if clock.monotonic() > deadline:
                raise RuntimeError("the gateway did not get every message")
            clock.sleep(0.1)  # polling another process's counter

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def gateway_channel(gateway: Gateway) -> HttpGatewayChannel:
    return HttpGatewayChannel(url=f"{gateway.url}/send", token=TOKEN, timeout=10)


def bare_posts(gateway: Gateway, count: int, threads: int) -> float:
    """The ceiling: the same gateway, the same number of threads, the channel's HTTP client,
    posts with no database."""
    client = HttpPoster(timeout=10)

    def post(n: int) -> None:
        client.post_form(
            f"{gateway.url}/send",
            {"target": f"62812{n:08d}", "message": "x" * 300},
            headers={"Authorization": TOKEN},
        )

    start = clock.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(count)))
    elapsed = clock.perf_counter() - start
    client.close()
    return count / elapsed


def part_worker(kind: str, messages: int, threads: int) -> None:
    with scratch_database(kind) as (url, workdir), Gateway() as gateway:
        patient_ids, slot_ids = seed(url, workdir, messages)
        c = build(settings(url, workdir, worker_threads=threads, worker_batch=100))
        book_many(c, patient_ids, slot_ids)
        worker = MessageWorker(c, build_deliverer(c, channels=[gateway_channel(gateway)]))
        start = clock.perf_counter()
        worker.drain()
        elapsed = clock.perf_counter() - start
        worker.deliverer.close()
        with c.db.engine.connect() as conn:
            states = dict(
                conn.execute(
                    select(t.outbox_message.c.state, func.count()).group_by(
                        t.outbox_message.c.state
                    )
                ).all()
            )
        c.close()
        rate = messages / elapsed
        twice = gateway.stats()["twice"]
        ceiling = bare_posts(gateway, messages, threads)
        print(
            f"worker [{kind}]: {messages} booking confirmations in {elapsed:.2f} s = "
            f"{rate:.0f} msg/s (1 worker: {c.settings.worker_lanes} lanes, {threads} threads); "
            f"bare gateway posts {ceiling:.0f}/s; "
            f"ratio {rate / ceiling:.2f}; states {states}; sent twice {twice}"
        )
        assert states.get(MessageState.SENT.value) == messages and twice == 0


def part_scale(kind: str, messages: int) -> None:
    if kind != "postgresql":
        print("scale: PostgreSQL only (several workers share the outbox there)")
        return
    for workers in (1, 2, 4):
        with scratch_database(kind) as (url, workdir), Gateway() as gateway:
            patient_ids, slot_ids = seed(url, workdir, messages)
            c = build(settings(url, workdir))
            book_many(c, patient_ids, slot_ids)
            c.close()
            env = {
                **os.environ,
                "ANTREAN_DATABASE_URL": url,
                "ANTREAN_DATA_DIR": str(workdir),
                "ANTREAN_ENVIRONMENT": "test",
                "ANTREAN_SECRET_KEY": SECRET,
                "ANTREAN_QUIET_HOURS": "off",
                "ANTREAN_WHATSAPP": "gateway",
                "ANTREAN_WA_GATEWAY_URL": f"{gateway.url}/send",
                "ANTREAN_WA_GATEWAY_TOKEN": TOKEN,
                "ANTREAN_WORKER_BATCH": "100",
                "ANTREAN_WORKER_IDLE_SECONDS": "0.2",
            }
            start = clock.perf_counter()
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "antrean", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(workers)
            ]
            gateway.wait_taken(messages, timeout=600)
            elapsed = clock.perf_counter() - start
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
            twice = gateway.stats()["twice"]
            print(
                f"scale [{kind}]: {workers} worker process(es): {messages} messages in "
                f"{elapsed:.2f} s (start-up included) = {messages / elapsed:.0f} msg/s; "
                f"sent twice {twice}"
            )


def part_reminders(kind: str, bookings: int) -> None:
    with scratch_database(kind) as (url, workdir):
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        s = settings(url, workdir, reminder_hour=0)
        c = build(s)
        ensure_facility(c)
        clinic_id, doctor_ids = open_all_week_clinic(
            c, doctors=1, start=time(8), end=time(9), slot_minutes=60, capacity=1
        )
        now = c.clock.now()
        tz = c.policy.time_zone
        today = now.astimezone(tz).date()
        rng = random.Random(7)
        with c.db.engine.begin() as conn:
            conn.execute(
                insert(t.patient),
                [
                    {
                        "facility_id": 1,
                        "mrn": "R-1",
                        "mrn_index": keyring_of(conn).blind("mrn", "R-1"),
                        "name": "Pasien",
                        "birth_date": date(1980, 1, 1),
                        "sex": "unknown",
                        "created_at": now - timedelta(days=2),
                    }
                ],
            )
            patient_id = conn.execute(select(t.patient.c.id)).scalar_one()
            rows = []
            for n in range(bookings):
                day = today + timedelta(days=rng.randrange(0, 30))
                start_at = datetime.combine(day, time(8), tzinfo=tz).astimezone(UTC)
                rows.append(
                    {
                        "facility_id": 1,
                        "code": f"R{n:07d}",
                        "slot_id": None,
                        "patient_id": patient_id,
                        "clinic_id": clinic_id,
                        "doctor_id": doctor_ids[0],
                        "day": day,
                        "start_at": start_at,
                        "end_at": start_at + timedelta(minutes=15),
                        "status": "booked" if n % 10 else "cancelled",
                        "created_at": now - timedelta(days=2),
                        "updated_at": now - timedelta(days=2),
                    }
                )
            for start in range(0, len(rows), 10_000):
                conn.execute(insert(t.appointment), rows[start : start + 10_000])
            if kind == "postgresql":
                conn.execute(text("ANALYZE"))
        tomorrow = today + timedelta(days=1)
        with c.db.engine.connect() as conn:
            start = clock.perf_counter()
            due = conn.execute(
                select(func.count()).where(
                    t.appointment.c.facility_id == 1,
                    t.appointment.c.day == tomorrow,
                    t.appointment.c.status == "booked",
                )
            ).scalar_one()
            counted = clock.perf_counter() - start
        start = clock.perf_counter()
        queued = run_reminders(c.uow(), actor=c.system(), tz=tz, rule=ReminderRule(hour=0))
        elapsed = clock.perf_counter() - start
        c.close()
        print(
            f"reminders [{kind}]: {bookings} bookings, {queued} reminders queued for tomorrow "
            f"in {elapsed * 1000:.1f} ms; a bare count of them {counted * 1000:.1f} ms; "
            f"ratio {elapsed / counted:.1f}"
        )
        assert queued == due, (queued, due)


def part_outbox(kind: str, bookings: int, rounds: int, at_once: int) -> None:
    """Blocks of `bookings` bookings with messages on and off in the order on, off, off, on,
    on, off... (so neither always runs first, and both see the database grow alike), after a
    warm-up block that is not counted; the cost is from the total time of each kind. Short
    blocks interleaved many times: this machine's speed drifts by a third over a minute, and
    long rounds measured that drift more than the outbox.

    One booking per transaction, and on SQLite also as the server books under load: `at_once`
    at a time through group commit."""
    ways = [("one at a time", 0)]
    if kind == "sqlite":
        ways.append((f"group commit, {at_once} at a time", at_once))
    for label, grouped in ways:
        with scratch_database(kind) as (url, workdir):
            patient_ids, slot_ids = seed(url, workdir, bookings * (rounds + 1), capacity=50)
            c = build(settings(url, workdir))
            spent: dict[bool, float] = {True: 0.0, False: 0.0}
            order = [None] + [(n // 2) % 2 == n % 2 for n in range(rounds)]
            for n, on in enumerate(order):
                c.uow_factory.messages = bool(on)
                chunk = patient_ids[n * bookings : (n + 1) * bookings]
                slots = slot_ids[n * bookings // 50 :]
                start = clock.perf_counter()
                if grouped:
                    book_grouped(c, chunk, slots, grouped)
                else:
                    book_many(c, chunk, slots)
                if on is not None:
                    spent[on] += clock.perf_counter() - start
            with c.db.engine.connect() as conn:
                rows = conn.execute(select(func.count()).select_from(t.outbox_message)).scalar_one()
            c.close()
            each = bookings * rounds / 2
            on_rate, off_rate = each / spent[True], each / spent[False]
            print(
                f"outbox [{kind}, {label}]: bookings/s with messages {on_rate:.0f}, without "
                f"{off_rate:.0f} ({rounds} alternating blocks of {bookings}, {each:.0f} bookings "
                f"each way); cost {(off_rate - on_rate) / off_rate * 100:.1f}%; outbox rows {rows}"
            )
            assert rows == each


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--part", choices=["all", "worker", "scale", "reminders", "outbox"], default="all"
    )
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=Settings().worker_threads)
    parser.add_argument("--reminder-bookings", type=int, default=100_000)
    parser.add_argument("--bookings", type=int, default=100, help="outbox: bookings a block")
    parser.add_argument("--rounds", type=int, default=80, help="outbox: blocks (even)")
    parser.add_argument("--at-once", type=int, default=16, help="outbox: callers at a time")
    args = parser.parse_args()
    if args.part in ("all", "worker"):
        part_worker(args.db, args.messages, args.threads)
    if args.part in ("all", "scale"):
        part_scale(args.db, args.messages)
    if args.part in ("all", "reminders"):
        part_reminders(args.db, args.reminder_bookings)
    if args.part in ("all", "outbox"):
        part_outbox(args.db, args.bookings, args.rounds, args.at_once)


if __name__ == "__main__":
    main()

"""Delivery reliability, end to end: real SQLite and PostgreSQL, real `antrean worker`
processes, local fake providers over real HTTP and SMTP, and no stand-ins for our own code.

What is proven here:

- the outbox is transactional: a change that rolls back leaves no message, one that commits
  leaves exactly one;
- four worker processes sharing one PostgreSQL outbox send 5,000 messages exactly once, in
  order per recipient, and all of them share the work;
- a worker killed (SIGKILL) while its requests hang at the provider loses nothing: another
  takes its messages over when the lease ends, and only the requests in flight at the kill may
  go twice;
- a provider down for more than ten minutes loses nothing with the default retry policy, holds
  up no other channel, and a patient's messages still go in order;
- retries end in `failed`, visible to staff, who can send the message again;
- a permanent refusal passes the message on to the next medium in the same round;
- reminders: none for a cancelled booking, skipped when cancelled after being queued, held in
  quiet hours until they end.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from antrean.bootstrap import Container, build, build_deliverer, ensure_facility
from antrean.config import Settings
from antrean.domain.booking import BookingDraft, appointment_event
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.events import EventKind
from antrean.domain.notifications import (
    Medium,
    Message,
    MessageFilter,
    MessageKind,
    MessageState,
    OutboxDraft,
    QuietHours,
)
from antrean.domain.patients import PatientDraft
from antrean.persistence import tables as t
from antrean.services.booking import book_appointment, cancel_appointment
from antrean.services.delivery import Deliverer
from antrean.services.notifications import ReminderRule, announce, run_reminders
from antrean.services.patients import register_patient
from tests.integration.conftest import JKT, SECRET, Api, make_settings
from tests.providers.gateway import FakeFonnte, FakeSmsGateway
from tests.providers.smtp import FakeSmtp

MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)

# --- Helpers -------------------------------------------------------------------------------


@pytest.fixture
def deliverers(container: Container) -> Iterator[Callable[..., Deliverer]]:
    """Builds an in-process `Deliverer` the way `antrean worker` does (`build_deliverer`), from
    the test container's settings with some changed (channels, retries, quiet hours)."""
    made: list[Deliverer] = []

    def make(**overrides: Any) -> Deliverer:
        settings = Settings(**{**container.settings.model_dump(), **overrides})
        deliverer = build_deliverer(dataclasses.replace(container, settings=settings))
        made.append(deliverer)
        return deliverer

    yield make
    for deliverer in made:
        deliverer.close()


@pytest.fixture
def fonnte() -> Iterator[FakeFonnte]:
    with FakeFonnte() as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as fake:
        yield fake


@pytest.fixture
def sms() -> Iterator[FakeSmsGateway]:
    with FakeSmsGateway() as fake:
        yield fake


def gateway_settings(fake: FakeFonnte) -> dict[str, Any]:
    return {
        "whatsapp": "gateway",
        "wa_gateway_url": fake.url + "/send",
        "wa_gateway_token": fake.token,
    }


def smtp_settings(fake: FakeSmtp) -> dict[str, Any]:
    return {
        "email": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": fake.port,
        "smtp_security": "none",
        "smtp_sender": "Klinik <klinik@klinik.example>",
    }


def deliver(deliverer: Deliverer) -> int:
    """Rounds until nothing more is due now; how many messages were handled."""
    total = 0
    for _ in range(100):
        handled = deliverer.run_once()
        if not handled:
            return total
        total += handled
    raise AssertionError("the deliverer kept finding work: a message loops")


def all_messages(container: Container) -> list[Message]:
    """Every outbox row, oldest first."""
    uow = container.uow()
    with uow():
        found, total = uow.outbox.find(
            container.settings.facility_id, MessageFilter(), Page(1, 100_000)
        )
    assert len(found) == total
    return sorted(found, key=lambda m: m.id)


def message(container: Container, message_id: int) -> Message:
    uow = container.uow()
    with uow():
        found = uow.outbox.get(container.settings.facility_id, message_id)
    assert found is not None
    return found


def new_patient(
    container: Container, name: str, *, phone: str | None = None, email: str | None = None
) -> int:
    patient = register_patient(
        container.uow(),
        actor=container.system(),
        policy=container.policy,
        phones=container.phones,
        draft=PatientDraft(name=name, birth_date=date(1980, 1, 1), phone=phone, email=email),
    )
    return patient.id


def book(container: Container, slot_id: int, patient_id: int, **kwargs: Any) -> Any:
    return book_appointment(
        container.uow(),
        actor=container.system(),
        policy=container.policy,
        draft=BookingDraft(slot_id=slot_id, patient_id=patient_id),
        **kwargs,
    )


def cancel(container: Container, code: str) -> None:
    cancel_appointment(container.uow(), actor=container.system(), code=code, reason="Tidak jadi")


def slots_of(api: Api, day: date) -> list[dict[str, Any]]:
    r = api.client.get(
        "/api/v1/slots", params={"date_from": day.isoformat(), "date_to": day.isoformat()}
    )
    assert r.status_code == 200, r.text
    return [s for s in r.json() if s["day"] == day.isoformat()]


def reply(container: Container, text: str, due_at: datetime, **fields: Any) -> OutboxDraft:
    return OutboxDraft(
        kind=MessageKind.REPLY,
        facility_id=container.settings.facility_id,
        due_at=due_at,
        data={"text": text},
        **fields,
    )


def add_messages(container: Container, drafts: list[OutboxDraft], now: datetime) -> None:
    uow = container.uow()
    with uow(write=True):
        for draft in drafts:
            uow.outbox.add(draft, now)
        uow.commit()


# --- Worker processes ----------------------------------------------------------------------


class Workers:
    """`antrean worker` processes this test started; any still running at the end are killed
    (by their own handles, nothing else)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(
        self, db_url: str, gateway_url: str, token: str, **extra: str
    ) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTREAN_")}
        env.update(
            ANTREAN_DATABASE_URL=db_url,
            ANTREAN_ENVIRONMENT="test",
            ANTREAN_SECRET_KEY=SECRET,
            ANTREAN_DATA_DIR=str(self.tmp_path / f"worker-{n}"),
            # The keys the test's own container made (its data directory is tmp_path/data).
            ANTREAN_DATA_KEYS_FILE=str(self.tmp_path / "data" / "data_keys"),
            ANTREAN_WHATSAPP="gateway",
            ANTREAN_WA_GATEWAY_URL=gateway_url,
            ANTREAN_WA_GATEWAY_TOKEN=token,
            ANTREAN_QUIET_HOURS="off",
            ANTREAN_EMBEDDED_WORKER="false",
        )
        env.update(extra)
        log = self.tmp_path / f"worker-{n}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "antrean", "worker"],
                env=env,
                cwd=self.tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        return self.logs[self.procs.index(proc)].read_text(errors="replace")[-4000:]

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
        """SIGTERM, and the exit status once the process has finished its round."""
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout)

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    yield started
    started.kill_all()


# --- 1. The transactional outbox -----------------------------------------------------------


def confirmations_of(container: Container) -> Counter[int | None]:
    return Counter(
        m.appointment_id for m in all_messages(container) if m.kind is MessageKind.BOOKING_CONFIRMED
    )


def appointment_ids(container: Container) -> set[int]:
    with container.db.engine.connect() as conn:
        return {row[0] for row in conn.execute(select(t.appointment.c.id))}


def test_a_booking_that_rolls_back_writes_no_message(api, clinic_setup, container):
    """Every committed booking has exactly one confirmation row; every refused one (slot full,
    a second booking the same day, an error after `announce`, racing for the last places)
    has none."""
    slot, other_slot, third_slot = slots_of(api, MONDAY)[:3]
    patients = [
        new_patient(container, f"Pasien {i}", phone=f"0812000011{i:02d}") for i in range(12)
    ]

    first = book(container, slot["id"], patients[0])
    second = book(container, slot["id"], patients[1])
    assert confirmations_of(container) == {first.id: 1, second.id: 1}

    # The slot (capacity 2) is full: refused after the confirmation was queued, in the same
    # transaction, so the confirmation goes with it.
    with pytest.raises(AntreanError) as refused:
        book(container, slot["id"], patients[2])
    assert refused.value.code == "slot_full"
    # A second booking the same day in the same clinic: refused the same way.
    with pytest.raises(AntreanError) as duplicate:
        book(container, other_slot["id"], patients[0])
    assert duplicate.value.code == "duplicate_appointment"
    assert len(all_messages(container)) == 2
    assert appointment_ids(container) == {first.id, second.id}

    # An error raised after `announce`, before the commit: neither the event nor its message.
    uow = container.uow()
    with pytest.raises(RuntimeError, match="after announce"), uow(write=True):
        announce(
            uow,
            appointment_event(
                EventKind.APPOINTMENT_CANCELLED, first, at=container.clock.now(), actor_user_id=None
            ),
        )
        raise RuntimeError("after announce")
    assert [m.kind for m in all_messages(container)] == [MessageKind.BOOKING_CONFIRMED] * 2

    # A retried booking with the same idempotency key: one booking, one message.
    again = [
        book(container, other_slot["id"], patients[3], idempotency_key="retry-key-1")
        for _ in range(3)
    ]
    assert {a.id for a in again} == {again[0].id}

    # Eight patients race for the two places of one slot: two win, six roll back.
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(patient_id: int) -> None:
        barrier.wait(timeout=30)
        try:
            book(container, third_slot["id"], patient_id)
            result = "booked"
        except AntreanError as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=race, args=(p,)) for p in patients[4:12]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["booked"] * 2 + ["slot_full"] * 6

    booked = appointment_ids(container)
    assert len(booked) == 5
    confirmations = confirmations_of(container)
    assert set(confirmations) == booked
    assert set(confirmations.values()) == {1}
    assert len(all_messages(container)) == 5


# --- 2. Exactly once with four worker processes (PostgreSQL) -------------------------------

RECIPIENTS = 1250
PER_RECIPIENT = 4  # 5,000 messages


@pytest.mark.slow
def test_four_workers_send_5000_messages_exactly_once_in_order(pg_url, tmp_path, workers):
    """Four `antrean worker` processes share one PostgreSQL outbox (SKIP LOCKED claims, a
    lease each) and one provider: each of 5,000 messages is accepted exactly once, every row
    ends `sent` with the provider's id, each recipient's four messages arrive in the order they
    were written, and every worker took part (each is given its own gateway URL, `?w=N`, so
    the fake provider can tell who sent a request)."""
    container = build(make_settings(pg_url, tmp_path / "data"))
    ensure_facility(container)
    try:
        now = datetime.now(UTC) - timedelta(seconds=1)  # the workers use the system clock
        addresses = [f"+62812{n:08d}" for n in range(RECIPIENTS)]
        texts = {a: [f"Pesan {k + 1} untuk {a}" for k in range(PER_RECIPIENT)] for a in addresses}
        drafts = [
            reply(container, texts[a][k], now, medium=Medium.WHATSAPP, address=a)
            for k in range(PER_RECIPIENT)
            for a in addresses
        ]
        for start in range(0, len(drafts), 1000):  # five big transactions
            add_messages(container, drafts[start : start + 1000], now)
        total = RECIPIENTS * PER_RECIPIENT
        assert len(drafts) == total

        with FakeFonnte() as fake:
            # A provider that answers: however slow this machine gets under the load, no
            # answer is given up on (a timed-out answer is the one case that may go twice).
            procs = [
                workers.start(
                    pg_url,
                    f"{fake.url}/send?w={n}",
                    fake.token or "",
                    ANTREAN_CHANNEL_TIMEOUT_SECONDS="120",
                )
                for n in range(4)
            ]
            accepted = fake.wait_accepted(total, timeout=300)
            statuses = [workers.stop(p) for p in procs]
            assert statuses == [0, 0, 0, 0], [workers.log_of(p) for p in procs]

            assert len(accepted) == total
            assert fake.duplicates() == {}, [workers.log_of(p) for p in procs]
            assert len(fake.requests) == total  # nothing was even tried twice
            for a in addresses:
                assert fake.accepted_for(a) == PER_RECIPIENT
                assert fake.accepted_texts(a) == texts[a], a
            by_worker = Counter(r.query.get("w") for r in fake.requests)
            provider_ids = {(x.recipient, x.text): x.provider_id for x in fake.accepted}

        assert set(by_worker) == {"0", "1", "2", "3"}, by_worker
        assert sum(by_worker.values()) == total

        rows = all_messages(container)
        assert len(rows) == total
        assert Counter(m.state for m in rows) == {MessageState.SENT: total}
        for m in rows:
            assert m.tries == 1 and m.transport == "gateway" and m.claimed_until is None
            assert m.provider_id is not None
            assert m.provider_id == provider_ids[(m.address, m.data["text"])]
    finally:
        container.close()


# --- 3. A worker killed in the middle of sending -------------------------------------------

KILL_MESSAGES = 30
IN_FLIGHT = 16  # the worker's sending threads (ANTREAN_WORKER_THREADS default)


def test_a_worker_killed_while_sending_loses_nothing(db_url, container, tmp_path, workers):
    """A worker is SIGKILLed while 16 of its requests hang at the provider; the provider then
    answers them (the answers go nowhere). A second worker takes the killed worker's messages
    over once their lease (10 s) runs out.

    Every message is accepted at least once. Only the messages whose requests were in flight at
    the kill (the hung ones, whose answers were lost) may go twice; every other message goes
    exactly once, and every row ends `sent`. (Here each in-flight one does go twice: nothing
    tells the second worker that the provider took it.) Runs on SQLite and on PostgreSQL."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    addresses = [f"+62813{n:08d}" for n in range(KILL_MESSAGES)]
    add_messages(
        container,
        [
            reply(container, f"Jawaban untuk {a}", now, medium=Medium.WHATSAPP, address=a)
            for a in addresses
        ],
        now,
    )
    with FakeFonnte() as fake:
        fake.mode = "hang"
        first = workers.start(
            db_url,
            f"{fake.url}/send",
            fake.token or "",
            ANTREAN_WORKER_LEASE_SECONDS="10",
            ANTREAN_CHANNEL_TIMEOUT_SECONDS="120",
            ANTREAN_WORKER_THREADS=str(IN_FLIGHT),  # sending threads: as many requests hang
        )
        fake.wait_for(IN_FLIGHT, timeout=60)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        in_flight = {fake.recipient(r) for r in fake.requests}
        assert len(in_flight) == IN_FLIGHT and len(fake.requests) == IN_FLIGHT
        claimed = Counter(m.state for m in all_messages(container))
        assert claimed == {MessageState.SENDING: KILL_MESSAGES}  # all held by the dead worker

        fake.mode = "ok"
        fake.release()  # the provider takes the hung ones after all
        fake.wait_accepted(IN_FLIGHT, timeout=30)

        second = workers.start(
            db_url, f"{fake.url}/send", fake.token or "", ANTREAN_WORKER_LEASE_SECONDS="10"
        )
        fake.wait_accepted(IN_FLIGHT + KILL_MESSAGES, timeout=90)
        assert workers.stop(second) == 0, workers.log_of(second)

        for a in addresses:
            expected = 2 if a in in_flight else 1
            assert fake.accepted_for(a) == expected, (a, a in in_flight)
        assert set(fake.duplicates()) <= {(a, f"Jawaban untuk {a}") for a in in_flight}
        assert len(fake.accepted) == IN_FLIGHT + KILL_MESSAGES

    rows = all_messages(container)
    assert len(rows) == KILL_MESSAGES
    for m in rows:
        assert m.state is MessageState.SENT and m.provider_id and m.claimed_until is None, m
        assert m.tries == 1  # the killed worker never stored an outcome


# --- 4. A provider down for a while --------------------------------------------------------


def test_a_whatsapp_outage_of_ten_minutes_holds_up_nothing_and_loses_nothing(
    container, clock, deliverers, fonnte, smtp
):
    """WhatsApp (a Fonnte gateway) answers 503 for twelve minutes while e-mail works. E-mail
    messages keep going out at once; WhatsApp messages wait, their tries counted (or paused by
    the circuit breaker without using tries), and a patient's second message is never sent
    before the first. With the default retry policy (10 tries, 5 s doubling to 10 min) all of
    them go out once the gateway is back: in order, once each, none failed."""
    deliverer = deliverers(quiet_hours="off", **gateway_settings(fonnte), **smtp_settings(smtp))
    assert deliverer.rules.retry.max_tries == 10 and deliverer.rules.retry.first_delay == 5.0
    wa_patients = {
        new_patient(container, f"Pasien WA {i}", phone=f"0812555500{i:02d}"): f"+62812555500{i:02d}"
        for i in range(4)
    }
    mail_patients = {
        new_patient(container, f"Pasien Surel {i}", email=f"pasien{i}@example.org"): (
            f"pasien{i}@example.org"
        )
        for i in range(4)
    }
    now = clock.now()
    texts = {p: [f"Pesan pertama {p}", f"Pesan kedua {p}"] for p in [*wa_patients, *mail_patients]}
    # WhatsApp patients' messages first, so the e-mail ones are behind them in the queue.
    add_messages(
        container,
        [reply(container, texts[p][k], now, patient_id=p) for k in range(2) for p in wa_patients]
        + [
            reply(container, texts[p][k], now, patient_id=p)
            for k in range(2)
            for p in mail_patients
        ],
        now,
    )

    def mail_texts(address: str) -> list[str]:
        return [
            str(r.message.get_body(preferencelist=("plain",)).get_content()).strip()  # type: ignore[union-attr]
            for r in smtp.messages
            if r.rcpt_tos == [address]
        ]

    def rows_of(patient_id: int) -> list[Message]:
        return [m for m in all_messages(container) if m.patient_id == patient_id]

    fonnte.mode = "fail"
    deliver(deliverer)
    # E-mail is not held up: both messages of each e-mail patient, in order, at once.
    for p, address in mail_patients.items():
        assert mail_texts(address) == texts[p]

    outage_end = now + timedelta(minutes=12)
    paused_seen = False
    tries_seen = {p: rows_of(p)[0].tries for p in wa_patients}
    assert set(tries_seen.values()) == {1}  # the first round tried each once
    while clock.now() < outage_end:
        clock.advance(timedelta(seconds=5))
        deliver(deliverer)
        if clock.now() == now + timedelta(minutes=5):
            # News for the e-mail patients in the middle of the outage: out in the same step.
            late = clock.now()
            add_messages(
                container,
                [reply(container, f"Kabar baru {p}", late, patient_id=p) for p in mail_patients],
                late,
            )
            deliver(deliverer)
            for p, address in mail_patients.items():
                assert mail_texts(address) == [*texts[p], f"Kabar baru {p}"]
        for p in wa_patients:
            head, second = rows_of(p)
            assert head.state is MessageState.PENDING, head
            assert head.tries < 10 and head.medium is Medium.WHATSAPP
            assert "gateway" in (head.last_error or "")
            if "paused" in (head.last_error or ""):
                # Held back by the circuit breaker: no try used.
                assert head.tries == tries_seen[p], (head, tries_seen[p])
                paused_seen = True
            assert head.tries >= tries_seen[p]
            tries_seen[p] = head.tries
            # The second message waits behind the first: never tried.
            assert second.state is MessageState.PENDING and second.tries == 0, second
            assert second.last_error is None
    assert fonnte.accepted == []
    assert {fonnte.message_text(r) for r in fonnte.requests} <= {texts[p][0] for p in wa_patients}
    assert paused_seen, "the circuit breaker never paused the failing gateway"
    tries_during_outage = {p: rows_of(p)[0].tries for p in wa_patients}
    assert all(2 <= n < 10 for n in tries_during_outage.values()), tries_during_outage
    assert all(
        "http_503" in (rows_of(p)[0].last_error or "")
        or "paused" in (rows_of(p)[0].last_error or "")
        for p in wa_patients
    )

    fonnte.mode = "ok"
    back = clock.now()
    while any(m.state is not MessageState.SENT for m in all_messages(container)):
        assert clock.now() - back <= timedelta(minutes=15), "not sent 15 minutes after recovery"
        clock.advance(timedelta(seconds=5))
        deliver(deliverer)

    assert fonnte.duplicates() == {}
    for p, phone in wa_patients.items():
        assert fonnte.accepted_texts(phone) == texts[p]
    rows = all_messages(container)
    assert Counter(m.state for m in rows) == {MessageState.SENT: len(rows)}
    assert len(rows) == 2 * len(wa_patients) + 3 * len(mail_patients)
    assert all(m.tries <= 10 for m in rows)
    assert len(smtp.messages) == 3 * len(mail_patients)


# --- 5. Retries end in `failed`, and staff can send again -----------------------------------


def test_retries_end_in_failed_visible_to_staff_and_resend_works(
    api, clinic_setup, container, clock, deliverers, fonnte
):
    """With three tries and a gateway that always answers 503, a booking confirmation ends
    `failed` after exactly three requests, with the provider's error; staff see it in the
    message log, send it again, and it goes out once the gateway works."""
    deliverer = deliverers(message_max_tries=3, quiet_hours="off", **gateway_settings(fonnte))
    patient = new_patient(container, "Budi Santoso", phone="0812-7777-1234")
    appointment = book(container, slots_of(api, MONDAY)[0]["id"], patient)
    (row,) = all_messages(container)
    fonnte.mode = "fail"

    for _ in range(10):
        deliver(deliverer)
        row = message(container, row.id)
        if row.state is not MessageState.PENDING:
            break
        clock.advance(timedelta(seconds=30))
    assert row.state is MessageState.FAILED
    assert row.tries == 3
    assert fonnte.received_for("+6281277771234") == 3
    assert row.last_error is not None
    assert (
        row.last_error.startswith("gateway: http_503") and "Service Unavailable" in row.last_error
    )

    operator = api.staff("loket", "operator")
    log = api.client.get("/api/v1/messages", headers=operator, params={"state": "failed"}).json()
    assert log["counts"] == {"failed": 1}
    (shown,) = log["items"]
    assert shown["id"] == row.id and shown["tries"] == 3
    assert shown["last_error"] == row.last_error and shown["recipient"] == "+6281277771234"

    r = api.client.post(f"/api/v1/messages/{row.id}/resend", headers=operator)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "pending" and r.json()["tries"] == 0
    fonnte.mode = "ok"
    assert deliver(deliverer) == 1
    row = message(container, row.id)
    assert row.state is MessageState.SENT and row.tries == 1 and row.last_error is None
    (text,) = fonnte.accepted_texts("+6281277771234")
    assert appointment.code in text
    assert row.provider_id == fonnte.accepted[0].provider_id


# --- 6. A permanent refusal falls to the next medium ---------------------------------------


def test_a_permanent_refusal_goes_to_the_next_medium_in_the_same_round(
    api, clinic_setup, container, deliverers, fonnte, sms, smtp
):
    """The WhatsApp gateway says the number is not valid: the same confirmation goes by SMS in
    the same round; with SMS refusing too, by e-mail; with all three refusing, it fails at once.
    The row records the medium and channel actually used and the refusals met on the way."""
    deliverer = deliverers(
        quiet_hours="off",
        sms="gateway",
        sms_gateway_url=sms.url + "/messages",
        sms_gateway_token=f"Bearer {sms.token}",
        sms_gateway_message_field="text",
        **gateway_settings(fonnte),
        **smtp_settings(smtp),
    )
    assert [c.medium for c in deliverer.channels.values()] == [
        Medium.WHATSAPP,
        Medium.SMS,
        Medium.EMAIL,
    ]
    slots = iter(s["id"] for s in slots_of(api, MONDAY))
    fonnte.mode = "reject"

    def booked_and_delivered(name: str, phone: str, email: str) -> tuple[Message, str]:
        patient = new_patient(container, name, phone=phone, email=email)
        appointment = book(container, next(slots), patient)
        assert deliverer.run_once() == 1  # one round
        (row,) = [m for m in all_messages(container) if m.appointment_id == appointment.id]
        return row, appointment.code

    first, code = booked_and_delivered("Ani", "0812-1000-0001", "ani@example.org")
    assert first.state is MessageState.SENT and first.tries == 1
    assert (first.medium, first.transport, first.address) == (Medium.SMS, "sms", "+6281210000001")
    assert first.last_error == "gateway: target_invalid: target invalid"
    assert fonnte.received_for("+6281210000001") == 1 and fonnte.accepted == []
    (sms_text,) = sms.accepted_texts("+6281210000001")
    assert code in sms_text
    assert first.provider_id == sms.accepted[0].provider_id

    sms.mode = "reject"
    second, code = booked_and_delivered("Bayu", "0812-1000-0002", "bayu@example.org")
    assert second.state is MessageState.SENT and second.tries == 1
    assert (second.medium, second.transport, second.address) == (
        Medium.EMAIL,
        "smtp",
        "bayu@example.org",
    )
    assert second.last_error is not None
    assert second.last_error.startswith("gateway: target_invalid: target invalid; sms: http_400")
    assert "invalid destination number" in second.last_error
    (mail,) = smtp.messages
    assert mail.rcpt_tos == ["bayu@example.org"] and code in str(mail.message["Subject"])

    smtp.mode = "reject"
    third, _ = booked_and_delivered("Citra", "0812-1000-0003", "citra@example.org")
    assert third.state is MessageState.FAILED and third.tries == 1
    assert third.last_error is not None
    errors = third.last_error.split("; ")
    assert [e.split(":")[0] for e in errors] == ["gateway", "sms", "smtp"]
    assert errors[2].startswith("smtp: smtp_550")
    assert len(smtp.messages) == 1 and sms.accepted_texts("+6281210000003") == []


# --- 7. Reminders: cancelled bookings, quiet hours -----------------------------------------

RULE = ReminderRule(hour=17, quiet=QuietHours.parse("21:00-07:00"))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=JKT)


def reminders_of(container: Container) -> dict[int | None, Message]:
    return {m.appointment_id: m for m in all_messages(container) if m.kind is MessageKind.REMINDER}


def test_no_reminder_for_a_cancelled_booking(
    api, clinic_setup, container, clock, deliverers, fonnte
):
    """The reminder job queues one reminder per booking of tomorrow once 17:00 has come: none
    for a booking already cancelled; one cancelled after its reminder was queued has the
    reminder skipped (`no_longer_booked`) by the worker, which sends the others."""
    deliverer = deliverers(quiet_hours="21:00-07:00", **gateway_settings(fonnte))
    slots = slots_of(api, MONDAY)
    phones = {name: f"+62812333300{i}" for i, name in enumerate(("Ayu", "Bima", "Candra"))}
    booked = {
        name: book(container, slots[i]["id"], new_patient(container, name, phone=phone))
        for i, (name, phone) in enumerate(phones.items())
    }
    cancel(container, booked["Candra"].code)
    deliver(deliverer)  # the confirmations and Candra's cancellation
    sent_before = len(fonnte.accepted)
    assert sent_before == 4

    clock.set(at(MONDAY - timedelta(days=1), 16, 55))  # the job runs, too early: nothing
    assert run_reminders(container.uow(), actor=container.system(), tz=JKT, rule=RULE) == 0
    assert reminders_of(container) == {}

    clock.set(at(MONDAY - timedelta(days=1), 17, 0))
    assert run_reminders(container.uow(), actor=container.system(), tz=JKT, rule=RULE) == 2
    reminders = reminders_of(container)
    assert set(reminders) == {booked["Ayu"].id, booked["Bima"].id}  # none for Candra

    clock.advance(timedelta(minutes=3))
    cancel(container, booked["Bima"].code)  # after its reminder was queued
    clock.advance(timedelta(minutes=2))
    deliver(deliverer)
    ayu = message(container, reminders[booked["Ayu"].id].id)
    bima = message(container, reminders[booked["Bima"].id].id)
    assert ayu.state is MessageState.SENT and ayu.medium is Medium.WHATSAPP
    assert bima.state is MessageState.SKIPPED and bima.last_error == "no_longer_booked"
    assert bima.tries == 0
    (reminder_text,) = [x for x in fonnte.accepted_texts(phones["Ayu"]) if "pengingat" in x.lower()]
    assert booked["Ayu"].code in reminder_text
    assert not any("pengingat" in x.lower() for x in fonnte.accepted_texts(phones["Bima"]))
    assert not any("pengingat" in x.lower() for x in fonnte.accepted_texts(phones["Candra"]))
    # Bima hears of the cancellation, nothing more.
    assert "dibatalkan" in fonnte.accepted_texts(phones["Bima"])[-1]
    assert len(fonnte.accepted) == sent_before + 2

    # The job runs again later: nothing new (one reminder per booking, never for cancelled).
    clock.advance(timedelta(minutes=10))
    assert run_reminders(container.uow(), actor=container.system(), tz=JKT, rule=RULE) == 0
    assert len(reminders_of(container)) == 2


def test_quiet_hours_hold_reminders_until_seven(
    api, clinic_setup, container, clock, deliverers, fonnte
):
    """Quiet hours 21:00-07:00. A reminder queued at 17:00 that a worker first sees at 22:00
    waits, no try used, until 07:00; so does one the job itself queues at 22:00 (due 07:00).
    Neither is sent a second before 07:00, both go at 07:00. An urgent message (a
    cancellation) is not held."""
    deliverer = deliverers(quiet_hours="21:00-07:00", **gateway_settings(fonnte))
    ayu_phone, bima_phone = "+6281244440001", "+6281244440002"
    ayu = book(
        container, slots_of(api, MONDAY)[0]["id"], new_patient(container, "Ayu", phone=ayu_phone)
    )
    bima = book(
        container,
        slots_of(api, TUESDAY)[0]["id"],
        new_patient(container, "Bima", phone=bima_phone),
    )
    deliver(deliverer)
    assert len(fonnte.accepted) == 2  # the confirmations

    def reminders_sent(phone: str) -> list[str]:
        return [x for x in fonnte.accepted_texts(phone) if "pengingat" in x.lower()]

    # Sunday 17:00: the job queues Monday's reminder; the worker is down until 22:00.
    clock.set(at(MONDAY - timedelta(days=1), 17, 0))
    assert run_reminders(container.uow(), actor=container.system(), tz=JKT, rule=RULE) == 1
    clock.set(at(MONDAY - timedelta(days=1), 22, 0))
    deliver(deliverer)
    held = reminders_of(container)[ayu.id]
    assert held.state is MessageState.PENDING and held.tries == 0
    assert held.due_at == at(MONDAY, 7, 0)
    assert reminders_sent(ayu_phone) == []

    clock.set(at(MONDAY, 6, 59) + timedelta(seconds=59))
    assert deliver(deliverer) == 0
    assert reminders_sent(ayu_phone) == []
    clock.set(at(MONDAY, 7, 0))
    assert deliver(deliverer) == 1
    (text,) = reminders_sent(ayu_phone)
    assert ayu.code in text
    assert message(container, held.id).state is MessageState.SENT

    # Monday: the job first runs at 22:00 (in quiet hours): Tuesday's reminder is due at 07:00.
    clock.set(at(MONDAY, 22, 0))
    assert run_reminders(container.uow(), actor=container.system(), tz=JKT, rule=RULE) == 1
    queued = reminders_of(container)[bima.id]
    assert queued.due_at == at(TUESDAY, 7, 0) and queued.state is MessageState.PENDING
    # An urgent message in quiet hours is not held: Ayu's booking is cancelled now.
    cancel(container, ayu.code)
    assert deliver(deliverer) == 1
    assert "dibatalkan" in fonnte.accepted_texts(ayu_phone)[-1]
    clock.set(at(TUESDAY, 6, 59) + timedelta(seconds=59))
    assert deliver(deliverer) == 0
    assert reminders_sent(bima_phone) == []
    clock.set(at(TUESDAY, 7, 0))
    assert deliver(deliverer) == 1
    (text,) = reminders_sent(bima_phone)
    assert bima.code in text
    assert message(container, queued.id).tries == 1

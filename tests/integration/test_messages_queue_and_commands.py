# ruff: noqa: F811  (the fixtures are shared with the journey test)
"""Queue messages (number issued, turn near, called, no-show) and every command a patient can
write, through a local Cloud API and signed webhooks (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from antrean.bootstrap import Container, MessageWorker
from antrean.domain.common import Page
from antrean.domain.notifications import MessageFilter, MessageKind, MessageState
from antrean.services.queue_actions import close_past_days
from tests.integration.conftest import FROZEN_AT, Api
from tests.integration.test_messages_journey import (  # noqa: F401  (fixtures)
    cloud,
    container,
    deliver,
    post_webhook,
    worker,
)
from tests.providers.whatsapp_cloud import FakeCloudApi, cloud_text_message

MONDAY_NINE = FROZEN_AT + timedelta(days=1)
PHONES = ["+6281300000001", "+6281300000002", "+6281300000003", "+6281300000004", "+6281300000005"]


@pytest.fixture
def open_monday(clock, clinic_setup):
    clock.set(MONDAY_NINE)
    return clinic_setup


def _patients(api: Api, operator: dict[str, str]) -> list[dict]:
    made = []
    for n, phone in enumerate(PHONES):
        r = api.client.post(
            "/api/v1/patients",
            headers=operator,
            json={
                "name": f"Pasien {n + 1}",
                "birth_date": "1990-01-01",
                "phone": phone,
                "mrn": f"Q-{n + 1}",
                "language": "en" if n == 4 else None,
            },
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    return made


def _open_window(api: Api, phones: list[str]) -> None:
    """Each patient wrote today (WhatsApp's 24-hour window), so free text may be sent."""
    for n, phone in enumerate(phones):
        assert post_webhook(api, cloud_text_message(phone, "menu", message_id=f"wamid.w{n}")) == 200


def _texts(cloud: FakeCloudApi, phone: str) -> list[str]:
    return cloud.accepted_texts(phone)


def test_number_turn_near_called_and_no_show(
    api, open_monday, worker: MessageWorker, cloud: FakeCloudApi, container: Container
):
    operator = api.staff("desk", "operator")
    patients = _patients(api, operator)
    _open_window(api, PHONES)
    assert deliver(worker) == 5  # the help texts
    clinic_id = open_monday["clinic_id"]
    tickets = []
    for p in patients:
        r = api.client.post(
            "/api/v1/queue/walk-ins",
            headers=operator,
            json={
                "clinic_id": clinic_id,
                "name": p["name"],
                "birth_date": "1990-01-01",
                "mrn": p["mrn"],
            },
        )
        assert r.status_code == 201, r.text
        tickets.append(r.json())
    assert deliver(worker) == 5
    issued = _texts(cloud, PHONES[2])[-1]
    assert tickets[2]["ticket"] in issued and "Poli Umum" in issued
    assert "Di depan Anda: 2 orang" in issued
    assert f"https://klinik.example/t/{tickets[2]['status_code']}" in issued
    english = _texts(cloud, PHONES[4])[-1]
    assert english.startswith(f"Your queue number is {tickets[4]['ticket']}")

    # The first is called to room 2: a "come to room 2" for them, and "turn near" for the next
    # three (the default rule: 3 places, or 15 minutes by the estimate, whichever is more).
    r = api.client.post(
        f"/api/v1/clinics/{clinic_id}/queue/call-next", headers=operator, json={"counter": "2"}
    )
    assert r.status_code == 200, r.text
    deliver(worker)
    assert _texts(cloud, PHONES[0])[-1] == (
        f"Nomor {tickets[0]['ticket']} dipanggil. Silakan menuju 2 (Poli Umum)."
    )
    for n in (1, 2, 3):
        near = _texts(cloud, PHONES[n])[-1]
        assert "sebentar lagi" in near and tickets[n]["ticket"] in near, near
    assert "your turn" not in _texts(cloud, PHONES[4])[-1].lower()
    # The next call: only the one who came within reach hears "turn near", once.
    before = {p: len(_texts(cloud, p)) for p in PHONES}
    api.client.post(
        f"/api/v1/clinics/{clinic_id}/queue/call-next", headers=operator, json={"counter": "2"}
    )
    deliver(worker)
    assert len(_texts(cloud, PHONES[2])) == before[PHONES[2]]  # told already
    assert len(_texts(cloud, PHONES[1])) == before[PHONES[1]] + 1  # called
    near = _texts(cloud, PHONES[4])[-1]
    assert near.startswith(f"Your turn ({tickets[4]['ticket']}, Poli Umum) is near")
    uow = container.uow()
    with uow():
        found, _ = uow.outbox.find(1, MessageFilter(kind=MessageKind.TICKET_CALLED), Page(1, 10))
    assert {m.state for m in found} == {MessageState.SENT}


def test_commands_in_both_languages(api, open_monday, worker, cloud, container):
    operator = api.staff("desk", "operator")
    patient = _patients(api, operator)[0]
    phone = PHONES[0]
    clinic_id = open_monday["clinic_id"]

    def ask(text: str, n: int) -> str:
        assert post_webhook(api, cloud_text_message(phone, text, message_id=f"wamid.c{n}")) == 200
        deliver(worker)
        return _texts(cloud, phone)[-1]

    assert "https://klinik.example/book" in ask("DAFTAR", 1)
    assert "https://klinik.example/book" in ask("book", 2)
    schedule = ask("jadwal", 3)
    assert "Poli Umum: 07:00-16:00" in schedule and "dr. Andi" in schedule
    assert "ANTRE" in ask("apa kabar", 5)  # not understood: help, in the last language used
    assert ask("Schedule", 4).startswith("Today:")
    assert "QUEUE" in ask("help", 6)  # English asked, English answered
    assert "Poli Umum" in ask("ANTRE", 7)  # which clinic?
    number = ask("antre umum", 8)
    assert "Nomor antrean Anda A-001" in number
    assert "already have number A-001" in ask("queue umum", 9)
    uow = container.uow()
    with uow():
        status_code = uow.tickets.list_day(1, clinic_id, MONDAY_NINE.date())[0].status_code
    assert "A-001" in ask(f"STATUS {status_code}", 10)
    assert "not found" in ask("STATUS ZZZZZZ", 11)
    assert "STATUS ABC234" in ask("status", 12)

    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-24"}).json()[0]
    r = api.client.post(
        "/api/v1/appointments",
        headers=operator,
        json={"slot_id": slot["id"], "patient_id": patient["id"]},
    )
    code = r.json()["code"]
    deliver(worker)
    assert "terjadwal" in ask(f"cek {code.lower()}", 13)
    # STATUS is the same word in both languages: the answer keeps the conversation's language.
    assert ask(f"STATUS {code}", 14) == (
        f"Booking {code}: Selasa, 24 November 2026 jam 08.00. Status: terjadwal."
    )
    # Someone else's number cannot see or cancel this booking.
    other = PHONES[1]
    assert (
        post_webhook(api, cloud_text_message(other, f"BATAL {code} YA", message_id="wamid.o"))
        == 200
    )
    deliver(worker)
    assert "tidak ditemukan" in _texts(cloud, other)[-1]
    assert (
        api.client.get(f"/api/v1/appointments/{code}", headers=operator).json()["status"]
        == "booked"
    )
    # Typed confirmation cancels.
    ask(f"BATAL {code} YA", 15)
    assert (
        api.client.get(f"/api/v1/appointments/{code}", headers=operator).json()["status"]
        == "cancelled"
    )
    assert "dibatalkan" in _texts(cloud, phone)[-1]

    # STOP: a confirmation, then nothing more on WhatsApp until START.
    assert "MULAI" in ask("BERHENTI", 16)
    slot2 = api.client.get("/api/v1/slots", params={"date_from": "2026-11-25"}).json()[0]
    api.client.post(
        "/api/v1/appointments",
        headers=operator,
        json={"slot_id": slot2["id"], "patient_id": patient["id"]},
    )
    sent_before = len(_texts(cloud, phone))
    deliver(worker)
    assert len(_texts(cloud, phone)) == sent_before
    with uow():
        (skipped,), _ = uow.outbox.find(
            1, MessageFilter(kind=MessageKind.BOOKING_CONFIRMED), Page(1, 1)
        )
    assert skipped.state is MessageState.SKIPPED and skipped.last_error == "opted_out"
    assert "on again" in ask("START", 17)


def test_no_show_note_after_the_day_closes(api, open_monday, worker, cloud, container, clock):
    operator = api.staff("desk", "operator")
    patient = _patients(api, operator)[0]
    _open_window(api, PHONES[:1])
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[0]
    assert slot["day"] == "2026-11-23"
    r = api.client.post(
        "/api/v1/appointments",
        headers=operator,
        json={"slot_id": slot["id"], "patient_id": patient["id"]},
    )
    assert r.status_code == 201, r.text
    deliver(worker)
    clock.advance(timedelta(hours=23))  # Tuesday 08:00, still within WhatsApp's window

    closed = close_past_days(container.uow(), actor=container.system(), policy=container.policy)
    assert closed.appointments_no_show == 1
    deliver(worker)
    note = _texts(cloud, PHONES[0])[-1]
    assert "tidak hadir" in note and "https://klinik.example/book" in note

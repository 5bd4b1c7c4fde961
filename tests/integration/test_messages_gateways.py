"""WAHA, a Fonnte-style gateway, an SMS gateway and e-mail, end to end: the settings a clinic
sets, the webhooks each provider posts, and what the patient receives (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from antrean.bootstrap import Container, MessageWorker, build, ensure_facility
from antrean.domain.catalog import FacilityPatch
from antrean.http import create_app
from antrean.services.catalog import update_facility
from tests.integration.conftest import Api, make_settings
from tests.providers.gateway import FakeFonnte, FakeSmsGateway, fonnte_incoming
from tests.providers.smtp import FakeSmtp
from tests.providers.waha import FakeWaha, waha_body, waha_headers, waha_message_event

WAHA_KEY = "waha-webhook-hmac-key"
HOOK_TOKEN = "gateway-webhook-token-123"
PHONE = "+6281211112222"


def _container(db_url: str, tmp_path: Path, clock, **channel: object) -> Container:
    c = build(
        make_settings(
            db_url,
            tmp_path / "data",
            public_url="https://klinik.example",
            quiet_hours="off",
            gateway_webhook_token=HOOK_TOKEN,
            waha_webhook_key=WAHA_KEY,
            **channel,
        ),
        clock=clock,
    )
    ensure_facility(c)
    update_facility(c.uow(), actor=c.system(), patch=FacilityPatch(address="Jl. Merdeka 10"))
    return c


@pytest.fixture
def run(db_url, tmp_path, clock) -> Iterator:
    made: list[tuple[Container, TestClient, MessageWorker]] = []

    def start(**channel: object) -> tuple[Api, MessageWorker]:
        c = _container(db_url, tmp_path, clock, **channel)
        client = TestClient(create_app(c), raise_server_exceptions=False).__enter__()
        worker = MessageWorker(c)
        made.append((c, client, worker))
        return Api(client, c), worker

    yield start
    for _, client, worker in made:
        worker.deliverer.close()
        client.__exit__(None, None, None)


def drain(worker: MessageWorker) -> int:
    total = 0
    while handled := worker.deliverer.run_once():
        total += handled
    return total


def _signed_up(api: Api, **extra: str) -> dict[str, str]:
    r = api.client.post(
        "/api/v1/auth/register",
        json={
            "username": "siti",
            "password": "rahasia-123",
            "name": "Siti Aminah",
            "birth_date": "1985-05-17",
            "phone": "0812-1111-2222",
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return api.login("siti", "rahasia-123")


def _setup_clinic(api: Api) -> None:
    admin = api.staff("admin", "admin")
    clinic = api.client.post(
        "/api/v1/clinics",
        headers=admin,
        json={
            "code": "UMUM",
            "name": "Poli Umum",
            "queue_prefix": "A",
            "hours": [{"weekday": d, "opens": "07:00", "closes": "16:00"} for d in range(6)],
        },
    ).json()
    doctor = api.client.post("/api/v1/doctors", headers=admin, json={"name": "dr. Andi"}).json()
    for weekday in range(5):
        api.client.post(
            "/api/v1/schedules",
            headers=admin,
            json={
                "doctor_id": doctor["id"],
                "clinic_id": clinic["id"],
                "weekday": weekday,
                "start": "08:00",
                "end": "12:00",
                "slot_minutes": 30,
                "capacity": 2,
            },
        )


def _book(api: Api, me: dict[str, str]) -> str:
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[0]
    r = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": slot["id"]})
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def test_waha_sends_and_answers_signed_webhooks_only(run):
    with FakeWaha(api_key="waha-api-key") as waha:
        api, worker = run(whatsapp="waha", waha_url=waha.url, waha_api_key="waha-api-key")
        _setup_clinic(api)
        me = _signed_up(api)
        code = _book(api, me)
        assert drain(worker) == 1
        (request,) = waha.requests
        assert request.json["chatId"] == "6281211112222@c.us"
        assert request.json["session"] == "default"
        assert request.headers["x-api-key"] == "waha-api-key"
        assert code in request.json["text"] and "Jl. Merdeka 10" in request.json["text"]

        event = waha_message_event(PHONE, f"batal {code} ya", message_id="false_1@c.us_AAA")
        raw = waha_body(event)
        bad = api.client.post("/webhooks/waha", content=raw, headers={"X-Webhook-Hmac": "0" * 128})
        assert bad.status_code == 401
        missing = api.client.post("/webhooks/waha", content=raw)
        assert missing.status_code == 401
        assert api.client.get(f"/api/v1/appointments/{code}", headers=me).json()["status"] == (
            "booked"
        )
        ok = api.client.post("/webhooks/waha", content=raw, headers=waha_headers(WAHA_KEY, raw))
        assert ok.status_code == 200, ok.text
        assert api.client.get(f"/api/v1/appointments/{code}", headers=me).json()["status"] == (
            "cancelled"
        )
        assert drain(worker) == 1
        assert "dibatalkan" in waha.requests[-1].json["text"]
        # Our own messages echoed back, and group chats, are not answered.
        for echo in (
            waha_message_event(PHONE, "halo", message_id="true_2@c.us_B", from_me=True),
            waha_message_event(PHONE, "halo", message_id="false_3@g.us_C", chat_server="g.us"),
        ):
            raw = waha_body(echo)
            assert (
                api.client.post(
                    "/webhooks/waha", content=raw, headers=waha_headers(WAHA_KEY, raw)
                ).status_code
                == 200
            )
        assert drain(worker) == 0


def test_a_fonnte_gateway_with_reply_words_instead_of_buttons(run):
    with FakeFonnte(token="device-token") as fonnte:
        api, worker = run(
            whatsapp="gateway", wa_gateway_url=f"{fonnte.url}/send", wa_gateway_token="device-token"
        )
        me = _signed_up(api)
        assert drain(worker) == 0
        # The gateway's webhook carries the shared token, or is refused.
        hook = fonnte_incoming(PHONE, "JADWAL", inboxid="77")
        assert api.client.post("/webhooks/gateway", json=hook).status_code == 401
        assert (
            api.client.post("/webhooks/gateway", params={"token": "wrong"}, json=hook).status_code
            == 401
        )
        r = api.client.post("/webhooks/gateway", params={"token": HOOK_TOKEN}, json=hook)
        assert r.status_code == 200, r.text
        # Fonnte posts forms too; the same message again is answered once.
        r = api.client.post(
            "/webhooks/gateway",
            headers={"X-Webhook-Token": HOOK_TOKEN},
            data={k: str(v) for k, v in hook.items()},
        )
        assert r.status_code == 200
        assert drain(worker) == 1
        (request,) = fonnte.requests
        assert request.form["target"] == "6281211112222"
        assert request.headers["authorization"] == "device-token"
        assert request.form["message"].startswith("Jadwal hari ini:")
        assert me  # the sender is a known patient


def test_sms_stop_and_e_mail_with_a_calendar_file(run):
    with FakeSmsGateway(token="sms-key") as sms, FakeSmtp() as smtp:
        api, worker = run(
            sms="gateway",
            sms_gateway_url=f"{sms.url}/messages",
            sms_gateway_token="Bearer sms-key",
            sms_gateway_message_field="text",
            email="smtp",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            smtp_sender="klinik@klinik.example",
        )
        _setup_clinic(api)
        me = _signed_up(api, email="siti@example.com")
        r = api.client.post(
            "/webhooks/sms",
            params={"token": HOOK_TOKEN},
            json={"sender": PHONE, "message": "STOP", "id": "s1"},
        )
        assert r.status_code == 200, r.text
        assert drain(worker) == 1
        assert "MULAI" in sms.requests[-1].fields["text"]  # the confirmation of the stop
        code = _book(api, me)
        assert drain(worker) == 1
        assert len(sms.requests) == 1  # nothing more by SMS: it went by e-mail
        (mail,) = smtp.wait_for(1)
        message = mail.message
        assert mail.rcpt_tos == ["siti@example.com"]
        assert message["Subject"] == f"Booking {code} terkonfirmasi"
        assert message["Message-ID"].startswith("<antrean-")
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        assert code in text_part.get_content() and "Jl. Merdeka 10" in text_part.get_content()
        assert code in html_part.get_content()
        (ics,) = [
            p for p in message.iter_attachments() if p.get_filename() == f"booking-{code}.ics"
        ]
        calendar = ics.get_content()
        if isinstance(calendar, bytes):
            calendar = calendar.decode()
        assert "BEGIN:VEVENT" in calendar and "DTSTART:20261123T010000Z" in calendar

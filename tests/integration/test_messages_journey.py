"""A patient's WhatsApp journey through the Cloud API, against a local server that answers as
Meta's does: the patient writes, books through the API, gets exactly one confirmation holding
every fact of the booking, and cancels it by replying BATAL through a signed webhook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from antrean.bootstrap import Container, MessageWorker, build, ensure_facility
from antrean.domain.catalog import FacilityPatch
from antrean.domain.common import Page
from antrean.domain.notifications import MessageFilter, MessageState
from antrean.services.catalog import update_facility
from antrean.services.notifications import save_message_text
from antrean.testing import FrozenClock
from tests.integration.conftest import Api, make_settings
from tests.providers.whatsapp_cloud import (
    FakeCloudApi,
    cloud_body,
    cloud_button_reply,
    cloud_status,
    cloud_text_message,
    sign_cloud,
)

APP_SECRET = "meta-app-secret-for-tests"
VERIFY = "verify-me-please"
PHONE = "+6281211112222"


@pytest.fixture
def cloud() -> Iterator[FakeCloudApi]:
    with FakeCloudApi() as fake:
        yield fake


@pytest.fixture
def container(  # overrides the shared one: WhatsApp through the local Cloud API
    db_url: str, tmp_path: Path, clock: FrozenClock, cloud: FakeCloudApi
) -> Iterator[Container]:
    settings = make_settings(
        db_url,
        tmp_path / "data",
        whatsapp="cloud",
        whatsapp_api_url=cloud.url,
        whatsapp_token=cloud.access_token,
        whatsapp_phone_number_id=cloud.phone_number_id,
        whatsapp_app_secret=APP_SECRET,
        whatsapp_verify_token=VERIFY,
        public_url="https://klinik.example",
        quiet_hours="off",
    )
    c = build(settings, clock=clock)
    ensure_facility(c)
    update_facility(
        c.uow(),
        actor=c.system(),
        patch=FacilityPatch(address="Jl. Merdeka 10, Bandung"),
    )
    yield c
    c.close()


@pytest.fixture
def worker(container: Container) -> Iterator[MessageWorker]:
    job = MessageWorker(container)
    yield job
    job.deliverer.close()


def deliver(worker: MessageWorker) -> int:
    """Run the worker until nothing is due (each round claims, sends and records)."""
    total = 0
    while handled := worker.deliverer.run_once():
        total += handled
    return total


def post_webhook(api: Api, payload: object, *, secret: str = APP_SECRET) -> int:
    raw = cloud_body(payload)
    r = api.client.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_cloud(secret, raw),
        },
    )
    return r.status_code


def register(api: Api) -> dict[str, str]:
    r = api.client.post(
        "/api/v1/auth/register",
        json={
            "username": "siti",
            "password": "rahasia-123",
            "name": "Siti Aminah",
            "birth_date": "1985-05-17",
            "sex": "female",
            "phone": "0812-1111-2222",
        },
    )
    assert r.status_code == 201, r.text
    return api.login("siti", "rahasia-123")


def test_handshake_answers_the_challenge_only_with_the_verify_token(api):
    ok = api.client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": VERIFY},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = api.client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "guess"},
    )
    assert wrong.status_code == 403 and "1" not in wrong.text.split('"status"')[0]


def test_booking_confirmation_and_cancel_by_reply(api, clinic_setup, worker, cloud, container):
    me = register(api)
    # The patient writes first: a help text comes back, and WhatsApp's 24-hour window opens.
    assert post_webhook(api, cloud_text_message(PHONE, "halo", message_id="wamid.in-1")) == 200
    assert deliver(worker) == 1
    help_text = cloud.accepted_texts(PHONE)[0]
    assert "STATUS" in help_text and "BATAL" in help_text and "JADWAL" in help_text

    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[0]
    r = api.client.post(
        "/api/v1/appointments",
        headers=me,
        json={"slot_id": slot["id"], "service_id": clinic_setup["service_id"]},
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert deliver(worker) == 1
    texts = cloud.accepted_texts(PHONE)
    assert len(texts) == 2  # exactly one confirmation
    confirmation = texts[1]
    for fact in (
        code,
        "Senin, 23 November 2026",
        "08.00",
        "Siti Aminah",
        "Poli Umum",
        "Pemeriksaan umum",
        "dr. Andi",
        "Klinik Antrean",
        "Jl. Merdeka 10, Bandung",
        f"https://klinik.example/appointments/{code}",
    ):
        assert fact in confirmation, (fact, confirmation)

    # "BATAL <code>" asks to confirm with a button; the tap cancels the booking.
    assert (
        post_webhook(api, cloud_text_message(PHONE, f"batal {code}", message_id="wamid.in-2"))
        == 200
    )
    assert deliver(worker) == 1
    ask = cloud.accepted[-1]
    assert code in ask.text
    sent = cloud.requests[-1].json
    assert sent["type"] == "interactive"
    button = sent["interactive"]["action"]["buttons"][0]["reply"]
    assert button["id"] == f"cancel_confirmed:{code}"
    assert api.client.get(f"/api/v1/appointments/{code}", headers=me).json()["status"] == "booked"

    tap = cloud_button_reply(PHONE, button["id"], button["title"], message_id="wamid.in-3")
    assert post_webhook(api, tap) == 200
    assert (
        api.client.get(f"/api/v1/appointments/{code}", headers=me).json()["status"] == "cancelled"
    )
    assert deliver(worker) == 1
    assert "dibatalkan" in cloud.accepted[-1].text and code in cloud.accepted[-1].text

    # The same webhook again (Meta retries): handled once, nothing more is sent.
    assert post_webhook(api, tap) == 200
    assert deliver(worker) == 0
    assert len(cloud.accepted_texts(PHONE)) == 4


def test_unsigned_or_forged_webhooks_change_nothing(api, clinic_setup, worker, cloud):
    me = register(api)
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[0]
    code = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": slot["id"]}).json()[
        "code"
    ]
    deliver(worker)
    before = len(cloud.requests)
    payload = cloud_button_reply(PHONE, f"cancel_confirmed:{code}", "Ya", message_id="wamid.x")
    raw = cloud_body(payload)
    for headers in (
        {},
        {"X-Hub-Signature-256": sign_cloud("not-the-secret", raw)},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "garbage"},
    ):
        r = api.client.post(
            "/webhooks/whatsapp",
            content=raw,
            headers={"Content-Type": "application/json", **headers},
        )
        assert r.status_code == 401, (headers, r.text)
    # A body changed after signing is refused too.
    signature = sign_cloud(APP_SECRET, raw)
    tampered = raw.replace(b"wamid.x", b"wamid.y")
    r = api.client.post(
        "/webhooks/whatsapp",
        content=tampered,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert r.status_code == 401
    assert api.client.get(f"/api/v1/appointments/{code}", headers=me).json()["status"] == "booked"
    assert deliver(worker) == 0 and len(cloud.requests) == before


def test_outside_the_window_a_template_goes_or_nothing(api, clinic_setup, worker, cloud, container):
    me = register(api)
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[0]
    first = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": slot["id"]})
    assert first.status_code == 201
    # No window and no approved template: the Cloud API is not even asked; the message fails
    # with the reason, for staff to see.
    assert deliver(worker) == 1
    assert cloud.requests == []
    uow = container.uow()
    with uow():
        (failed,), _ = uow.outbox.find(1, MessageFilter(), Page(1, 10))
    assert failed.state is MessageState.FAILED and "outside_service_window" in (
        failed.last_error or ""
    )

    # With the clinic's approved template named, it goes as that template, the facts as
    # its body parameters in the text's order.
    save_message_text(
        container.uow(),
        actor=container.system(),
        kind="booking_cancelled",
        lang="id",
        subject="Booking {code} dibatalkan",
        body="Halo {patient}, booking {code} pada {date} dibatalkan.",
        whatsapp_template="booking_cancelled_v1",
    )
    code = first.json()["code"]
    r = api.client.post(
        f"/api/v1/appointments/{code}/cancel", headers=me, json={"reason": "Tidak jadi"}
    )
    assert r.status_code == 200, r.text
    assert deliver(worker) == 1
    sent = cloud.requests[-1].json
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "booking_cancelled_v1"
    assert sent["template"]["language"]["code"] == "id"
    params = [p["text"] for p in sent["template"]["components"][0]["parameters"]]
    assert params == ["Siti Aminah", code, "Senin, 23 November 2026"]


def test_delivery_statuses_move_forward_only(api, clinic_setup, worker, cloud, container):
    register(api)
    assert post_webhook(api, cloud_text_message(PHONE, "menu", message_id="wamid.in-9")) == 200
    deliver(worker)
    wamid = cloud.accepted[-1].provider_id
    for status in ("delivered", "sent", "read", "delivered"):
        assert post_webhook(api, cloud_status(wamid, status, recipient=PHONE)) == 200
    uow = container.uow()
    with uow():
        (reply,), _ = uow.outbox.find(1, MessageFilter(), Page(1, 10))
    assert reply.provider_id == wamid and reply.delivery_status == "read"

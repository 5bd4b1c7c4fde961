"""The message log, sending again and the texts, through the REST API (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from antrean.bootstrap import build_deliverer
from antrean.domain.notifications import Medium, SendFailure
from antrean.testing import RecordingChannel


def _register(api, phone="0812-1111-2222"):
    r = api.client.post(
        "/api/v1/auth/register",
        json={
            "username": "siti",
            "password": "rahasia-123",
            "name": "Siti Aminah",
            "birth_date": "1985-05-17",
            "phone": phone,
        },
    )
    assert r.status_code == 201, r.text
    return api.login("siti", "rahasia-123")


@pytest.fixture
def channel():
    return RecordingChannel(Medium.SMS, "sms")


@pytest.fixture
def deliverer(container, channel):
    d = build_deliverer(container, channels=[channel])
    yield d
    d.close()


def _book(api, me):
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[0]
    r = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": slot["id"]})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def test_log_shows_failures_and_resend_sends(api, admin, clinic_setup, deliverer, channel):
    me = _register(api)
    operator = api.staff("desk", "operator")
    doctor = api.staff("dokter", "doctor")
    code = _book(api, me)
    channel.failure = SendFailure("blocked", "the number is blocked", permanent=True)
    assert deliverer.run_once() == 1
    log = api.client.get("/api/v1/messages", headers=operator, params={"state": "failed"}).json()
    assert log["total"] == 1 and log["counts"]["failed"] == 1
    (row,) = log["items"]
    assert row["kind"] == "booking_confirmed" and row["tries"] == 1
    assert "blocked" in row["last_error"]
    # Doctors and patients do not read the log; a wrong filter is a problem, not a 500.
    assert api.client.get("/api/v1/messages", headers=doctor).status_code == 403
    assert api.client.get("/api/v1/messages", headers=me).status_code == 403
    bad = api.client.get("/api/v1/messages", headers=operator, params={"state": "lost"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"

    channel.failure = None
    r = api.client.post(f"/api/v1/messages/{row['id']}/resend", headers=operator)
    assert r.status_code == 200 and r.json()["state"] == "pending" and r.json()["tries"] == 0
    assert deliverer.run_once() == 1
    sent = api.client.get(f"/api/v1/messages/{row['id']}", headers=operator).json()
    assert sent["state"] == "sent" and sent["recipient"] == "+6281211112222"
    assert sent["medium"] == "sms" and sent["provider_id"]
    assert code in channel.sent[-1].text
    again = api.client.post(f"/api/v1/messages/{row['id']}/resend", headers=operator)
    assert again.status_code == 409 and again.json()["code"] == "message_not_resendable"
    assert api.client.post("/api/v1/messages/999999/resend", headers=operator).status_code == 404


def test_admin_edits_a_text_and_patients_get_it(api, admin, clinic_setup, deliverer, channel):
    texts = api.client.get("/api/v1/message-texts", headers=admin).json()
    assert len(texts) == 20 and {t["lang"] for t in texts} == {"id", "en"}
    confirmed = next(t for t in texts if t["kind"] == "booking_confirmed" and t["lang"] == "id")
    assert "doctor" in confirmed["placeholders"] and confirmed["edited_at"] is None
    typo = api.client.put(
        "/api/v1/message-texts/booking_confirmed/id",
        headers=admin,
        json={"subject": "Booking", "body": "Halo {patient}, dokter {dcotor}"},
    )
    assert typo.status_code == 422 and "dcotor" in typo.json()["detail"]
    lone = api.client.put(
        "/api/v1/message-texts/booking_confirmed/id",
        headers=admin,
        json={"subject": "Booking", "body": "Halo {patient"},
    )
    assert lone.status_code == 422
    operator = api.staff("desk", "operator")
    denied = api.client.put(
        "/api/v1/message-texts/booking_confirmed/id",
        headers=operator,
        json={"subject": "x", "body": "y"},
    )
    assert denied.status_code == 403
    r = api.client.put(
        "/api/v1/message-texts/booking_confirmed/id",
        headers=admin,
        json={"subject": "Booking {code}", "body": "Sampai jumpa {patient}, kode {code}."},
    )
    assert r.status_code == 200 and r.json()["edited_at"] is not None
    me = _register(api)
    code = _book(api, me)
    deliverer.run_once()
    assert channel.sent[-1].text == f"Sampai jumpa Siti Aminah, kode {code}."
    reset = api.client.delete("/api/v1/message-texts/booking_confirmed/id", headers=admin)
    assert reset.status_code == 200 and reset.json()["body"] == confirmed["body"]


def test_a_patient_stops_sms_and_gets_none(api, clinic_setup, deliverer, channel):
    me = _register(api)
    r = api.client.put(
        "/api/v1/patients/me/messages", headers=me, json={"medium": "sms", "opted_out": True}
    )
    assert r.status_code == 200 and r.json()["opted_out"] == ["sms"]
    _book(api, me)
    assert deliverer.run_once() == 1
    assert channel.sent == []
    operator = api.staff("desk", "operator")
    (row,) = api.client.get("/api/v1/messages", headers=operator).json()["items"]
    assert row["state"] == "skipped" and row["last_error"] == "opted_out"
    assert row["recipient"] == "+6281211112222"  # where it would have gone


def test_a_landline_is_refused_at_sign_up_and_never_sent_to(api, clinic_setup, deliverer, channel):
    r = api.client.post(
        "/api/v1/auth/register",
        json={
            "username": "rumah",
            "password": "rahasia-123",
            "name": "Budi",
            "birth_date": "1980-01-01",
            "phone": "(021) 555-1234",
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "not_mobile_number"
    # Staff may record a landline (it is how some patients are reached by phone); messages
    # are not sent to it, and the log says why.
    operator = api.staff("desk", "operator")
    patient = api.client.post(
        "/api/v1/patients",
        headers=operator,
        json={"name": "Budi", "birth_date": "1980-01-01", "phone": "(021) 555-1234"},
    ).json()
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[0]
    r = api.client.post(
        "/api/v1/appointments",
        headers=operator,
        json={"slot_id": slot["id"], "patient_id": patient["id"]},
    )
    assert r.status_code == 201, r.text
    assert deliverer.run_once() == 1
    assert channel.sent == []
    (row,) = api.client.get("/api/v1/messages", headers=operator).json()["items"]
    assert row["state"] == "skipped" and row["last_error"] == "not_mobile"
    assert row["recipient"] == "+62215551234"


def test_a_patient_may_not_change_their_own_phone_to_a_landline(api, clinic_setup):
    r = api.client.post(
        "/api/v1/auth/register",
        json={
            "username": "siti",
            "password": "rahasia-123",
            "name": "Siti",
            "birth_date": "1985-05-17",
            "phone": "0812-1111-2222",
        },
    )
    assert r.status_code == 201, r.text
    me = api.login("siti", "rahasia-123")
    patient_id = api.client.get("/api/v1/auth/me", headers=me).json()["patient_id"]
    own = f"/api/v1/patients/{patient_id}"
    r = api.client.patch(own, headers=me, json={"phone": "(021) 555-1234"})
    assert r.status_code == 422 and r.json()["code"] == "not_mobile_number"
    assert r.json()["errors"][0]["loc"] == ["phone"]
    assert api.client.get(own, headers=me).json()["phone"] == "+6281211112222"  # unchanged
    r = api.client.patch(own, headers=me, json={"phone": "0813 9999 8888"})
    assert r.status_code == 200 and r.json()["phone"] == "+6281399998888"
    # Staff may still record a landline for a patient reached that way.
    desk = api.staff("desk", "operator")
    r = api.client.patch(own, headers=desk, json={"phone": "(021) 555-1234"})
    assert r.status_code == 200 and r.json()["phone"] == "+62215551234"

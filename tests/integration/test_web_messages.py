"""The message pages over HTTP, on SQLite and PostgreSQL: the log for admins and the front desk
(filters in the address, the count in each state, sending again behind the CSRF check), the
texts for admins (an unknown placeholder refused next to the field, a saved text used by the
next message, the built-in text back), and a patient's own choices (e-mail address, language,
messages stopped by medium)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from antrean.bootstrap import build_deliverer
from antrean.domain.notifications import DEFAULT_TEXTS, Medium, MessageKind, SendFailure
from antrean.http import create_app
from antrean.services import notifications
from antrean.testing import RecordingChannel
from tests.integration.conftest import Api
from tests.integration.web_client import WebUser, field_error

PHONE = "0812-1111-2222"
E164 = "+6281211112222"


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel(Medium.SMS, "sms")


@pytest.fixture
def deliverer(container, channel):
    d = build_deliverer(container, channels=[channel])
    yield d
    d.close()


def _register(api: Api, username: str = "siti", phone: str = PHONE) -> dict[str, str]:
    body = {
        "username": username,
        "password": "rahasia-123",
        "name": "Siti Aminah" if username == "siti" else username.title(),
        "birth_date": "1985-05-17",
        "phone": phone,
    }
    r = api.client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    return api.login(username, "rahasia-123")


def _book(api: Api, me: dict[str, str], day: str = "2026-11-23") -> str:
    """The first free place on a weekday (one booking a day in a clinic for a patient)."""
    slots = api.client.get("/api/v1/slots", params={"date_from": day, "date_to": day}).json()
    r = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": slots[0]["id"]})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def _web(api: Api, username: str, password: str = "staff-password-1") -> WebUser:
    web = WebUser(TestClient(create_app(api.container)))
    web.sign_in(username, password)
    return web


@pytest.fixture
def desk(api: Api) -> WebUser:
    api.staff("desk", "operator")
    return _web(api, "desk")


@pytest.fixture
def boss(api: Api) -> WebUser:
    api.staff("boss", "admin")
    return _web(api, "boss")


def _rows(html: str) -> int:
    return html.count('<th scope="row"')


def _count(html: str, state: str) -> int:
    found = re.search(
        rf'href="/admin/messages\?state={state}"[^>]*><span class="count">(\d+)', html
    )
    assert found, state
    return int(found.group(1))


def _messages(api: Api, headers: dict[str, str], **params: str) -> list[dict]:
    r = api.client.get("/api/v1/messages", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _one_failed_one_sent(api: Api, deliverer, channel) -> tuple[str, str]:
    """Two bookings: the first's confirmation fails for good, the second's is sent; the
    second is then cancelled, and that message is sent too."""
    me = _register(api)
    failed = _book(api, me)
    channel.failure = SendFailure("blocked", "the number is blocked", permanent=True)
    assert deliverer.run_once() == 1
    channel.failure = None
    sent = _book(api, me, "2026-11-24")
    r = api.client.post(
        f"/api/v1/appointments/{sent}/cancel", headers=me, json={"reason": "Berhalangan"}
    )
    assert r.status_code == 200, r.text
    assert _deliver(deliverer) == 2
    return failed, sent


def _deliver(deliverer) -> int:
    """Every message due (one a patient at a time, in order), until none is left."""
    handled = 0
    while done := deliverer.run_once():
        handled += done
    return handled


def test_the_log_lists_filters_and_counts(api, clinic_setup, deliverer, channel, desk):
    _one_failed_one_sent(api, deliverer, channel)
    page = desk.get("/admin/messages")
    assert page.status_code == 200
    html = page.text
    assert _rows(html) == 3
    assert _count(html, "sent") == 2 and _count(html, "failed") == 1
    assert _count(html, "pending") == 0 and _count(html, "skipped") == 0
    assert "Booking terkonfirmasi" in html and "Booking dibatalkan" in html  # kinds in words
    assert "Siti Aminah" in html and E164 in html and ">sms<" in html
    assert "blocked" in html  # the last error
    assert html.count("/send-again") == 1  # only on the failed row

    failed = desk.get("/admin/messages?state=failed").text
    assert _rows(failed) == 1 and "blocked" in failed
    assert 'href="/admin/messages?state=failed" aria-current="true"' in failed
    assert _count(failed, "sent") == 2  # the counts are of every message
    cancelled = desk.get("/admin/messages?kind=booking_cancelled").text
    assert _rows(cancelled) == 1 and "Booking dibatalkan" in cancelled
    by_sms = desk.get("/admin/messages?medium=sms&state=sent").text
    assert _rows(by_sms) == 2
    assert _rows(desk.get("/admin/messages?medium=email").text) == 0
    # A patient's whole number, however it is typed, finds every message of the patient. Part
    # of a number finds nothing: addresses are sealed and found by their blind index, whole.
    whole = desk.get(f"/admin/messages?q={PHONE}").text
    assert _rows(whole) == 3 and "untuk Siti Aminah, pasien dengan nomor ini" in whole
    assert _rows(desk.get(f"/admin/messages?q={E164}").text) == 3
    assert _rows(desk.get(f"/admin/messages?q={PHONE}&state=sent").text) == 2
    assert _rows(desk.get("/admin/messages?q=0812 1111").text) == 0
    none = desk.get("/admin/messages?q=0813-9999-0000").text
    assert _rows(none) == 0 and "Tidak ada pesan yang cocok" in none
    small = desk.get("/admin/messages?state=sent&size=25&page=1").text
    assert _rows(small) == 2 and 'id="size"' in small
    # Unknown filter values are left out, never a failure.
    odd = desk.get("/admin/messages?state=lost&kind=fax&medium=pigeon&page=x&size=7&q=")
    assert odd.status_code == 200 and _rows(odd.text) == 3
    # Hostile searches find nothing, and never fail; control characters are left out.
    for hostile in ("a\x00b", "%", "_", "x" * 5000, "'; --", "０８１３"):
        r = desk.get("/admin/messages", params={"q": hostile})
        assert r.status_code == 200 and _rows(r.text) == 0, hostile
    assert _rows(desk.get("/admin/messages", params={"q": "\x00\t"}).text) == 3
    far = desk.get("/admin/messages?page=99999")
    assert far.status_code == 200 and _rows(far.text) == 0


def test_the_sub_navigation_shows_each_role_its_pages(api, clinic_setup, desk, boss):
    api.staff("dokter", "doctor")
    doctor = _web(api, "dokter")
    assert 'href="/admin/messages"' not in doctor.get("/admin/bookings").text
    operator_page = desk.get("/admin/bookings").text
    assert (
        'href="/admin/messages"' in operator_page and 'href="/admin/clinics"' not in operator_page
    )
    log = desk.get("/admin/messages").text
    assert 'href="/admin/messages" aria-current="page"' in log
    assert 'href="/admin/messages/texts"' not in log  # texts are for admins
    assert 'href="/admin/messages/texts"' in boss.get("/admin/messages").text
    assert 'href="/admin/messages"' in boss.get("/admin").text
    # The same pages in English.
    desk.get("/lang/en?next=/admin/messages")
    english = desk.get("/admin/messages?state=failed").text
    assert '<html lang="en">' in english and "Messages to patients" in english
    assert "selected>Failed</option>" in english


def test_doctors_patients_and_strangers_do_not_read_the_log(api, clinic_setup, desk):
    api.staff("dokter", "doctor")
    doctor = _web(api, "dokter")
    _register(api)
    patient = _web(api, "siti", "rahasia-123")
    for url in ("/admin/messages", "/admin/messages/texts", "/admin/messages/texts/reminder/id"):
        assert doctor.get(url).status_code == 403, url
        assert patient.get(url).status_code == 403, url
    for url in ("/admin/messages/texts", "/admin/messages/texts/reminder/en"):
        assert desk.get(url).status_code == 403, url  # the front desk reads the log only
    stranger = TestClient(create_app(api.container))
    r = stranger.get("/admin/messages?state=failed", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fadmin%2Fmessages%3Fstate%3Dfailed"


def test_send_again_needs_the_form_token_and_keeps_the_filters(
    api, clinic_setup, deliverer, channel, desk
):
    _one_failed_one_sent(api, deliverer, channel)
    operator = api.login("desk", "staff-password-1")
    (failed,) = _messages(api, operator, state="failed")
    url = f"/admin/messages/{failed['id']}/send-again"
    page = desk.get("/admin/messages?state=failed&kind=booking_confirmed")
    assert f'action="{url}"' in page.text

    # Without the form's token: refused, and the message stays failed.
    forged = desk.client.post(url, data={"back": "/admin/messages"}, follow_redirects=False)
    assert forged.status_code == 403
    wrong = desk.client.post(url, data={"csrf_token": "x" * 43}, follow_redirects=False)
    assert wrong.status_code == 403
    assert _messages(api, operator, state="failed")[0]["id"] == failed["id"]

    # A return address elsewhere is not followed: back to the log.
    r = desk.post(url, {"back": "https://example.org/admin/messages?state=sent"}, follow=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/messages?again={failed['id']}"
    channel.failure = SendFailure("blocked", "the number is blocked", permanent=True)
    assert deliverer.run_once() == 1
    channel.failure = None

    back = "/admin/messages?state=failed&kind=booking_confirmed"
    desk.get(back)
    r = desk.post(url, {"back": back}, follow=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"{back}&again={failed['id']}"
    shown = desk.get(r.headers["location"])
    assert "Pesan masuk antrean lagi" in shown.text
    assert _rows(shown.text) == 0  # no longer failed: it waits to be sent
    again = api.client.get(f"/api/v1/messages/{failed['id']}", headers=operator).json()
    assert again["state"] == "pending" and again["tries"] == 0
    assert deliverer.run_once() == 1
    done = api.client.get(f"/api/v1/messages/{failed['id']}", headers=operator).json()
    assert done["state"] == "sent"

    # A sent message is not sent again: said on the log, nothing changes.
    desk.get("/admin/messages")
    twice = desk.post(url, {"back": "/admin/messages?state=sent"}, follow=False)
    assert twice.headers["location"] == f"/admin/messages?state=sent&refused={failed['id']}"
    shown = desk.get(twice.headers["location"]).text
    assert "Hanya pesan yang gagal atau dilewati" in shown and _rows(shown) == 3
    desk.get("/admin/messages")
    assert desk.post("/admin/messages/abc/send-again", {}).status_code == 404
    assert desk.post("/admin/messages/999999/send-again", {}).status_code == 404


def test_a_text_with_an_unknown_placeholder_is_refused_next_to_the_body(api, clinic_setup, boss):
    texts = boss.get("/admin/messages/texts")
    assert texts.status_code == 200
    assert texts.text.count('href="/admin/messages/texts/') == 2 * len(MessageKind)
    assert boss.get("/admin/messages/texts/lost/id").status_code == 404
    assert boss.get("/admin/messages/texts/reminder/fr").status_code == 404
    assert "Teks pesan tidak ditemukan" in boss.last.text

    page = boss.get("/admin/messages/texts/booking_confirmed/id")
    assert page.status_code == 200
    assert "{doctor}" in page.text and "{link}" in page.text and "{ticket}" not in page.text
    assert "Siti Aminah" in page.text  # the preview, filled with example facts
    assert "Senin, 23 November 2026" in page.text  # the day after today, in the text's language
    # The facility has no address yet: said under the preview, which leaves it empty.
    assert "Fasilitas belum punya alamat" in page.text
    assert (
        "Fasilitas belum punya alamat"
        not in boss.get("/admin/messages/texts/ticket_called/id").text
    )  # a message without {address}
    boss.get("/admin/settings")
    boss.post("/admin/settings", {"name": "Klinik Sehat", "address": "Jl. Melati 5"})
    page = boss.get("/admin/messages/texts/booking_confirmed/id")
    assert "Klinik Sehat, Jl. Melati 5" in page.text and "belum punya alamat" not in page.text
    english = boss.get("/admin/messages/texts/booking_confirmed/en").text
    assert "Monday, November 23, 2026" in english and "Hello Siti Aminah" in english
    bad = boss.post(
        "/admin/messages/texts/booking_confirmed/id",
        {"subject": "Booking {code}", "body": "Halo {patient}, dokter {dcotor}", "step": "save"},
    )
    assert bad.status_code == 400 and field_error(bad.text, "body")
    assert "{dcotor}" in bad.text and 'href="#body"' in bad.text  # the summary links to it
    assert "Halo {patient}, dokter {dcotor}</textarea>" in bad.text  # kept for correcting
    lone = boss.post(
        "/admin/messages/texts/booking_confirmed/id",
        {"subject": "Booking {code", "body": "Halo", "step": "save"},
    )
    assert lone.status_code == 400 and field_error(lone.text, "subject")
    template = boss.post(
        "/admin/messages/texts/booking_confirmed/id",
        {"subject": "Booking", "body": "Halo", "whatsapp_template": "Bad Name!"},
    )
    assert template.status_code == 400 and field_error(template.text, "whatsapp_template")
    control = boss.post(
        "/admin/messages/texts/booking_confirmed/id",
        {"subject": "Booking", "body": "Halo\x00 {patient}", "step": "save"},
    )
    assert control.status_code == 400 and field_error(control.text, "body")
    preview = boss.post(
        "/admin/messages/texts/booking_confirmed/id",
        {"subject": "Booking {code}", "body": "Sampai jumpa {patient}.", "step": "preview"},
    )
    assert preview.status_code == 200 and "Sampai jumpa Siti Aminah." in preview.text
    c = api.container
    texts_now = notifications.message_texts(c.uow(), actor=c.system())
    assert all(t.edited_at is None for t in texts_now)  # nothing saved by any of these
    # The operator may not change a text, even with a valid form.
    api.staff("desk", "operator")
    desk = _web(api, "desk")
    denied = desk.post(
        "/admin/messages/texts/booking_confirmed/id",
        {"subject": "x", "body": "y", "step": "save"},
    )
    assert denied.status_code == 403


def test_a_saved_text_is_what_the_next_message_says_until_reset(
    api, clinic_setup, deliverer, channel, boss
):
    boss.get("/admin/messages/texts/booking_confirmed/id")
    saved = boss.post(
        "/admin/messages/texts/booking_confirmed/id",
        {
            "subject": "Booking {code}",
            "body": "Sampai jumpa {patient}, kode {code}.",
            "whatsapp_template": "booking_confirmed_v2",
            "step": "save",
        },
        follow=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/messages/texts/booking_confirmed/id?saved=1"
    page = boss.get(saved.headers["location"]).text
    assert "Tersimpan" in page and "Kembalikan ke teks bawaan" in page
    assert "Sampai jumpa Siti Aminah, kode K7Q2MX." in page  # the preview of the saved text
    listed = boss.get("/admin/messages/texts").text
    assert "booking_confirmed_v2" in listed and "Diubah" in listed

    me = _register(api)
    code = _book(api, me)
    assert deliverer.run_once() == 1
    assert channel.sent[-1].text == f"Sampai jumpa Siti Aminah, kode {code}."

    boss.get("/admin/messages/texts/booking_confirmed/id")
    reset = boss.post("/admin/messages/texts/booking_confirmed/id/reset", {})
    assert reset.status_code == 200 and "Ini teks bawaan." in reset.text
    built_in = DEFAULT_TEXTS[(MessageKind.BOOKING_CONFIRMED, "id")].body
    assert built_in.split("\n")[0] in reset.text
    _book(api, me, "2026-11-24")
    assert deliverer.run_once() == 1
    assert channel.sent[-1].text.startswith("Halo Siti Aminah, booking Anda terkonfirmasi.")
    # Resetting needs the form's token too.
    forged = boss.client.post(
        "/admin/messages/texts/booking_confirmed/en/reset", follow_redirects=False
    )
    assert forged.status_code == 403


def test_a_patient_stops_sms_and_the_next_message_is_skipped(
    api, clinic_setup, deliverer, channel, desk
):
    me = _register(api)
    patient = _web(api, "siti", "rahasia-123")
    page = patient.get("/my/messages")
    assert page.status_code == 200
    assert E164 in page.text and 'action="/my/messages/sms"' in page.text
    assert 'action="/my/messages/email"' not in page.text  # no e-mail address yet
    forged = patient.client.post("/my/messages/sms", data={"out": "1"}, follow_redirects=False)
    assert forged.status_code == 403
    choices = api.client.get("/api/v1/patients/me/messages", headers=me).json()
    assert choices["opted_out"] == []

    stopped = patient.post("/my/messages/sms", {"out": "1"})
    assert stopped.status_code == 200 and stopped.url.path == "/my/messages"
    assert "Dihentikan: Anda tidak lagi menerima pesan lewat SMS." in stopped.text
    assert "Aktifkan lagi pesan lewat SMS" in stopped.text
    assert api.client.get("/api/v1/patients/me/messages", headers=me).json()["opted_out"] == ["sms"]
    _book(api, me)
    assert deliverer.run_once() == 1
    assert channel.sent == []
    operator = api.login("desk", "staff-password-1")
    (row,) = _messages(api, operator)
    assert row["state"] == "skipped" and row["last_error"] == "opted_out"
    log = desk.get("/admin/messages?state=skipped").text
    assert "Pasien menghentikan pesan ini" in log and "Siti Aminah" in log

    patient.get("/my/messages")
    started = patient.post("/my/messages/sms", {"out": "0"})
    assert "Aktif lagi" in started.text
    assert api.client.get("/api/v1/patients/me/messages", headers=me).json()["opted_out"] == []
    patient.get("/my/messages")
    assert patient.post("/my/messages/fax", {"out": "1"}).status_code == 400


def test_a_patient_saves_an_e_mail_address_and_a_language(
    api, clinic_setup, deliverer, channel, desk
):
    me = _register(api)
    patient = _web(api, "siti", "rahasia-123")
    patient.get("/my/messages")
    bad = patient.post("/my/messages", {"email": "siti@", "language": "en"})
    assert bad.status_code == 400 and field_error(bad.text, "email")
    assert 'value="siti@"' in bad.text and 'href="#email"' in bad.text
    odd = patient.post("/my/messages", {"email": "", "language": "fr"})
    assert odd.status_code == 400 and "language-error" in odd.text
    assert api.client.get("/api/v1/patients/me/messages", headers=me).json()["email"] is None

    saved = patient.post("/my/messages", {"email": "Siti@Example.COM", "language": "en"})
    assert saved.status_code == 200 and "saved=1" in str(saved.url)
    assert 'value="Siti@example.com"' in saved.text
    assert '<option value="en" lang="en" selected>' in saved.text
    assert 'action="/my/messages/email"' in saved.text  # the e-mail switch, now it has one
    found = api.client.get("/api/v1/patients/me/messages", headers=me).json()
    assert found["email"] == "Siti@example.com" and found["language"] == "en"

    _book(api, me)
    assert deliverer.run_once() == 1
    assert channel.sent[-1].text.startswith("Hello Siti Aminah, your booking is confirmed.")

    patient.get("/my/messages")
    cleared = patient.post("/my/messages", {"email": "", "language": ""})
    assert cleared.status_code == 200
    found = api.client.get("/api/v1/patients/me/messages", headers=me).json()
    assert found["email"] is None and found["language"] is None


def test_staff_have_no_message_choices_page(api, desk):
    r = desk.client.get("/my/messages", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console"
    stranger = TestClient(create_app(api.container))
    r = stranger.get("/my/messages", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")

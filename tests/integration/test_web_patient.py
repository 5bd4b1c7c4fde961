"""The patient's pages over HTTP, without script (as a browser with JavaScript off sees them),
on SQLite and PostgreSQL: booking step by step with sign-up on the way, refusals in words with
another time offered, the confirmation with QR and calendar file, cancel and reschedule, the
online queue number and its public ticket page, and what a patient may not open."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from antrean.domain.catalog import FacilityPatch
from antrean.http import create_app
from antrean.services import catalog
from tests.integration.conftest import FROZEN_AT, JKT, MONDAY, Api
from tests.integration.web_client import WebUser, field_error

SIGN_UP = {
    "name": "Siti Aminah",
    "birth_date": "1990-04-01",
    "sex": "female",
    "phone": "0812 3456 7890",
    "username": "siti",
    "password": "siti-password-1",
}


@pytest.fixture
def web(api: Api) -> WebUser:
    return WebUser(api.client)


def _links(html: str, pattern: str) -> list[str]:
    return [m.replace("&amp;", "&") for m in re.findall(r'href="(' + pattern + r'[^"]*)"', html)]


def _walk_to_confirm(web: WebUser, setup: dict[str, int]) -> str:
    """Follow the booking steps by their links, as a patient taps them; the confirm step's
    address."""
    page = web.get("/book")
    assert page.status_code == 200
    step = _links(page.text, rf"/book\?clinic={setup['clinic_id']}")[0]
    step = _links(web.get(step).text, r"/book\?[^\"]*service=")[0]
    doctors = web.get(step).text
    assert "doctor=any" in doctors and f"doctor={setup['doctor_id']}" in doctors
    step = _links(doctors, r"/book\?[^\"]*doctor=any")[0]
    days = web.get(step).text
    step = _links(days, rf"/book\?[^\"]*day={MONDAY.isoformat()}")[0]
    times = web.get(step).text
    assert "08.00" in times  # Indonesian time format
    step = _links(times, r"/book\?[^\"]*slot=")[0]
    return step


def test_a_new_patient_signs_up_on_the_way_and_books(web, api, clinic_setup):
    catalog.update_facility(
        api.container.uow(),
        actor=api.container.system(),
        patch=FacilityPatch(address="Jl. Merdeka 10, Bandung"),
    )
    confirm = _walk_to_confirm(web, clinic_setup)
    page = web.get(confirm)
    signup = _links(page.text, r"/signup\?next=")[0]
    assert 'action="/book"' not in page.text  # anonymous: sign in first, choices kept
    web.get(signup)
    back = web.post("/signup", {**SIGN_UP, "next": confirm})
    assert back.status_code == 200 and back.url.path == "/book"
    assert 'action="/book"' in back.text  # the same step, now with the book button
    done = web.post("/book", dict(re.findall(r'name="(\w+)" value="([^"]*)"', back.text)))
    assert done.status_code == 200 and done.url.path.startswith("/appointments/")
    code = done.url.path.rsplit("/", 1)[1]
    assert code in done.text and "Jl. Merdeka 10, Bandung" in done.text
    assert '<svg role="img"' in done.text and "Poli Umum" in done.text and "dr. Andi" in done.text
    ics = web.get(f"/appointments/{code}/calendar.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime.combine(MONDAY, datetime.min.time(), JKT).replace(
        hour=8
    )
    mine = web.get("/my")
    assert f"/appointments/{code}" in mine.text


def test_missing_fields_get_their_own_message_and_nothing_is_created(web, api):
    web.get("/signup")
    page = web.post("/signup", {"name": "", "birth_date": "", "username": "", "password": ""})
    assert page.status_code == 400
    for name in ("name", "birth_date", "username", "password"):
        assert field_error(page.text, name), name
        assert f'href="#{name}"' in page.text  # the summary links to the field
    assert 'role="alert"' in page.text
    bad = web.post("/signup", {**SIGN_UP, "birth_date": "2999-01-01", "password": "short"})
    assert bad.status_code == 400
    assert field_error(bad.text, "birth_date") and field_error(bad.text, "password")
    assert 'value="siti"' in bad.text and "siti-password" not in bad.text  # typed values kept


def test_a_full_time_is_refused_in_words_with_the_other_times_offered(web, api, clinic_setup):
    confirm = _walk_to_confirm(web, clinic_setup)
    slot_id = int(confirm.rsplit("slot=", 1)[1].split("&")[0])
    for n in range(2):  # capacity 2: two others take the places meanwhile
        other = WebUser(TestClient(create_app(api.container)))
        other.get("/signup")
        other.post("/signup", {**SIGN_UP, "username": f"other{n}", "name": f"Other {n}"})
        other.get(confirm)
        form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', other.last.text))
        assert other.post("/book", form).url.path.startswith("/appointments/")
    web.get("/signup")
    web.post("/signup", {**SIGN_UP, "next": confirm})
    form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', web.last.text))
    assert form.get("slot") is None or form["slot"] == str(slot_id)  # place gone already
    form.update(slot=str(slot_id), clinic=str(clinic_setup["clinic_id"]))
    form.update(service=str(clinic_setup["service_id"]), doctor="any", day=MONDAY.isoformat())
    refused = web.post("/book", form)
    assert refused.status_code == 409
    assert "sudah penuh" in refused.text or "tidak lagi tersedia" in refused.text
    offered = _links(refused.text, r"/book\?[^\"]*slot=")
    assert offered and all(f"slot={slot_id}&" not in o + "&" for o in offered)


def test_forms_without_the_session_token_are_refused(web, api, clinic_setup):
    web.get("/signup")
    r = web.client.post("/signup", data=SIGN_UP, follow_redirects=False)
    assert r.status_code == 403
    assert web.get("/login").status_code == 200
    r = web.client.post("/login", data={"username": "siti", "password": "x", "csrf_token": "x"})
    assert r.status_code == 403
    web.get("/signup")
    assert web.post("/signup", SIGN_UP).status_code == 200  # the account was not made before


def test_a_patient_cancels_with_a_reason_and_reschedules(web, api, clinic_setup):
    confirm = _walk_to_confirm(web, clinic_setup)
    web.get("/signup")
    back = web.post("/signup", {**SIGN_UP, "next": confirm})
    done = web.post("/book", dict(re.findall(r'name="(\w+)" value="([^"]*)"', back.text)))
    code = done.url.path.rsplit("/", 1)[1]
    moved_page = web.get(f"/appointments/{code}/reschedule?day={MONDAY.isoformat()}")
    assert moved_page.status_code == 200
    slots = re.findall(r'name="slot" value="(\d+)"', moved_page.text)
    assert slots
    moved = web.post(f"/appointments/{code}/reschedule", {"slot": slots[-1]})
    assert moved.status_code == 200 and "moved=1" in str(moved.url)
    assert "11.30" in moved.text  # the last slot of Monday morning
    empty = web.post(f"/appointments/{code}/cancel", {"reason": "  "})
    assert empty.status_code == 400 and field_error(empty.text, "reason")
    cancelled = web.post(f"/appointments/{code}/cancel", {"reason": "Sudah sembuh"})
    assert cancelled.status_code == 200 and "Sudah sembuh" in cancelled.text
    assert f'action="/appointments/{code}/cancel"' not in cancelled.text


def test_a_patient_may_not_open_staff_pages_or_another_patients_booking(web, api, clinic_setup):
    confirm = _walk_to_confirm(web, clinic_setup)
    web.get("/signup")
    back = web.post("/signup", {**SIGN_UP, "next": confirm})
    done = web.post("/book", dict(re.findall(r'name="(\w+)" value="([^"]*)"', back.text)))
    code = done.url.path.rsplit("/", 1)[1]
    other = WebUser(TestClient(create_app(api.container)))
    other.get("/signup")
    other.post("/signup", {**SIGN_UP, "username": "budi", "name": "Budi"})
    page = other.get(f"/appointments/{code}")
    assert page.status_code == 404 and "Siti" not in page.text
    for url in ("/console", f"/console/{clinic_setup['clinic_id']}"):
        staff_page = other.get(url)
        assert staff_page.status_code == 403 and "Traceback" not in staff_page.text
    anonymous = WebUser(TestClient(create_app(api.container)))
    assert anonymous.get(f"/appointments/{code}").url.path == "/login"


def test_signing_out_ends_the_session_even_for_a_copied_cookie(web, api):
    web.get("/signup")
    web.post("/signup", SIGN_UP)
    cookie = web.client.cookies.get("antrean_session")
    assert web.get("/my").url.path == "/my"
    web.post("/logout", {})
    thief = TestClient(create_app(api.container))
    thief.cookies.set("antrean_session", cookie)
    assert thief.get("/my").url.path == "/login"


def test_the_return_address_never_leaves_the_site(web, api):
    web.get("/signup")
    web.post("/signup", {**SIGN_UP, "next": "//evil.example/x"})
    assert web.last.url.host == "testserver" and web.last.url.path == "/my"
    r = web.client.get("/lang/en?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/"


def test_the_language_switch_is_remembered(web, api):
    assert '<html lang="id">' in web.get("/").text
    web.get("/lang/en?next=/login")
    assert web.last.url.path == "/login" and '<html lang="en">' in web.last.text
    assert '<html lang="en">' in web.get("/").text


def test_an_online_queue_number_and_its_public_live_page(web, api, clinic_setup, clock):
    web.get("/signup")
    web.post("/signup", SIGN_UP)
    web.get("/walk-in")
    closed = web.post("/walk-in", {"clinic": str(clinic_setup["clinic_id"])})
    assert closed.status_code == 409  # Sunday: the clinic is closed, said in words
    assert "tutup" in closed.text
    clock.set(datetime.combine(MONDAY, datetime.min.time(), JKT).replace(hour=9))
    web.get("/walk-in")
    taken = web.post("/walk-in", {"clinic": str(clinic_setup["clinic_id"])})
    assert taken.status_code == 200 and taken.url.path.startswith("/t/")
    assert "A-001" in taken.text
    again = web.post("/walk-in", {"clinic": str(clinic_setup["clinic_id"])})
    assert again.url.path == taken.url.path  # a second tap keeps the same number
    anyone = TestClient(create_app(api.container))
    page = anyone.get(taken.url.path)
    assert page.status_code == 200 and "A-001" in page.text and "Siti" not in page.text
    part = anyone.get(taken.url.path, headers={"HX-Request": "true"})
    assert part.text.lstrip().startswith('<section id="ticket-card"')
    assert f'data-live-src="{taken.url.path}/events"' in page.text  # listens to its stream
    assert "A-001" in web.get("/my").text
    assert clock.now() > FROZEN_AT
    assert anyone.get("/t/not-a-ticket").status_code == 404


def test_static_files_are_cached_for_a_year_under_hashed_names(web, api):
    page = web.get("/")
    css = re.search(r'href="(/assets/app\.[0-9a-f]{12}\.css)"', page.text).group(1)
    r = web.client.get(css, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert r.headers["content-encoding"] == "gzip"
    assert web.client.get("/assets/app.000000000000.css").status_code == 404
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_every_page_answers_in_english_too(web, api, clinic_setup):
    web.get("/lang/en?next=/")
    for url in ("/", "/login", "/signup", "/book", "/walk-in"):
        page = web.get(url)
        assert page.status_code == 200 and '<html lang="en">' in page.text, url
    assert "Book an appointment" in web.get("/").text
    web.get("/lang/id?next=/")
    assert "Pesan jadwal" in web.get("/").text


def test_monday_morning_is_shown_in_the_facility_time_zone(web, api, clinic_setup):
    confirm = _walk_to_confirm(web, clinic_setup)
    page = web.get(confirm)
    day = MONDAY.strftime("%d").lstrip("0")
    assert "Senin" in page.text and f"{day} November 2026" in page.text
    assert "08.00" in page.text and "08.30" in page.text


def test_a_second_booking_the_same_day_is_refused_with_the_way_to_the_first(web, clinic_setup):
    confirm = _walk_to_confirm(web, clinic_setup)
    web.get("/signup")
    back = web.post("/signup", {**SIGN_UP, "next": confirm})
    first = web.post("/book", dict(re.findall(r'name="(\w+)" value="([^"]*)"', back.text)))
    assert first.url.path.startswith("/appointments/")
    times = web.get(confirm.split("&slot=")[0]).text
    other = next(link for link in _links(times, r"/book\?[^\"]*slot=") if link != confirm)
    page = web.get(other)
    again = web.post("/book", dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text)))
    assert again.status_code == 409
    assert 'href="/my"' in again.text and 'role="alert"' in again.text

"""The admin's pages over HTTP, on SQLite and PostgreSQL: the dashboard, clinics with hours and
counters, services, doctors with schedules whose times then appear on the booking page, leave
shown with the bookings it touches before it is saved, accounts, device links, the facility's
settings, and the bookings table with its filters, CSV export and history."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from antrean.http import create_app
from tests.integration.conftest import JKT, MONDAY, Api
from tests.integration.web_client import WebUser, field_error

HTMX = {"HX-Request": "true"}


@pytest.fixture
def boss(api: Api) -> WebUser:
    api.staff("boss", "admin")
    web = WebUser(api.client)
    web.sign_in("boss", "staff-password-1")
    assert web.last.url.path == "/admin"
    return web


def _book(api: Api, setup: dict[str, int], username: str, name: str, phone: str) -> str:
    body = {
        "username": username,
        "password": "patient-password-1",
        "name": name,
        "birth_date": "1990-01-01",
        "phone": phone,
    }
    assert api.client.post("/api/v1/auth/register", json=body).status_code == 201
    token = api.login(username, "patient-password-1")
    query = {"date_from": MONDAY.isoformat(), "clinic_id": setup["clinic_id"]}
    slot = api.client.get("/api/v1/slots", params=query).json()[0]["id"]
    r = api.client.post("/api/v1/appointments", headers=token, json={"slot_id": slot})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def test_only_admins_open_the_admin_pages(api, boss):
    api.staff("ani", "operator")
    operator = WebUser(TestClient(create_app(api.container)))
    operator.sign_in("ani", "staff-password-1")
    for url in ("/admin", "/admin/users", "/admin/clinics", "/admin/devices"):
        assert operator.get(url).status_code == 403, url
    assert operator.get("/admin/bookings").status_code == 200  # the front desk uses it too
    anonymous = TestClient(create_app(api.container))
    assert anonymous.get("/admin/users", follow_redirects=False).status_code == 303


def test_a_clinic_with_hours_counters_and_the_closed_switch(boss):
    web = boss
    web.get("/admin/clinics")
    bad = web.post(
        "/admin/clinics",
        {
            "code": "GIGI",
            "name": "Poli Gigi",
            "queue_prefix": "??",
            "open_1": "on",
            "opens_1": "08:00",
            "closes_1": "07:00",
            "is_open": "on",
        },
    )
    assert bad.status_code == 400 and field_error(bad.text, "queue_prefix")
    made = web.post(
        "/admin/clinics",
        {
            "code": "GIGI",
            "name": "Poli Gigi",
            "queue_prefix": "B",
            "open_0": "on",
            "opens_0": "08:00",
            "closes_0": "16:00",
            "open_5": "on",
            "opens_5": "00:00",
            "closes_5": "23:59",
            "is_open": "on",
        },
    )
    assert made.status_code == 200 and "saved=1" in str(made.url)
    clinic_path = made.url.path
    assert 'name="open_0" aria-label' in made.text or 'id="open_0"' in made.text
    assert re.search(r'id="opens_0" name="opens_0" value="08:00"', made.text)
    web.post(clinic_path + "/counters", {"counter": "Ruang 1"})
    web.post(clinic_path + "/counters", {"counter": "Ruang 2"})
    page = web.get(clinic_path)
    assert "Ruang 1" in page.text and "Ruang 2" in page.text
    web.post(clinic_path + "/counters", {"remove": "Ruang 1"})
    assert "Ruang 1" not in web.get(clinic_path).text
    closed = web.post(
        clinic_path,
        {
            "name": "Poli Gigi",
            "queue_prefix": "B",
            "open_0": "on",
            "opens_0": "08:00",
            "closes_0": "16:00",
        },
    )
    assert closed.status_code == 200
    assert "Tutup" in web.get("/admin/clinics").text  # the switch is off: shown as closed


def test_a_new_doctor_and_schedule_appear_on_the_booking_page(api, boss, clinic_setup):
    web = boss
    web.get("/admin/doctors")
    made = web.post("/admin/doctors", {"name": "dr. Baru Sekali", "specialty": "Umum"})
    doctor_path = made.url.path
    added = web.post(
        doctor_path + "/schedules",
        {
            "clinic_id": str(clinic_setup["clinic_id"]),
            "weekday": "0",
            "start": "13:00",
            "end": "14:00",
            "slot_minutes": "20",
            "capacity": "1",
        },
    )
    assert added.status_code == 200 and "13.00" in added.text
    wrong = web.post(
        doctor_path + "/schedules",
        {
            "clinic_id": str(clinic_setup["clinic_id"]),
            "weekday": "0",
            "start": "13:30",
            "end": "13:00",
            "slot_minutes": "20",
            "capacity": "1",
        },
    )
    assert wrong.status_code == 400 and 'role="alert"' in wrong.text
    patient = WebUser(TestClient(create_app(api.container)))
    doctor_id = doctor_path.rsplit("/", 1)[1]
    base = f"/book?clinic={clinic_setup['clinic_id']}&service={clinic_setup['service_id']}"
    doctors = patient.get(base).text
    assert "dr. Baru Sekali" in doctors
    times = patient.get(f"{base}&doctor={doctor_id}&day={MONDAY.isoformat()}").text
    assert all(t in times for t in ("13.00", "13.20", "13.40"))


def test_leave_shows_the_bookings_it_touches_before_it_is_saved(api, boss, clinic_setup):
    code = _book(api, clinic_setup, "rina", "Rina", "081234567801")
    web = boss
    doctor_path = f"/admin/doctors/{clinic_setup['doctor_id']}"
    web.get(doctor_path)
    leave = {
        "kind": "leave",
        "date_from": MONDAY.isoformat(),
        "date_to": MONDAY.isoformat(),
        "reason": "Seminar",
    }
    preview = web.post(doctor_path + "/exceptions", {**leave, "step": "preview"})
    assert preview.status_code == 200 and code in preview.text
    assert 'value="save"' in preview.text
    r = api.client.get("/api/v1/slots", params={"date_from": MONDAY.isoformat()})
    assert r.json(), "nothing saved by a preview: Monday's slots are still bookable"
    saved = web.post(doctor_path + "/exceptions", {**leave, "step": "save"})
    assert saved.status_code == 200 and "Seminar" in saved.text
    r = api.client.get("/api/v1/slots", params={"date_from": MONDAY.isoformat()})
    assert r.json() == []


def test_accounts_are_made_disabled_and_given_a_new_password(api, boss):
    web = boss
    web.get("/admin/users")
    short = web.post("/admin/users", {"username": "tono", "password": "short", "roles": "operator"})
    assert short.status_code == 400 and field_error(short.text, "password")
    none = web.post("/admin/users", {"username": "tono", "password": "tono-password-1"})
    assert none.status_code == 400 and "roles" in none.text
    made = web.post(
        "/admin/users",
        {
            "username": "tono",
            "password": "tono-password-1",
            "roles": "operator",
            "full_name": "Tono",
        },
    )
    assert made.status_code == 200 and "tono" in made.text
    tono = WebUser(TestClient(create_app(api.container)))
    tono.sign_in("tono", "tono-password-1")
    assert tono.get("/console").status_code == 200
    user_id = re.search(
        r'/admin/users/(\d+)/disable" class="inline-form">.{0,400}tono', made.text, re.S
    )
    user_id = (
        user_id.group(1) if user_id else re.findall(r"/admin/users/(\d+)/disable", made.text)[-1]
    )
    web.post(f"/admin/users/{user_id}/disable", {})
    assert tono.get("/console").url.path == "/login"  # signed out at once
    web.post(f"/admin/users/{user_id}/enable", {})
    web.post(f"/admin/users/{user_id}/password", {"new_password": "tono-password-2"})
    again = WebUser(TestClient(create_app(api.container)))
    again.sign_in("tono", "tono-password-2")
    assert again.get("/console").status_code == 200


def test_device_links_are_shown_once_and_revoked(api, boss, clinic_setup):
    web = boss
    web.get("/admin/devices")
    empty = web.post("/admin/devices", {"kind": "display", "name": "TV lobi"})
    assert empty.status_code == 400 and "clinic_ids" in empty.text
    made = web.post(
        "/admin/devices",
        {
            "kind": "display",
            "name": "TV lobi",
            "clinic_ids": str(clinic_setup["clinic_id"]),
            "sound": "on",
        },
    )
    url = re.search(r'href="(http://testserver/display/[^"]+)"', made.text).group(1)
    path = url.removeprefix("http://testserver")
    assert api.client.get(path).status_code == 200
    assert path not in web.get("/admin/devices").text  # the link is shown only once
    link_id = re.search(r"/admin/devices/(\d+)/revoke", web.last.text).group(1)
    web.post(f"/admin/devices/{link_id}/revoke", {})
    assert api.client.get(path).status_code == 404


def test_the_facility_settings_reach_every_page(api, boss):
    web = boss
    web.get("/admin/settings")
    missing = web.post("/admin/settings", {"name": " ", "address": "", "phone": ""})
    assert missing.status_code == 400 and field_error(missing.text, "name")
    web.post("/admin/settings", {"name": "Klinik Sehat", "address": "Jl. Mawar 5", "phone": "021"})
    home = TestClient(create_app(api.container)).get("/")
    assert "Klinik Sehat" in home.text and "Jl. Mawar 5" in home.text


def test_the_bookings_table_filters_searches_sorts_exports_and_shows_history(
    api, boss, clinic_setup
):
    first = _book(api, clinic_setup, "rina", "Rina Marlina", "081234567801")
    second = _book(api, clinic_setup, "yoga", "Yoga Pratama", "081234567802")
    token = api.login("yoga", "patient-password-1")
    api.client.post(
        f"/api/v1/appointments/{second}/cancel", headers=token, json={"reason": "Sudah sembuh"}
    )
    web = boss
    everything = web.get("/admin/bookings")
    assert first in everything.text and second in everything.text
    assert first in web.get("/admin/bookings?q=marlina").text
    assert second not in web.get("/admin/bookings?q=marlina").text
    assert first in web.get("/admin/bookings?q=0812-3456-7801").text  # phone as typed
    assert second in web.get(f"/admin/bookings?q={second.lower()}").text
    cancelled = web.get("/admin/bookings?status=cancelled").text
    assert second in cancelled and first not in cancelled
    by_name = web.get("/admin/bookings?order=-patient").text
    assert by_name.index(second) < by_name.index(first)  # Yoga before Rina, descending
    paged = web.get("/admin/bookings?size=25&page=2").text
    assert first not in paged
    assert web.get("/admin/bookings?order=drop+table&from=junk").status_code == 200
    export = web.get("/admin/bookings.csv?status=booked")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Kode booking" and [r[0] for r in rows[1:]] == [first]
    assert rows[1][5] == "Rina Marlina"
    history = web.get(f"/admin/bookings/{second}")
    assert "Sudah sembuh" in history.text and "Yoga Pratama" in history.text
    assert history.text.count("<li><strong>") == 2  # booked, then cancelled


def test_the_dashboard_counts_today_and_updates_itself(api, boss, clinic_setup, clock):
    clock.set(datetime.combine(MONDAY, datetime.min.time(), JKT).replace(hour=9))
    boss.sign_in("boss", "staff-password-1")
    _book(api, clinic_setup, "rina", "Rina", "081234567801")
    part = boss.client.get("/admin", headers=HTMX)
    assert part.text.lstrip().startswith('<div id="figures">')
    row = re.search(r"Poli Umum.*?</tr>", part.text, re.S).group(0)
    assert re.findall(r"<td>(\d+)</td>", row)[:1] == ["1"]  # one booked today
    assert 'data-live-src="/admin/events"' in boss.get("/admin").text

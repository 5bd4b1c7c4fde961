"""The front desk's console over HTTP, on SQLite and PostgreSQL: walk-ins for found and new
patients, call next, start, finish, skip, re-queue, transfer and undo, check-in by booking
code, the HTMX fragment of the queue panel, and refusals shown in words."""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest

from antrean.domain.catalog import ClinicDraft, OpeningHours
from antrean.domain.identity import Role, StaffAccountDraft
from antrean.domain.patients import PatientDraft
from antrean.services import catalog, patients
from antrean.services.accounts import create_user
from tests.integration.conftest import JKT, MONDAY, Api
from tests.integration.web_client import WebUser, field_error

HTMX = {"HX-Request": "true"}


@pytest.fixture
def desk(api: Api, clinic_setup, clock) -> tuple[WebUser, str]:
    """An operator signed in at counter "Loket 1" of the clinic, on Monday 09:00."""
    clock.set(datetime.combine(MONDAY, datetime.min.time(), JKT).replace(hour=9))
    api.staff("ani", "operator")
    web = WebUser(api.client)
    web.sign_in("ani", "staff-password-1")
    assert web.last.url.path == "/console"
    base = f"/console/{clinic_setup['clinic_id']}"
    assert web.get(base + "?counter=Loket%201").status_code == 200
    return web, base


def _walk_in(web: WebUser, base: str, name: str, **extra: str) -> str:
    page = web.post(
        base + "/walk-in",
        {"counter": "Loket 1", "name": name, "birth_date": "1980-02-03", "sex": "male", **extra},
    )
    assert page.status_code == 200, page.text[-2000:]
    return re.search(r'<p class="label-big">([A-Z]-\d{3})</p>', page.text).group(1)


def _ticket_id(web: WebUser, label: str) -> str:
    html = web.last.text
    row = html[html.index(label) :]
    return re.search(r"/tickets/(\d+)/", row).group(1)


def test_the_front_desk_registers_calls_serves_and_undoes(desk, api):
    web, base = desk
    first = _walk_in(web, base, "Budi Santoso")
    second = _walk_in(web, base, "Citra Lestari", priority="priority", priority_reason="Lansia")
    assert (first, second) == ("A-001", "A-002")
    called = web.post(base + "/call-next", {"counter": "Loket 1"}, headers=HTMX)
    assert called.text.lstrip().startswith('<section id="queue-panel"')  # only the panel
    assert "Citra Lestari" in called.text.split("Menunggu")[0]  # priority first, at the desk
    ticket = _ticket_id(web, "A-002")
    web.get(base + "?counter=Loket%201")
    web.post(f"{base}/tickets/{ticket}/start", {"counter": "Loket 1"})
    assert 'data-key="F8"' in web.last.text  # serving: finish is the next step
    web.post(f"{base}/tickets/{ticket}/finish", {"counter": "Loket 1"})
    assert "Selesai" in web.last.text
    web.post(f"{base}/tickets/{ticket}/undo", {"counter": "Loket 1"})
    assert 'data-key="F8"' in web.last.text  # back to serving
    wrong = web.post(f"{base}/tickets/{ticket}/requeue", {"counter": "Loket 1"})
    assert wrong.status_code == 409 and 'role="alert"' in wrong.text


def test_the_front_desk_finds_a_patient_and_gives_a_number(desk, api):
    web, base = desk
    record = patients.register_patient(
        api.container.uow(),
        actor=api.container.system(),
        policy=api.container.policy,
        phones=api.container.phones,
        draft=PatientDraft(name="Dewi Anggraini", birth_date=datetime(1975, 5, 6).date()),
    )
    found = web.get(base + "/patients?counter=Loket%201&q=anggra")
    assert "Dewi Anggraini" in found.text and record.mrn in found.text
    part = web.client.get(base + f"/patients?counter=Loket%201&q={record.mrn}", headers=HTMX)
    assert part.text.lstrip().startswith('<div id="search-results">') and "Dewi" in part.text
    web.last = found
    form = re.search(
        r'<form method="post" action="[^"]+/walk-in" class="found">(.*?)</form>', found.text, re.S
    ).group(1)
    values = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    issued = web.post(base + "/walk-in", values)
    assert "A-001" in issued.text and "Dewi Anggraini" in issued.text


def test_missing_walk_in_fields_are_shown_next_to_them(desk):
    web, base = desk
    page = web.post(base + "/walk-in", {"counter": "Loket 1", "name": "", "birth_date": ""})
    assert page.status_code == 400
    assert field_error(page.text, "name") and field_error(page.text, "birth_date")
    page = web.post(
        base + "/walk-in",
        {"counter": "Loket 1", "name": "Eka", "birth_date": "1990-01-01", "priority": "priority"},
    )
    assert page.status_code == 400 and field_error(page.text, "priority_reason")


def test_check_in_by_booking_code(desk, api, clinic_setup):
    web, base = desk
    api.client.post(
        "/api/v1/auth/register",
        json={
            "username": "fajar",
            "password": "fajar-password-1",
            "name": "Fajar",
            "birth_date": "1991-01-01",
        },
    )
    token = api.login("fajar", "fajar-password-1")
    slots = api.client.get(
        "/api/v1/slots",
        params={"date_from": MONDAY.isoformat(), "clinic_id": clinic_setup["clinic_id"]},
    ).json()
    booked = api.client.post(
        "/api/v1/appointments", headers=token, json={"slot_id": slots[-1]["id"]}
    )
    code = booked.json()["code"]
    web.get(base + "?counter=Loket%201")
    unknown = web.post(base + "/check-in", {"counter": "Loket 1", "code": "NOPE1234"})
    assert unknown.status_code == 409 and field_error(unknown.text, "code")
    done = web.post(base + "/check-in", {"counter": "Loket 1", "code": code.lower()})
    assert done.status_code == 200 and "Fajar" in done.text and "A-001" in done.text


def test_another_operators_action_reaches_the_panel(desk, api):
    web, base = desk
    _walk_in(web, base, "Gita")
    api.staff("bayu", "operator")
    other = WebUser(api.client.__class__(api.client.app))
    other.sign_in("bayu", "staff-password-1")
    other.get(base + "?counter=Loket%202")
    other.post(base + "/call-next", {"counter": "Loket 2"})
    panel = web.client.get(base + "?counter=Loket%201", headers=HTMX)
    assert "Gita" not in panel.text.split("Dipanggil ke loket lain")[0].split("Menunggu (")[1]
    assert "Loket 2" in panel.text  # shown as called elsewhere
    assert 'data-live-target="queue-panel"' in web.get(base + "?counter=Loket%201").text


def test_a_doctor_calls_to_their_room_and_a_patient_may_not(desk, api, clinic_setup):
    web, base = desk
    _walk_in(web, base, "Hadi")
    api.staff("drandi", "doctor")
    doctor = WebUser(api.client.__class__(api.client.app))
    doctor.sign_in("drandi", "staff-password-1")
    room = f"/doctor/{clinic_setup['clinic_id']}?counter=Ruang%201"
    assert doctor.get(room).status_code == 200
    doctor.post(f"/doctor/{clinic_setup['clinic_id']}/call-next", {"counter": "Ruang 1"})
    assert "Hadi" in doctor.last.text and "Ruang 1" in doctor.last.text


def test_a_called_patient_is_sent_on_to_another_clinic(desk, api):
    c = api.container
    other = catalog.create_clinic(
        c.uow(),
        actor=c.system(),
        policy=c.policy,
        draft=ClinicDraft(
            code="LAB",
            name="Laboratorium",
            queue_prefix="L",
            hours=tuple(OpeningHours(d, time(0), time.max) for d in range(7)),
        ),
    )
    web, base = desk
    _walk_in(web, base, "Indra")
    panel = web.post(base + "/call-next", {"counter": "Loket 1"}, headers=HTMX)
    assert f'<option value="{other.id}">Laboratorium</option>' in panel.text  # in the swap too
    web.get(base + "?counter=Loket%201")
    ticket = _ticket_id(web, "A-001")
    web.post(
        f"{base}/tickets/{ticket}/transfer", {"counter": "Loket 1", "to_clinic": str(other.id)}
    )
    lab = web.get(f"/console/{other.id}?counter=1")
    assert "Indra" in lab.text and "L-001" in lab.text


def test_a_doctor_sees_who_is_booked_with_them_today(api, clinic_setup, clock):
    clock.set(datetime.combine(MONDAY, datetime.min.time(), JKT).replace(hour=8))
    c = api.container
    create_user(
        c.uow(),
        actor=c.system(),
        hasher=c.passwords,
        draft=StaffAccountDraft(
            "drandi",
            "doctor-password-1",
            frozenset({Role.DOCTOR}),
            "dr. Andi",
            clinic_setup["doctor_id"],
        ),
    )
    body = {
        "username": "rina",
        "password": "rina-password-1",
        "name": "Rina Marlina",
        "birth_date": "1990-01-01",
    }
    assert api.client.post("/api/v1/auth/register", json=body).status_code == 201
    token = api.login("rina", "rina-password-1")
    query = {"date_from": MONDAY.isoformat(), "clinic_id": clinic_setup["clinic_id"]}
    slot = api.client.get("/api/v1/slots", params=query).json()[-1]["id"]
    assert api.client.post("/api/v1/appointments", headers=token, json={"slot_id": slot}).is_success
    doctor = WebUser(api.client.__class__(api.client.app))
    doctor.sign_in("drandi", "doctor-password-1")
    assert doctor.last.url.path == "/doctor"
    today = doctor.last.text.split('id="today-heading"')[1].split("</section>")[0]
    assert "Rina Marlina" in today and "11.30" in today
    assert f"/doctor/{clinic_setup['clinic_id']}?counter=" in doctor.last.text  # works here today

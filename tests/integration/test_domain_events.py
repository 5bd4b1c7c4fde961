"""Every change a patient, a display or another system cares about is stored as a domain
event in the transaction of the change, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from antrean.domain.events import DomainEvent, EventKind
from antrean.persistence import tables as t
from tests.integration.conftest import FROZEN_AT, MONDAY


def _events(api) -> list[tuple[str, dict]]:
    with api.container.db.engine.connect() as conn:  # its engine has the keys of sealed data
        rows = conn.execute(
            select(t.domain_event.c.kind, t.domain_event.c.data).order_by(t.domain_event.c.id)
        ).all()
    return [(kind, json.loads(data)) for kind, data in rows]


def _kinds(api) -> list[str]:
    return [kind for kind, _ in _events(api)]


def _patient(api, staff) -> int:
    r = api.client.post(
        "/api/v1/patients", headers=staff, json={"name": "Siti", "birth_date": "1990-05-17"}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_booking_cancel_reschedule_conflict_and_its_resolution(api, admin, clinic_setup):
    operator = api.staff("ops", "operator")
    patient_id = _patient(api, operator)
    slots = api.client.get(
        "/api/v1/slots", params={"date_from": MONDAY.isoformat(), "clinic_id": 1}
    ).json()
    r = api.client.post(
        "/api/v1/appointments",
        headers=operator,
        json={"slot_id": slots[0]["id"], "patient_id": patient_id},
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r = api.client.post(
        f"/api/v1/appointments/{code}/reschedule",
        headers=operator,
        json={"slot_id": slots[1]["id"]},
    )
    assert r.status_code == 200, r.text
    # Leave for the doctor that Monday: the booking loses its slot and becomes a conflict.
    r = api.client.post(
        "/api/v1/schedule-exceptions",
        headers=admin,
        json={
            "kind": "leave",
            "date_from": MONDAY.isoformat(),
            "date_to": MONDAY.isoformat(),
            "doctor_id": clinic_setup["doctor_id"],
        },
    )
    assert r.status_code == 201 and r.json()["slots"]["conflicts"] == 1
    conflict = api.client.get("/api/v1/booking-conflicts", headers=operator).json()[0]
    r = api.client.post(f"/api/v1/booking-conflicts/{conflict['id']}/resolve", headers=operator)
    assert r.status_code == 200 and r.json()["appointment_code"] == code
    assert api.client.get("/api/v1/booking-conflicts", headers=operator).json() == []
    r = api.client.post(f"/api/v1/booking-conflicts/{conflict['id']}/resolve", headers=operator)
    assert r.status_code == 404, "a conflict is resolved once"
    r = api.client.post(
        f"/api/v1/appointments/{code}/cancel", headers=operator, json={"reason": "Sembuh"}
    )
    assert r.status_code == 200
    events = [(k, d) for k, d in _events(api) if k.startswith("appointment.")]
    assert [k for k, _ in events] == [
        "appointment.booked",
        "appointment.rescheduled",
        "appointment.slot_conflict",
        "appointment.conflict_resolved",
        "appointment.cancelled",
    ]
    assert {d["code"] for _, d in events} == {code}
    assert events[1][1]["from_slot_id"] == slots[0]["id"]
    assert events[1][1]["slot_id"] == slots[1]["id"]
    assert events[2][1]["reason"] == "schedule_changed"
    assert events[4][1]["status"] == "cancelled" and events[4][1]["reason"] == "Sembuh"
    assert all("Siti" not in json.dumps(d) for _, d in events), "no names in events"


def test_every_queue_action_announces_itself(api, admin, clinic_setup):
    other = api.client.post(
        "/api/v1/clinics",
        headers=admin,
        json={"code": "GIGI", "name": "Poli Gigi", "queue_prefix": "B"},
    ).json()["id"]
    api.container.clock.set(FROZEN_AT + timedelta(days=1))  # Monday 09:00
    operator = api.staff("ops", "operator")
    clinic = clinic_setup["clinic_id"]
    walk_in = {"clinic_id": clinic, "name": "Budi", "birth_date": "1970-01-01"}
    for name in ("Budi", "Ani"):
        r = api.client.post(
            "/api/v1/queue/walk-ins", headers=operator, json={**walk_in, "name": name}
        )
        assert r.status_code == 201

    def act(path: str, body: dict | None = None) -> dict:
        r = api.client.post(f"/api/v1{path}", headers=operator, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    first = act(f"/clinics/{clinic}/queue/call-next", {"counter": "Loket 1"})
    act(f"/queue/tickets/{first['id']}/recall")
    act(f"/queue/tickets/{first['id']}/start")
    act(f"/queue/tickets/{first['id']}/finish")
    act(f"/queue/tickets/{first['id']}/undo")
    second = act(f"/clinics/{clinic}/queue/call-next", {"counter": "Loket 1"})
    act(f"/queue/tickets/{second['id']}/skip")
    act(f"/queue/tickets/{second['id']}/requeue")
    moved = act(f"/queue/tickets/{second['id']}/transfer", {"clinic_id": other})
    act(f"/queue/tickets/{moved['id']}/cancel")
    queue = [(k, d) for k, d in _events(api) if k.startswith("ticket.")]
    assert [k for k, _ in queue] == [
        "ticket.issued",
        "ticket.issued",
        "ticket.called",
        "ticket.recalled",
        "ticket.started",
        "ticket.finished",
        "ticket.undone",
        "ticket.called",
        "ticket.skipped",
        "ticket.requeued",
        "ticket.transferred",
        "ticket.issued",
        "ticket.cancelled",
    ]
    assert queue[2][1]["counter"] == "Loket 1" and queue[2][1]["label"] == "A-001"
    assert queue[11][1]["action"] == "transfer_in" and queue[11][1]["label"] == "B-001"
    assert all("Budi" not in json.dumps(d) and "Ani" not in json.dumps(d) for _, d in queue)


def _book_monday(api, operator) -> str:
    patient_id = _patient(api, operator)
    slot = api.client.get(
        "/api/v1/slots", params={"date_from": MONDAY.isoformat(), "clinic_id": 1}
    ).json()[-1]
    r = api.client.post(
        "/api/v1/appointments",
        headers=operator,
        json={"slot_id": slot["id"], "patient_id": patient_id},
    )
    assert r.status_code == 201, r.text
    return r.json()["code"]


def test_check_in_and_a_no_show_after_too_many_calls(api, admin, clinic_setup):
    operator = api.staff("ops", "operator")
    code = _book_monday(api, operator)
    api.container.clock.set(FROZEN_AT + timedelta(days=1))  # Monday 09:00
    operator = api.login("ops", "staff-password-1")
    r = api.client.post(f"/api/v1/appointments/{code}/check-in", headers=operator)
    assert r.status_code == 201, r.text
    clinic = clinic_setup["clinic_id"]
    called = api.client.post(
        f"/api/v1/clinics/{clinic}/queue/call-next", headers=operator, json={"counter": "Loket 1"}
    ).json()
    for _ in range(3):  # the third call without an answer makes a no-show (limit 3)
        api.client.post(f"/api/v1/queue/tickets/{called['id']}/recall", headers=operator)
    kinds = _kinds(api)
    assert kinds[-6:] == [
        "ticket.issued",
        "appointment.checked_in",
        "ticket.called",
        "ticket.recalled",
        "ticket.recalled",
        "ticket.no_show",
    ]


def test_closing_a_day_marks_no_shows(api, admin, clinic_setup):
    from antrean.services.queue_actions import close_past_days

    operator = api.staff("ops", "operator")
    code = _book_monday(api, operator)
    c = api.container
    c.clock.set(FROZEN_AT + timedelta(days=2))  # Tuesday: nobody came on Monday
    result = close_past_days(c.uow(), actor=c.system(), policy=c.policy)
    assert result.appointments_no_show == 1
    kind, data = _events(api)[-1]
    assert kind == "appointment.no_show" and data["code"] == code and data["status"] == "noshow"


def test_an_event_is_stored_only_with_its_change(container):
    """Events are written in the transaction of their change: without a commit, none stays."""
    uow = container.uow()
    with uow(write=True):
        stored = uow.publish(
            DomainEvent(kind=EventKind.TICKET_CALLED, facility_id=1, at=container.clock.now())
        )
        assert stored.id > 0
    with uow():
        assert uow.events.since(1, after_id=0) == []
    with uow(write=True):
        uow.publish(
            DomainEvent(kind=EventKind.TICKET_CALLED, facility_id=1, at=container.clock.now())
        )
        uow.commit()
    with uow():
        assert [e.kind for e in uow.events.since(1, after_id=0)] == [EventKind.TICKET_CALLED]

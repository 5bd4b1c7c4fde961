"""Read models of the queue over the API: the public board and the staff's list."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.conftest import FROZEN_AT


def test_board_and_staff_list(api, admin, clinic_setup):
    clinic = clinic_setup["clinic_id"]
    api.container.clock.set(FROZEN_AT + timedelta(days=1))  # Monday 09:00
    operator = api.staff("ops", "operator")
    for name, priority in (("Budi", "normal"), ("Ani", "normal"), ("Citra", "emergency")):
        body = {"clinic_id": clinic, "name": name, "birth_date": "1970-01-01", "priority": priority}
        assert (
            api.client.post("/api/v1/queue/walk-ins", headers=operator, json=body).status_code
            == 201
        )
    api.container.clock.set(FROZEN_AT + timedelta(days=1, minutes=12))
    called = api.client.post(
        f"/api/v1/clinics/{clinic}/queue/call-next", headers=operator, json={"counter": "Loket 2"}
    ).json()
    assert called["label"] == "A-003", "the emergency goes first"

    board = api.client.get(f"/api/v1/clinics/{clinic}/board")
    assert board.status_code == 200
    body = board.json()
    assert body["calling"] == [{"ticket": "A-003", "counter": "Loket 2", "state": "called"}]
    assert body["waiting"] == 2 and body["next_up"] == ["A-001", "A-002"]
    assert body["last_event_id"] > 0
    for name in ("Budi", "Ani", "Citra"):
        assert name not in board.text, "no names on the public board"

    rows = api.client.get(f"/api/v1/clinics/{clinic}/queue", headers=operator).json()
    assert [(r["label"], r["position"]) for r in rows] == [
        ("A-001", 1),
        ("A-002", 2),
        ("A-003", None),
    ]
    assert [r["patient_name"] for r in rows] == ["Budi", "Ani", "Citra"]
    assert rows[0]["waited_minutes"] == 12 and rows[2]["waited_minutes"] == 12
    assert all(r["mrn"] for r in rows)
    second = next(r for r in rows if r["label"] == "A-002")
    r = api.client.post(f"/api/v1/queue/tickets/{second['id']}/cancel", headers=operator)
    assert r.status_code == 200
    rows = api.client.get(f"/api/v1/clinics/{clinic}/queue", headers=operator).json()
    gone = next(r for r in rows if r["label"] == "A-002")
    assert gone["waited_minutes"] is None and gone["position"] is None, "left without a call"
    assert api.client.get(f"/api/v1/clinics/{clinic}/queue").status_code == 401
    assert api.client.get("/api/v1/clinics/999/board").status_code == 404
    r = api.client.get("/api/v1/clinics/999/events")
    assert r.status_code == 404 and r.json()["code"] == "not_found", "before any stream starts"

from tests.integration.conftest import MONDAY


def test_admin_builds_a_clinic_and_slots_appear(api, admin, clinic_setup):
    r = api.client.get(
        "/api/v1/slots",
        params={"date_from": MONDAY.isoformat(), "clinic_id": clinic_setup["clinic_id"]},
    )
    assert r.status_code == 200
    slots = r.json()
    assert len(slots) == 8
    assert slots[0]["start_at"] == f"{MONDAY.isoformat()}T01:00:00Z"  # 08:00 in Jakarta
    assert {s["available"] for s in slots} == {2}
    clinics = api.client.get("/api/v1/clinics").json()
    assert [c["code"] for c in clinics] == ["UMUM"]
    assert len(clinics[0]["hours"]) == 6


def test_search_by_service_resolves_its_clinic(api, clinic_setup):
    r = api.client.get(
        "/api/v1/slots",
        params={"date_from": MONDAY.isoformat(), "service_id": clinic_setup["service_id"]},
    )
    assert r.status_code == 200 and len(r.json()) == 8


def test_search_range_is_bounded(api, clinic_setup):
    r = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23", "date_to": "2027-01-30"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "date_range_too_long"


def test_only_admins_write_the_catalog(api, clinic_setup):
    operator = api.staff("ops", "operator")
    r = api.client.post("/api/v1/doctors", headers=operator, json={"name": "dr. X"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = api.client.post("/api/v1/doctors", json={"name": "dr. X"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_bad_input_is_a_problem_not_a_crash(api, admin, clinic_setup):
    r = api.client.post(
        "/api/v1/clinics",
        headers=admin,
        json={
            "code": "X",
            "name": "X",
            "queue_prefix": "1",
            "hours": [{"weekday": 9, "opens": "10:00", "closes": "09:00"}],
        },
    )
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == 422 and body["code"] == "validation_error"
    assert {tuple(e["loc"][:2]) for e in body["errors"]} >= {
        ("body", "queue_prefix"),
        ("body", "hours"),
    }
    r = api.client.post(
        "/api/v1/clinics", headers={**admin, "content-type": "application/json"}, content=b"{nope"
    )
    assert r.status_code == 422
    r = api.client.get("/api/v1/doctors/999999")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = api.client.post(
        "/api/v1/clinics", headers=admin, json={"code": "UMUM", "name": "Dup", "queue_prefix": "B"}
    )
    assert r.status_code == 409 and r.json()["code"] == "already_exists"


def test_overlapping_schedule_is_refused(api, admin, clinic_setup):
    r = api.client.post(
        "/api/v1/schedules",
        headers=admin,
        json={
            "doctor_id": clinic_setup["doctor_id"],
            "clinic_id": clinic_setup["clinic_id"],
            "weekday": 0,
            "start": "11:00",
            "end": "13:00",
            "slot_minutes": 30,
            "capacity": 1,
        },
    )
    assert r.status_code == 409 and r.json()["code"] == "schedule_overlap"


def test_holiday_removes_free_slots_and_reports_booked(api, admin, clinic_setup):
    monday = MONDAY.isoformat()
    patient = api.client.post(
        "/api/v1/patients", headers=admin, json={"name": "Budi Santoso", "birth_date": "1980-02-03"}
    ).json()
    slot = api.client.get("/api/v1/slots", params={"date_from": monday}).json()[0]
    appt = api.client.post(
        "/api/v1/appointments",
        headers=admin,
        json={"slot_id": slot["id"], "patient_id": patient["id"]},
    ).json()
    r = api.client.post(
        "/api/v1/schedule-exceptions",
        headers=admin,
        json={
            "kind": "holiday",
            "date_from": monday,
            "date_to": monday,
            "reason": "Libur nasional",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["slots"] == {
        "created": 0,
        "removed": 7,
        "deactivated": 1,
        "reactivated": 0,
        "resized": 0,
        "conflicts": 1,
    }
    assert api.client.get("/api/v1/slots", params={"date_from": monday}).json() == []
    conflicts = api.client.get("/api/v1/booking-conflicts", headers=admin).json()
    assert [c["appointment_code"] for c in conflicts] == [appt["code"]]
    assert (
        api.client.get(f"/api/v1/appointments/{appt['code']}", headers=admin).json()["status"]
        == "booked"
    )
    # Removing the holiday brings the slots back, the booked one included.
    r = api.client.delete(
        f"/api/v1/schedule-exceptions/{r.json()['exception']['id']}", headers=admin
    )
    assert r.json()["created"] == 7 and r.json()["reactivated"] == 1
    assert len(api.client.get("/api/v1/slots", params={"date_from": monday}).json()) == 8


def test_changing_a_schedule_keeps_bookings(api, admin, clinic_setup):
    monday = MONDAY.isoformat()
    patient = api.client.post(
        "/api/v1/patients", headers=admin, json={"name": "Ani", "birth_date": "1990-01-01"}
    ).json()
    last = api.client.get("/api/v1/slots", params={"date_from": monday}).json()[-1]  # 11:30
    api.client.post(
        "/api/v1/appointments",
        headers=admin,
        json={"slot_id": last["id"], "patient_id": patient["id"]},
    )
    schedules = api.client.get(
        "/api/v1/schedules", params={"doctor_id": clinic_setup["doctor_id"]}
    ).json()
    monday_schedule = next(s for s in schedules if s["weekday"] == 0)
    r = api.client.put(
        f"/api/v1/schedules/{monday_schedule['id']}",
        headers=admin,
        json={
            **{
                k: monday_schedule[k]
                for k in ("doctor_id", "clinic_id", "weekday", "slot_minutes", "capacity")
            },
            "start": "08:00",
            "end": "10:00",
        },
    )
    assert r.status_code == 200, r.text
    # Four slots (10:00-12:00) go on each of the five Mondays in the 30-day horizon; the booked
    # one stays, deactivated, and is reported.
    assert r.json()["slots"]["conflicts"] == 1 and r.json()["slots"]["deactivated"] == 1
    assert r.json()["slots"]["removed"] == 5 * 4 - 1


def test_clinic_switch_and_patch(api, admin, clinic_setup):
    cid = clinic_setup["clinic_id"]
    r = api.client.patch(
        f"/api/v1/clinics/{cid}", headers=admin, json={"is_open": False, "queue_prefix": "u"}
    )
    assert r.status_code == 200 and r.json()["is_open"] is False and r.json()["queue_prefix"] == "U"


def test_health_and_docs(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ok"}
    spec = api.client.get("/openapi.json").json()
    assert "/api/v1/appointments" in spec["paths"]
    assert (
        spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"][
            "tokenUrl"
        ]
        == "/api/v1/auth/token"
    )
    assert api.client.get("/docs").status_code == 200

from datetime import timedelta

from tests.integration.conftest import MONDAY


def _register(api, username="siti", password="rahasia-123", **extra):
    body = {
        "username": username,
        "password": password,
        "name": "Siti Aminah",
        "birth_date": "1985-05-17",
        "sex": "female",
        "phone": "0812-1111-2222",
        **extra,
    }
    r = api.client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    return r.json(), api.login(username, password)


def _slots(api, day=MONDAY):
    return api.client.get("/api/v1/slots", params={"date_from": day.isoformat()}).json()


def test_patient_signs_up_books_reschedules_and_cancels(api, clinic_setup):
    user, me = _register(api)
    assert user["roles"] == ["patient"] and user["patient_id"]
    record = api.client.get("/api/v1/patients/me", headers=me).json()
    assert record["phone"] == "+6281211112222" and record["mrn"]
    first, second = _slots(api)[:2]
    r = api.client.post(
        "/api/v1/appointments",
        headers=me,
        json={"slot_id": first["id"], "service_id": clinic_setup["service_id"]},
    )
    assert r.status_code == 201, r.text
    appt = r.json()
    assert r.headers["location"] == f"/api/v1/appointments/{appt['code']}"
    assert appt["status"] == "booked" and appt["patient_id"] == user["patient_id"]
    assert _slots(api)[0]["available"] == 1
    r = api.client.post(
        f"/api/v1/appointments/{appt['code']}/reschedule",
        headers=me,
        json={"slot_id": second["id"]},
    )
    assert r.status_code == 200 and r.json()["slot_id"] == second["id"]
    available = {s["id"]: s["available"] for s in _slots(api)}
    assert available[first["id"]] == 2 and available[second["id"]] == 1
    mine = api.client.get("/api/v1/appointments/mine", headers=me).json()
    assert mine["total"] == 1 and mine["items"][0]["code"] == appt["code"]
    r = api.client.post(
        f"/api/v1/appointments/{appt['code']}/cancel", headers=me, json={"reason": "Sudah sembuh"}
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert {s["available"] for s in _slots(api)} == {2}


def test_rules_answer_in_the_callers_language(api, admin, clinic_setup):
    _, me = _register(api)
    first, second = _slots(api)[:2]
    api.client.post("/api/v1/appointments", headers=me, json={"slot_id": first["id"]})
    r = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": second["id"]})
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_appointment"
    assert r.json()["detail"].startswith("Pasien sudah")
    r = api.client.post(
        "/api/v1/appointments",
        headers={**me, "Accept-Language": "en-US,en;q=0.9"},
        json={"slot_id": second["id"]},
    )
    assert r.json()["detail"].startswith("The patient already")


def test_cutoff_past_and_horizon(api, admin, clinic_setup):
    _register(api)
    first = _slots(api)[0]
    api.container.clock.set(api.container.clock.now() + timedelta(hours=15, minutes=30))  # 00:30
    me = api.login("siti", "rahasia-123")  # tokens live 15 minutes by the same clock
    r = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": first["id"]})
    assert r.status_code == 201  # 7.5 h before, cut-off is 60 min
    later = _slots(api)[1]
    api.container.clock.set(api.container.clock.now() + timedelta(hours=7, minutes=15))  # 07:45
    admin = api.login("admin", "staff-password-1")
    r = api.client.post(
        "/api/v1/appointments", headers=admin, json={"slot_id": later["id"], "patient_id": 1}
    )
    assert r.status_code == 422 and r.json()["code"] == "booking_cutoff_passed"


def test_patients_cannot_see_others(api, admin, clinic_setup):
    _, siti = _register(api)
    other, budi = _register(api, username="budi", name="Budi")
    slot = _slots(api)[0]
    appt = api.client.post(
        "/api/v1/appointments", headers=siti, json={"slot_id": slot["id"]}
    ).json()
    assert api.client.get(f"/api/v1/appointments/{appt['code']}", headers=budi).status_code == 404
    r = api.client.post(
        f"/api/v1/appointments/{appt['code']}/cancel", headers=budi, json={"reason": "x"}
    )
    assert r.status_code == 404
    assert (
        api.client.get(f"/api/v1/patients/{other['patient_id']}", headers=siti).status_code == 403
    )
    assert api.client.get("/api/v1/patients", headers=siti).status_code == 403
    assert api.client.get("/api/v1/appointments", headers=siti).status_code == 403
    r = api.client.post(
        "/api/v1/appointments",
        headers=siti,
        json={"slot_id": slot["id"], "patient_id": other["patient_id"]},
    )
    assert r.status_code == 403


def test_staff_list_filters_and_pages(api, admin, clinic_setup):
    operator = api.staff("ops", "operator")
    ids = [
        api.client.post(
            "/api/v1/patients",
            headers=operator,
            json={"name": f"Pasien {n}", "birth_date": "1970-01-01"},
        ).json()["id"]
        for n in range(5)
    ]
    slots = _slots(api)
    for n, pid in enumerate(ids):
        r = api.client.post(
            "/api/v1/appointments",
            headers=operator,
            json={"slot_id": slots[n]["id"], "patient_id": pid},
        )
        assert r.status_code == 201, r.text
    tuesday = _slots(api, MONDAY + timedelta(days=1))[0]
    api.client.post(
        "/api/v1/appointments",
        headers=operator,
        json={"slot_id": tuesday["id"], "patient_id": ids[0]},
    )
    page = api.client.get(
        "/api/v1/appointments",
        headers=operator,
        params={
            "date_from": MONDAY.isoformat(),
            "date_to": MONDAY.isoformat(),
            "size": 2,
            "page": 2,
        },
    ).json()
    assert page["total"] == 5 and page["page"] == 2 and len(page["items"]) == 2
    everything = api.client.get(
        "/api/v1/appointments",
        headers=operator,
        params={
            "clinic_id": clinic_setup["clinic_id"],
            "doctor_id": clinic_setup["doctor_id"],
            "status": "booked",
        },
    ).json()
    assert everything["total"] == 6
    assert (
        api.client.get(
            "/api/v1/appointments", headers=operator, params={"status": "cancelled"}
        ).json()["total"]
        == 0
    )
    r = api.client.get("/api/v1/appointments", headers=operator, params={"status": "nonsense"})
    assert r.status_code == 422


def test_idempotency_key_replays_the_first_booking(api, admin, clinic_setup):
    _, me = _register(api)
    slot = _slots(api)[0]
    headers = {**me, "Idempotency-Key": "3f1c-retry"}
    first = api.client.post("/api/v1/appointments", headers=headers, json={"slot_id": slot["id"]})
    again = api.client.post("/api/v1/appointments", headers=headers, json={"slot_id": slot["id"]})
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["code"] == first.json()["code"]
    assert _slots(api)[0]["available"] == 1
    other = api.client.post(
        "/api/v1/appointments", headers=headers, json={"slot_id": _slots(api)[1]["id"]}
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_token_refresh_and_logout(api, clinic_setup):
    _register(api)
    r = api.client.post("/api/v1/auth/token", data={"username": "siti", "password": "rahasia-123"})
    pair = r.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    r = api.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert r.status_code == 200
    new = r.json()
    r = api.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert r.status_code == 401, "a refresh token works once"
    me = api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"}
    )
    assert me.json()["username"] == "siti"
    assert (
        api.client.post(
            "/api/v1/auth/logout", json={"refresh_token": new["refresh_token"]}
        ).status_code
        == 204
    )
    r = api.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
    )
    assert r.status_code == 401
    r = api.client.post("/api/v1/auth/token", data={"username": "siti", "password": "wrong-one"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"


def test_token_endpoint_takes_what_the_docs_authorize_button_sends(api, clinic_setup):
    _register(api)
    r = api.client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "siti",
            "password": "rahasia-123",
            "scope": "",
            "client_id": "",
            "client_secret": "",
        },
    )
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    r = api.client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 422


def test_admin_creates_staff_accounts(api, admin):
    r = api.client.post(
        "/api/v1/auth/users",
        headers=admin,
        json={"username": "kasir", "password": "kasir-password", "roles": ["operator"]},
    )
    assert r.status_code == 201 and r.json()["roles"] == ["operator"]
    ops = api.login("kasir", "kasir-password")
    r = api.client.post(
        "/api/v1/auth/users",
        headers=ops,
        json={"username": "x2", "password": "kasir-password", "roles": ["admin"]},
    )
    assert r.status_code == 403


def test_staff_search_patients(api, admin):
    operator = api.staff("ops", "operator")
    for name, phone in (
        ("Budi Santoso", "081234567890"),
        ("Budiman", None),
        ("Ani", "0813 9999 0000"),
    ):
        r = api.client.post(
            "/api/v1/patients",
            headers=operator,
            json={
                "name": name,
                "birth_date": "1975-03-04",
                "phone": phone,
                "nik": "3171010101750001",
            },
        )
        assert r.status_code == 201, r.text
    by_name = api.client.get("/api/v1/patients", headers=operator, params={"name": "budi"}).json()
    assert [p["name"] for p in by_name["items"]] == ["Budi Santoso", "Budiman"]
    by_phone = api.client.get(
        "/api/v1/patients", headers=operator, params={"phone": "+62 812-3456-7890"}
    ).json()
    assert [p["name"] for p in by_phone["items"]] == ["Budi Santoso"]
    mrn = by_phone["items"][0]["mrn"]
    by_mrn = api.client.get("/api/v1/patients", headers=operator, params={"mrn": mrn}).json()
    assert by_mrn["total"] == 1
    r = api.client.post(
        "/api/v1/patients",
        headers=operator,
        json={"name": "Dup", "birth_date": "1975-03-04", "mrn": mrn},
    )
    assert r.status_code == 409
    r = api.client.post(
        "/api/v1/patients", headers=operator, json={"name": "Bad", "birth_date": "2999-01-01"}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_birth_date"
    r = api.client.post(
        "/api/v1/patients",
        headers=operator,
        json={"name": "Bad", "birth_date": "1999-01-01", "phone": "123"},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_phone"
    pid = by_phone["items"][0]["id"]
    r = api.client.patch(
        f"/api/v1/patients/{pid}", headers=operator, json={"address": "Jl. Mawar 1"}
    )
    assert r.json()["address"] == "Jl. Mawar 1"

"""Booking over FHIR R4 on SQLite and PostgreSQL: Appointment read and search, create from a
free Slot, cancel and move with ETag/If-Match, and the IHE ITI Scheduling operations `$find`,
`$hold` and `$book`, with the same rules as the REST API. Every resource answered validates
against the R4B models and FHIR's value sets; every refusal is an OperationOutcome."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from antrean.services.booking import release_expired_holds
from tests.integration.conftest import MONDAY
from tests.integration.test_fhir import BASE, FHIR_JSON, entries, get, refused, valid

APPOINTMENT_STATUSES = {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled",
                        "noshow", "entered-in-error", "checked-in", "waitlist"}  # fmt: skip
JSON = {"Content-Type": FHIR_JSON}


def appointment(resource: dict[str, Any]) -> dict[str, Any]:
    """A valid Appointment, its status in the R4 value set."""
    valid(resource)
    assert resource["resourceType"] == "Appointment"
    assert resource["status"] in APPOINTMENT_STATUSES, resource["status"]
    return resource


def params(**values: Any) -> dict[str, Any]:
    """A Parameters resource: references for names ending in -reference, strings otherwise."""
    items = []
    for name, value in values.items():
        name = name.replace("_", "-")
        if isinstance(value, dict):
            items.append({"name": name, "resource": value})
        elif name.endswith("reference"):
            items.append({"name": name, "valueReference": {"reference": value}})
        else:
            items.append({"name": name, "valueString": value})
    return {"resourceType": "Parameters", "parameter": items}


def post(api, path: str, body: Any, headers: dict[str, str], **kw: Any) -> Any:
    r = api.client.post(BASE + path, json=body, headers={**JSON, **headers}, **kw)
    assert r.headers["content-type"].startswith(FHIR_JSON) or r.status_code == 201, r.text
    return r


def monday_slots(api) -> list[dict[str, Any]]:
    return api.client.get("/api/v1/slots", params={"date_from": MONDAY.isoformat()}).json()


def new_booking(slot_id: int, patient_id: int | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": [],
        **extra,
    }
    if patient_id is not None:
        body["participant"].append(
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}
        )
    return body


def me(api, headers: dict[str, str]) -> int:
    return int(api.client.get("/api/v1/patients/me", headers=headers).json()["id"])


def test_a_patient_books_reads_and_finds_their_appointment(api, clinic_setup):
    ani = api.patient("ani", "081234567890")
    slot = monday_slots(api)[0]
    r = post(api, "/Appointment", new_booking(slot["id"], comment="batuk"), ani)
    assert r.status_code == 201, r.text
    booked = appointment(r.json())
    assert booked["status"] == "booked" and booked["slot"] == [{"reference": f"Slot/{slot['id']}"}]
    assert booked["comment"] == "batuk"
    version = booked["meta"]["versionId"]
    assert r.headers["etag"] == f'W/"{version}"'
    assert r.headers["location"].endswith(f"/fhir/R4/Appointment/{booked['id']}/_history/{version}")
    patient = f"Patient/{me(api, ani)}"
    assert patient in {p["actor"]["reference"] for p in booked["participant"]}
    # The REST API sees the same booking under the same code.
    code = booked["identifier"][0]["value"]
    rest = api.client.get(f"/api/v1/appointments/{code}", headers=ani).json()
    assert rest["slot_id"] == slot["id"] and rest["status"] == "booked"
    # Read back, by id and by version; searched by patient, date and status.
    again = get(api, f"/Appointment/{booked['id']}", headers=ani)
    assert appointment(again.json()) == booked and again.headers["etag"] == r.headers["etag"]
    assert (
        get(api, f"/Appointment/{booked['id']}/_history/{version}", headers=ani).status_code == 200
    )
    for query in (
        {"patient": patient},
        {"date": MONDAY.isoformat()},
        {
            "date": [
                f"ge{MONDAY.isoformat()}T08:00:00+07:00",
                f"lt{MONDAY.isoformat()}T08:30:00+07:00",
            ]
        },
        {"status": "booked"},
        {"identifier": f"urn:antrean:booking-code|{code}"},
        {"_id": booked["id"]},
    ):
        found = entries(get(api, "/Appointment", params=query, headers=ani))
        assert [a["id"] for a in found] == [booked["id"]], query
    for query in (
        {"status": "cancelled"},
        {"date": (MONDAY + timedelta(days=1)).isoformat()},
        {"date": f"ge{MONDAY.isoformat()}T08:30:00+07:00"},
        {"identifier": "other-system|" + code},
        {"patient": "Patient/999999"},
    ):
        assert not entries(get(api, "/Appointment", params=query, headers=ani)), query


def test_appointments_are_private_to_their_patient_and_staff(api, admin, clinic_setup):
    ani, budi = api.patient("ani", "081234567890"), api.patient("budi", "081234567891")
    operator = api.staff("ops", "operator")
    slot = monday_slots(api)[0]
    booked = post(api, "/Appointment", new_booking(slot["id"]), ani).json()
    path = f"/Appointment/{booked['id']}"
    refused(get(api, path, headers=budi), 404, "not-found")
    refused(get(api, path), 401, "login")
    assert not entries(get(api, "/Appointment", params={"_id": booked["id"]}, headers=budi))
    assert not entries(get(api, "/Appointment", headers=budi))
    assert get(api, path, headers=operator).status_code == 200
    staff_view = entries(
        get(api, "/Appointment", params={"date": MONDAY.isoformat()}, headers=operator)
    )
    assert [a["id"] for a in staff_view] == [booked["id"]]
    # A patient cannot book for someone else; staff must name the patient.
    other = new_booking(slot["id"], me(api, ani))
    refused(post(api, "/Appointment", other, budi), 403, "forbidden")
    refused(post(api, "/Appointment", new_booking(slot["id"]), operator), 400, "invalid")


def test_cancel_with_if_match_and_a_stale_version_is_refused(api, clinic_setup):
    ani = api.patient("ani", "081234567890")
    slot = monday_slots(api)[0]
    booked = post(api, "/Appointment", new_booking(slot["id"]), ani).json()
    path = BASE + f"/Appointment/{booked['id']}"
    etag = f'W/"{booked["meta"]["versionId"]}"'
    wanted = {**booked, "status": "cancelled", "cancelationReason": {"text": "sudah sembuh"}}
    stale = api.client.put(path, json=wanted, headers={**ani, **JSON, "If-Match": 'W/"1"'})
    refused(stale, 412, "conflict")
    r = api.client.put(path, json=wanted, headers={**ani, **JSON, "If-Match": etag})
    assert r.status_code == 200, r.text
    cancelled = appointment(r.json())
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"]["text"] == "sudah sembuh"
    assert r.headers["etag"] != etag
    # The place is back: the slot has both places free again.
    slots = {s["id"]: s for s in monday_slots(api)}
    assert slots[slot["id"]]["available"] == slots[slot["id"]]["capacity"]
    # Once cancelled, the old version is stale and a second cancel changes nothing.
    again = api.client.put(path, json=wanted, headers={**ani, **JSON, "If-Match": etag})
    refused(again, 412, "conflict")
    # Other status changes are not the client's to make.
    arrived = {**cancelled, "status": "arrived"}
    refused(api.client.put(path, json=arrived, headers={**ani, **JSON}), 422, "business-rule")


def test_patch_cancels_and_put_moves_to_another_slot(api, clinic_setup):
    ani = api.patient("ani", "081234567890")
    first, second, third = monday_slots(api)[:3]
    booked = post(api, "/Appointment", new_booking(first["id"]), ani).json()
    path = BASE + f"/Appointment/{booked['id']}"
    moved = {**booked, "slot": [{"reference": f"Slot/{second['id']}"}]}
    r = api.client.put(path, json=moved, headers={**ani, **JSON})
    assert r.status_code == 200, r.text
    assert appointment(r.json())["slot"] == [{"reference": f"Slot/{second['id']}"}]
    assert r.json()["start"] != booked["start"]
    places = {s["id"]: s["available"] for s in monday_slots(api)}
    assert places[first["id"]] == 2 and places[second["id"]] == 1 and places[third["id"]] == 2
    patch = [{"op": "test", "path": "/status", "value": "booked"},
             {"op": "replace", "path": "/status", "value": "cancelled"}]  # fmt: skip
    patched = api.client.patch(
        path, json=patch, headers={**ani, "Content-Type": "application/json-patch+json"}
    )
    assert patched.status_code == 200, patched.text
    assert appointment(patched.json())["status"] == "cancelled"
    assert patched.json()["cancelationReason"]["text"] == "cancelled through FHIR"
    failing = [{"op": "test", "path": "/status", "value": "booked"}]
    refused(
        api.client.patch(
            path, json=failing, headers={**ani, "Content-Type": "application/json-patch+json"}
        ),
        409,
        "conflict",
    )


def test_find_hold_and_book(api, admin, clinic_setup):
    """IHE ITI-115, 116 and 117: proposed appointments, a hold that keeps the place from
    others, and the booking of the held place."""
    ani, budi = api.patient("ani", "081234567890"), api.patient("budi", "081234567891")
    doctor = clinic_setup["doctor_id"]
    window = {"start": f"{MONDAY.isoformat()}T00:00:00+07:00",
              "end": f"{MONDAY.isoformat()}T23:59:00+07:00"}  # fmt: skip
    found = entries(
        get(
            api,
            "/Appointment/$find",
            params={**window, "practitioner": f"Practitioner/{doctor}"},
            headers=ani,
        )
    )
    assert len(found) == 8 and all(appointment(a)["status"] == "proposed" for a in found)
    assert found == sorted(found, key=lambda a: a["start"])
    first = found[0]
    assert (
        first["id"].startswith("slot-")
        and first["slot"][0]["reference"] == "Slot/" + first["id"][5:]
    )
    # The same search as a POST of Parameters, and by specialty or service.
    posted = post(api, "/Appointment/$find", params(**window, specialty="umum"), ani)
    assert [a["id"] for a in entries(posted)] == [a["id"] for a in found]
    nobody = entries(
        get(api, "/Appointment/$find", params={**window, "specialty": "kulit"}, headers=ani)
    )
    assert nobody == []
    # Hold the first slot's two places: one for each patient; then it is gone from $find.
    held = []
    for who in (ani, budi):
        r = post(
            api,
            "/Appointment/$hold",
            params(appointment_reference=f"Appointment/{first['id']}"),
            who,
        )
        assert r.status_code == 200, r.text
        body = valid(r.json())
        pending = appointment(body["entry"][0]["resource"])
        assert pending["status"] == "pending" and pending["id"].startswith("hold-")
        held.append(pending)
    after = entries(get(api, "/Appointment/$find", params=window, headers=ani))
    assert first["id"] not in {a["id"] for a in after} and len(after) == 7
    # Nobody else can take the held places, over FHIR or REST.
    carla = api.patient("carla", "081234567892")
    r = post(
        api, "/Appointment/$hold", params(appointment_reference=f"Appointment/{first['id']}"), carla
    )
    assert refused(r, 409, "not-found")
    rest = api.client.post(
        "/api/v1/appointments", json={"slot_id": int(first["id"][5:])}, headers=carla
    )
    assert rest.status_code == 409 and rest.json()["code"] == "slot_full"
    # Another's hold books nothing; the holder books it.
    ref = f"Appointment/{held[0]['id']}"
    refused(
        post(api, "/Appointment/$book", params(appointment_reference=ref), budi), 404, "not-found"
    )
    r = post(api, "/Appointment/$book", params(appointment_reference=ref), ani)
    assert r.status_code == 201, r.text
    booked = appointment(valid(r.json())["entry"][0]["resource"])
    assert booked["status"] == "booked" and booked["slot"] == first["slot"]
    # A hold books once.
    refused(
        post(api, "/Appointment/$book", params(appointment_reference=ref), ani), 404, "not-found"
    )
    slot = {
        s["id"]: s
        for s in api.client.get(
            "/api/v1/slots", params={"date_from": MONDAY.isoformat(), "only_free": "false"}
        ).json()
    }
    assert slot.get(int(first["id"][5:]), {"available": 0})["available"] == 0


def test_an_expired_hold_gives_its_place_back(api, clinic_setup):
    ani, budi = api.patient("ani", "081234567890"), api.patient("budi", "081234567891")
    slot = monday_slots(api)[0]
    ref = f"Appointment/slot-{slot['id']}"
    holds = [
        post(api, "/Appointment/$hold", params(appointment_reference=ref), ani) for _ in range(2)
    ]
    assert [h.status_code for h in holds] == [200, 200]
    assert refused(
        post(api, "/Appointment/$hold", params(appointment_reference=ref), budi), 409, "not-found"
    )
    api.container.clock.advance(timedelta(minutes=6))
    # Budi books directly: the expired holds' places come back as he asks.
    r = post(api, "/Appointment/$book", params(appointment_reference=ref), budi)
    assert r.status_code == 201, r.text
    # And Ani's expired hold books nothing.
    held = holds[0].json()["entry"][0]["resource"]["id"]
    late = post(api, "/Appointment/$book", params(appointment_reference=f"Appointment/{held}"), ani)
    refused(late, 404, "not-found")
    # Budi's booking took one of the two places; the other came back with it.
    free = {s["id"]: s["available"] for s in monday_slots(api)}
    assert free[slot["id"]] == 1


def test_the_hold_job_gives_back_the_places_of_expired_holds(api, clinic_setup):
    ani = api.patient("ani", "081234567890")
    first, second = monday_slots(api)[:2]
    for slot in (first, second):
        ref = f"Appointment/slot-{slot['id']}"
        assert (
            post(api, "/Appointment/$hold", params(appointment_reference=ref), ani).status_code
            == 200
        )
    c = api.container
    assert release_expired_holds(c.uow(), actor=c.system()) == 0  # none has expired yet
    c.clock.advance(timedelta(minutes=5))
    assert release_expired_holds(c.uow(), actor=c.system()) == 2
    free = {s["id"]: s["available"] for s in monday_slots(api)}
    assert free[first["id"]] == free[second["id"]] == 2


def test_a_patient_holds_two_places_at_most(api, clinic_setup):
    ani = api.patient("ani", "081234567890")
    slots = monday_slots(api)
    for slot in slots[:2]:
        r = post(
            api,
            "/Appointment/$hold",
            params(appointment_reference=f"Appointment/slot-{slot['id']}"),
            ani,
        )
        assert r.status_code == 200, r.text
    third = post(
        api,
        "/Appointment/$hold",
        params(appointment_reference=f"Appointment/slot-{slots[2]['id']}"),
        ani,
    )
    assert "2" in refused(third, 409, "conflict")


def test_book_with_a_resource_and_staff_naming_the_patient(api, admin, clinic_setup):
    ani = api.patient("ani", "081234567890")
    operator = api.staff("ops", "operator")
    patient = me(api, ani)
    slot = monday_slots(api)[0]
    resource = new_booking(
        slot["id"],
        patient,
        serviceType=[
            {"coding": [{"system": "urn:antrean:service", "code": str(clinic_setup["service_id"])}]}
        ],
    )
    r = post(api, "/Appointment/$book", params(appointment_resource=resource), operator)
    assert r.status_code == 201, r.text
    booked = appointment(r.json()["entry"][0]["resource"])
    assert booked["serviceType"][0]["coding"][0]["code"] == str(clinic_setup["service_id"])
    # $book with one of ours cancels it.
    cancel = {**booked, "status": "cancelled"}
    r = post(api, "/Appointment/$book", params(appointment_resource=cancel), operator)
    assert r.status_code == 200 and r.json()["entry"][0]["resource"]["status"] == "cancelled"
    # Staff book a proposed appointment for a patient named by reference.
    second = monday_slots(api)[1]
    r = post(
        api,
        "/Appointment/$book",
        params(
            appointment_reference=f"Appointment/slot-{second['id']}",
            patient_reference=f"Patient/{patient}",
        ),
        operator,
    )
    assert r.status_code == 201, r.text


def test_include_brings_the_doctor_and_clinic(api, clinic_setup):
    ani = api.patient("ani", "081234567890")
    post(api, "/Appointment", new_booking(monday_slots(api)[0]["id"]), ani)
    r = get(
        api,
        "/Appointment",
        params={"_include": ["Appointment:practitioner", "Appointment:location"]},
        headers=ani,
    )
    body = valid(r.json())
    modes = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]}
    assert modes == {("Appointment", "match"), ("Practitioner", "include"), ("Location", "include")}
    assert body["total"] == 1
    strict = get(
        api,
        "/Appointment",
        params={"_include": "Appointment:patient"},
        headers={**ani, "Prefer": "handling=strict"},
    )
    refused(strict, 400, "not-supported")


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "code"),
    [
        pytest.param("/Appointment", "not json", JSON, 400, "structure", id="not-json"),
        pytest.param(
            "/Appointment", {"resourceType": "Patient"}, JSON, 400, "structure", id="other-type"
        ),
        pytest.param(
            "/Appointment",
            {"resourceType": "Appointment"},
            {"Content-Type": "text/plain"},
            415,
            "not-supported",
            id="media",
        ),
        pytest.param(
            "/Appointment",
            {"resourceType": "Appointment", "status": "booked"},
            JSON,
            400,
            "invalid",
            id="no-slot",
        ),
        pytest.param(
            "/Appointment",
            {
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{"reference": "Slot/abc"}],
            },
            JSON,
            400,
            "invalid",
            id="slot-not-ours",
        ),
        pytest.param(
            "/Appointment",
            {
                "resourceType": "Appointment",
                "status": "fulfilled",
                "slot": [{"reference": "Slot/1"}],
            },
            JSON,
            400,
            "invalid",
            id="status",
        ),
        pytest.param(
            "/Appointment",
            {
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{"reference": "Slot/999999"}],
            },
            JSON,
            404,
            "not-found",
            id="unknown-slot",
        ),
        pytest.param(
            "/Appointment/$hold",
            {"resourceType": "Parameters"},
            JSON,
            400,
            "invalid",
            id="hold-nothing",
        ),
        pytest.param(
            "/Appointment/$book",
            {
                "resourceType": "Parameters",
                "parameter": [
                    {
                        "name": "appointment-resource",
                        "resource": {
                            "resourceType": "Appointment",
                            "status": "cancelled",
                            "slot": [{"reference": "Slot/1"}],
                        },
                    }
                ],
            },
            JSON,
            400,
            "invalid",
            id="book-cancelled",
        ),
        pytest.param(
            "/Appointment/$hold",
            {"resourceType": "Parameters", "parameter": [{"name": "x"}]},
            JSON,
            400,
            "structure",
            id="no-value",
        ),
        pytest.param(
            "/Appointment/$book",
            {"resourceType": "Parameters", "parameter": "x"},
            JSON,
            400,
            "structure",
            id="not-a-list",
        ),
        pytest.param(
            "/Appointment/$book",
            {
                "resourceType": "Parameters",
                "parameter": [
                    {
                        "name": "appointment-reference",
                        "valueReference": {"reference": "Appointment/7"},
                    }
                ],
            },
            JSON,
            400,
            "invalid",
            id="book-not-proposed",
        ),
        pytest.param(
            "/Appointment/$find",
            {
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "start", "valueDateTime": "2026-11-30"},
                    {"name": "end", "valueDateTime": "2026-11-23"},
                ],
            },
            JSON,
            400,
            "invalid",
            id="find-backwards",
        ),
    ],
)
def test_bad_bookings_get_an_operation_outcome(
    api, clinic_setup, path, body, headers, status, code
):
    ani = api.patient("ani", "081234567890")
    content = body if isinstance(body, str) else None
    r = api.client.post(
        BASE + path,
        content=content,
        json=None if content else body,
        headers={**ani, **headers},
    )
    refused(r, status, code)


def test_a_full_slot_refuses_a_booking(api, clinic_setup):
    slot = monday_slots(api)[0]
    for n, phone in enumerate(("081234567890", "081234567891")):
        who = api.patient(f"pasien{n}", phone)
        assert post(api, "/Appointment", new_booking(slot["id"]), who).status_code == 201
    late = api.patient("late", "081234567892")
    refused(post(api, "/Appointment", new_booking(slot["id"]), late), 409, "conflict")


def test_a_body_too_large_is_an_operation_outcome(api, clinic_setup):
    ani = api.patient("ani", "081234567890")
    huge = {"resourceType": "Appointment", "comment": "x" * 3_000_000}
    r = api.client.post(BASE + "/Appointment", json=huge, headers={**ani, **JSON})
    refused(r, 413, "too-long")

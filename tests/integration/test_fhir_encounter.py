"""Queue tickets as FHIR R4 Encounters, on SQLite and PostgreSQL: a visit walked through the
queue shows its status and the statuses before it in order, every Encounter validates against
the R4B models and its codes against R4's value sets (which those models do not check),
searches filter and page, a patient sees only their own visits, and every refusal is an
OperationOutcome with the right status."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from antrean.adapters.fhir.encounters import R4_STATUSES, STATUS
from antrean.domain.queue import TicketState
from tests.integration.conftest import FROZEN_AT
from tests.integration.test_fhir import entries, get, refused, valid

MONDAY_9 = FROZEN_AT + timedelta(days=1)  # Monday 09:00 in Jakarta: the clinic is open
LOCATION_STATUSES = {"planned", "active", "reserved", "completed"}
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"


def _encounter(resource: dict[str, Any]) -> dict[str, Any]:
    """The Encounter, after checking it against its R4B model and R4's value sets, and that
    its status history runs in order up to the current status."""
    valid(resource)
    assert resource["resourceType"] == "Encounter"
    assert resource["status"] in R4_STATUSES, resource["status"]
    assert resource["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "AMB",
        "display": "ambulatory",
    }
    assert resource["priority"]["coding"][0]["system"] == ACT_PRIORITY
    assert {place["status"] for place in resource["location"]} <= LOCATION_STATUSES
    history = resource.get("statusHistory", [])
    for earlier, later in pairwise(history):
        assert earlier["period"]["end"] == later["period"]["start"]
        assert earlier["status"] != later["status"]
    for entry in history:
        assert entry["status"] in R4_STATUSES, entry["status"]
        assert _at(entry["period"]["start"]) <= _at(entry["period"]["end"])
    if history:
        assert history[-1]["status"] != resource["status"], "the current status is not history"
        assert history[0]["period"]["start"] == resource["period"]["start"]
    return resource


def _encounters(r: Any) -> list[dict[str, Any]]:
    return [_encounter(e) for e in entries(r)]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _statuses(resource: dict[str, Any]) -> list[tuple[str, datetime, datetime]]:
    return [
        (h["status"], _at(h["period"]["start"]), _at(h["period"]["end"]))
        for h in resource.get("statusHistory", [])
    ]


def _read(api: Any, headers: dict[str, str], ticket_id: int) -> dict[str, Any]:
    r = get(api, f"/Encounter/{ticket_id}", headers=headers)
    assert r.status_code == 200, r.text
    return _encounter(r.json())


def _walk_in(api: Any, operator: dict[str, str], clinic_id: int, name: str, **extra: Any) -> int:
    """A walk-in's ticket id (from the staff's list of the clinic's day)."""
    body = {"clinic_id": clinic_id, "name": name, "birth_date": "1970-01-01", **extra}
    r = api.client.post("/api/v1/queue/walk-ins", headers=operator, json=body)
    assert r.status_code == 201, r.text
    day = api.client.get(f"/api/v1/clinics/{clinic_id}/queue", headers=operator).json()
    return int(next(k["id"] for k in day if k["label"] == r.json()["ticket"]))


def _act(api: Any, operator: dict[str, str], ticket_id: int, action: str) -> None:
    r = api.client.post(f"/api/v1/queue/tickets/{ticket_id}/{action}", headers=operator)
    assert r.status_code == 200, r.text


def _call_next(api: Any, operator: dict[str, str], clinic_id: int) -> int:
    r = api.client.post(
        f"/api/v1/clinics/{clinic_id}/queue/call-next", headers=operator, json={"counter": "L1"}
    )
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def _pharmacy(api: Any) -> int:
    """A second clinic, open Monday to Saturday 07-20."""
    admin = api.login("admin", "staff-password-1")
    r = api.client.post(
        "/api/v1/clinics",
        headers=admin,
        json={
            "code": "FARMASI",
            "name": "Farmasi",
            "queue_prefix": "F",
            "hours": [{"weekday": d, "opens": "07:00", "closes": "20:00"} for d in range(6)],
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_every_ticket_state_has_an_r4_encounter_status():
    assert set(STATUS) == set(TicketState)
    assert set(STATUS.values()) <= R4_STATUSES


def test_a_visit_walked_through_the_queue_shows_its_statuses_in_order(api, clinic_setup):
    clock = api.container.clock
    clock.set(MONDAY_9)
    operator = api.staff("ops", "operator")
    clinic = clinic_setup["clinic_id"]
    ticket = _walk_in(api, operator, clinic, "Budi Santoso")
    issued = MONDAY_9

    waiting = _read(api, operator, ticket)
    assert waiting["id"] == str(ticket) and waiting["status"] == "arrived"
    assert "statusHistory" not in waiting and "end" not in waiting["period"]
    assert _at(waiting["period"]["start"]) == issued == _at(waiting["meta"]["lastUpdated"])
    assert waiting["identifier"] == [
        {"use": "usual", "system": "urn:antrean:ticket", "value": f"2026-11-23/{clinic}/A-001"}
    ]
    assert waiting["location"] == [
        {"location": {"reference": f"Location/{clinic}"}, "status": "active"}
    ]
    assert waiting["priority"]["coding"][0]["code"] == "R"
    assert waiting["subject"]["reference"].startswith("Patient/")
    assert "appointment" not in waiting

    clock.advance(timedelta(minutes=3))
    assert _call_next(api, operator, clinic) == ticket
    called = _read(api, operator, ticket)
    assert called["status"] == "arrived" and "statusHistory" not in called
    assert _at(called["meta"]["lastUpdated"]) == issued + timedelta(minutes=3)

    clock.advance(timedelta(minutes=2))
    _act(api, operator, ticket, "start")
    serving = _read(api, operator, ticket)
    started = issued + timedelta(minutes=5)
    assert serving["status"] == "in-progress"
    assert _statuses(serving) == [("arrived", issued, started)]

    clock.advance(timedelta(minutes=7))
    _act(api, operator, ticket, "finish")
    done = _read(api, operator, ticket)
    finished = started + timedelta(minutes=7)
    assert done["status"] == "finished"
    assert _statuses(done) == [("arrived", issued, started), ("in-progress", started, finished)]
    assert _at(done["period"]["end"]) == finished == _at(done["meta"]["lastUpdated"])
    assert done["location"][0]["status"] == "completed"


def test_skips_cancels_undos_transfers_and_priorities(api, clinic_setup):
    clock = api.container.clock
    clock.set(MONDAY_9)
    operator = api.staff("ops", "operator")
    clinic, pharmacy = clinic_setup["clinic_id"], _pharmacy(api)
    urgent = _walk_in(api, operator, clinic, "Ani", priority="emergency")
    elderly = _walk_in(
        api, operator, clinic, "Citra", priority="priority", priority_reason="lansia"
    )
    normal = _walk_in(api, operator, clinic, "Dedi")
    codes = {k: _read(api, operator, k)["priority"]["coding"][0]["code"] for k in (urgent, elderly)}
    assert codes == {urgent: "EM", elderly: "UR"}

    clock.advance(timedelta(minutes=1))
    assert _call_next(api, operator, clinic) == urgent  # emergencies first
    clock.advance(timedelta(minutes=1))
    _act(api, operator, urgent, "skip")
    skipped = _read(api, operator, urgent)
    assert skipped["status"] == "onleave" and "end" not in skipped["period"]
    assert [s for s, _, _ in _statuses(skipped)] == ["arrived"]
    clock.advance(timedelta(minutes=1))
    _act(api, operator, urgent, "requeue")
    assert _call_next(api, operator, clinic) == urgent
    _act(api, operator, urgent, "cancel")
    cancelled = _read(api, operator, urgent)
    assert cancelled["status"] == "cancelled" and "end" in cancelled["period"]
    assert [s for s, _, _ in _statuses(cancelled)] == ["arrived", "onleave", "arrived"]

    assert _call_next(api, operator, clinic) == elderly
    for action in ("start", "finish", "undo"):
        clock.advance(timedelta(minutes=1))
        _act(api, operator, elderly, action)
    undone = _read(api, operator, elderly)
    assert undone["status"] == "in-progress" and "end" not in undone["period"]
    assert [s for s, _, _ in _statuses(undone)] == ["arrived", "in-progress", "finished"]

    r = api.client.post(
        f"/api/v1/queue/tickets/{normal}/transfer", headers=operator, json={"clinic_id": pharmacy}
    )
    assert r.status_code == 201, r.text
    moved = _read(api, operator, normal)
    assert moved["status"] == "finished" and moved["location"][0]["status"] == "completed"
    onward = _read(api, operator, r.json()["id"])
    assert onward["status"] == "arrived" and onward["subject"] == moved["subject"]
    assert onward["location"][0]["location"]["reference"] == f"Location/{pharmacy}"
    assert onward["identifier"][0]["value"] == f"2026-11-23/{pharmacy}/F-001"


def test_a_checked_in_appointment_is_linked_and_its_reads_are_audited(api, clinic_setup):
    me = api.patient("siti", "081211112222")
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[2]  # 09:00
    booked = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": slot["id"]})
    assert booked.status_code == 201, booked.text
    api.container.clock.set(MONDAY_9)
    me = api.login("siti", "patient-password-1")
    code = booked.json()["code"]
    assert api.client.post(f"/api/v1/appointments/{code}/check-in", headers=me).status_code == 201

    mine = _encounters(get(api, "/Encounter", headers=me))
    assert len(mine) == 1
    visit = mine[0]
    assert visit["appointment"] == [{"reference": f"Appointment/{booked.json()['id']}"}]
    assert visit["subject"] == {"reference": f"Patient/{booked.json()['patient_id']}"}
    assert _read(api, me, int(visit["id"]))["status"] == "arrived"

    admin = api.login("admin", "staff-password-1")
    seen = [
        (e["action"], e["record_type"], e["record_id"], e["patient_id"])
        for e in api.client.get("/api/v1/audit", headers=admin, params={"size": 200}).json()[
            "items"
        ]
        if e["action"] in ("get_visit", "search_visits")
    ]
    expected = ("ticket", visit["id"], booked.json()["patient_id"])
    assert sorted(seen) == [("get_visit", *expected), ("search_visits", *expected)]


def test_searches_filter_by_patient_date_status_and_location_and_page(api, clinic_setup):
    clock = api.container.clock
    clock.set(MONDAY_9)
    operator = api.staff("ops", "operator")
    clinic, pharmacy = clinic_setup["clinic_id"], _pharmacy(api)
    budi = _walk_in(api, operator, clinic, "Budi")
    ani = _walk_in(api, operator, clinic, "Ani")
    citra = _walk_in(api, operator, clinic, "Citra")
    day = api.client.get(f"/api/v1/clinics/{clinic}/queue", headers=operator).json()
    mrn = next(k["mrn"] for k in day if k["id"] == budi)
    patient = next(k["patient_id"] for k in day if k["id"] == budi)
    budi_pharmacy = _walk_in(api, operator, pharmacy, "Budi", mrn=mrn)
    assert _call_next(api, operator, clinic) == budi
    _act(api, operator, budi, "start")
    clock.set(MONDAY_9 + timedelta(days=1))  # Tuesday
    operator = api.login("ops", "staff-password-1")
    budi_tuesday = _walk_in(api, operator, clinic, "Budi", mrn=mrn)
    everyone = [budi, budi_pharmacy, ani, citra, budi_tuesday]  # by day, then number

    def ids(**params: Any) -> list[int]:
        return [
            int(e["id"])
            for e in _encounters(get(api, "/Encounter", params=params, headers=operator))
        ]

    assert ids() == everyone
    assert ids(patient=f"Patient/{patient}") == [budi, budi_pharmacy, budi_tuesday]
    assert ids(patient=str(patient)) == [budi, budi_pharmacy, budi_tuesday]
    assert ids(location=f"Location/{pharmacy}") == [budi_pharmacy]
    assert ids(location=f"Location/{clinic}", date="2026-11-23") == [budi, ani, citra]
    assert ids(date="eq2026-11-24") == ids(date="gt2026-11-23") == [budi_tuesday]
    assert ids(date=["ge2026-11-23", "lt2026-11-24"]) == [budi, budi_pharmacy, ani, citra]
    assert ids(date="le2026-11-23T23:00:00+07:00") == [budi, budi_pharmacy, ani, citra]
    assert ids(date="lt2026-11-23") == [] and ids(date="ge2026-11-25") == []
    assert ids(status="in-progress") == [budi]
    assert ids(status="http://hl7.org/fhir/encounter-status|in-progress") == [budi]
    assert ids(status="arrived") == [budi_pharmacy, ani, citra, budi_tuesday]
    assert ids(status="in-progress,finished") == [budi]
    assert ids(status="planned") == [] and ids(status="finished,cancelled") == []
    assert ids(patient=str(patient), date="2026-11-23", location=str(clinic)) == [budi]
    assert ids(_id=f"{citra},{ani}") == [ani, citra]
    assert ids(patient="Patient/999999") == []

    # Pages of two, followed by their next links: each visit once, in order.
    page = get(api, "/Encounter", params={"_count": "2"}, headers=operator).json()
    assert page["total"] == 5
    seen = [int(e["resource"]["id"]) for e in page["entry"]]
    while (nxt := next((x for x in page["link"] if x["relation"] == "next"), None)) is not None:
        page = valid(api.client.get(nxt["url"], headers=operator).json())
        assert page["total"] == 5 and len(page["entry"]) <= 2
        assert any(x["relation"] == "previous" for x in page["link"])
        seen += [int(_encounter(e["resource"])["id"]) for e in page["entry"]]
    assert seen == everyone
    counted = get(api, "/Encounter", params={"_summary": "count"}, headers=operator).json()
    assert counted["total"] == 5 and "entry" not in counted
    lenient = get(
        api, "/Encounter", params={"colour": "blue", "status": "arrived"}, headers=operator
    )
    self_link = next(x["url"] for x in lenient.json()["link"] if x["relation"] == "self")
    assert "colour" not in self_link and "status=arrived" in self_link


def test_a_patient_sees_only_their_own_visits(api, clinic_setup):
    api.container.clock.set(MONDAY_9)
    operator = api.staff("ops", "operator")
    siti, budi = api.patient("siti", "081211112222"), api.patient("budi", "081233334444")
    clinic = clinic_setup["clinic_id"]
    record = {
        who: api.client.get("/api/v1/patients/me", headers=headers).json()
        for who, headers in (("siti", siti), ("budi", budi))
    }
    tickets = {
        who: _walk_in(api, operator, clinic, p["name"], mrn=p["mrn"], birth_date="1990-01-01")
        for who, p in record.items()
    }
    assert _read(api, siti, tickets["siti"])["subject"]["reference"] == (
        f"Patient/{record['siti']['id']}"
    )
    refused(get(api, f"/Encounter/{tickets['budi']}", headers=siti), 404, "not-found")

    def ids(headers: dict[str, str], **params: Any) -> list[int]:
        return [
            int(e["id"])
            for e in _encounters(get(api, "/Encounter", params=params, headers=headers))
        ]

    assert ids(siti) == [tickets["siti"]] and ids(budi) == [tickets["budi"]]
    assert ids(siti, patient=f"Patient/{record['budi']['id']}") == []
    assert ids(siti, _id=str(tickets["budi"])) == []
    assert ids(siti, patient=str(record["siti"]["id"])) == [tickets["siti"]]
    assert ids(operator) == [tickets["siti"], tickets["budi"]]
    doctor = api.staff("drandi", "doctor")
    assert ids(doctor, patient=str(record["budi"]["id"])) == [tickets["budi"]]


def test_without_a_token_the_caller_is_asked_to_sign_in(api, clinic_setup):
    for path in ("/Encounter", "/Encounter/1"):
        r = get(api, path)
        refused(r, 401, "login")
        assert r.headers["www-authenticate"].startswith("Bearer")
        refused(get(api, path, headers={"Authorization": "Bearer not-a-token"}), 401, "login")


def test_bad_requests_are_refused_with_an_operation_outcome(api):
    operator = api.staff("ops", "operator")
    cases: list[tuple[str, dict[str, Any], dict[str, str], int, str]] = [
        ("/Encounter/999999", {}, {}, 404, "not-found"),
        ("/Encounter/abc", {}, {}, 404, "not-found"),
        ("/Encounter", {"date": "ge2026-13-45"}, {}, 400, "invalid"),
        ("/Encounter", {"date": "2026-11-23T10:00"}, {}, 400, "invalid"),
        ("/Encounter", {"date": "sa2026-11-23"}, {}, 400, "not-supported"),
        ("/Encounter", {"date": ["ge2026-11-25", "le2026-11-23"]}, {}, 400, "invalid"),
        ("/Encounter", {"status": "waiting"}, {}, 400, "invalid"),
        ("/Encounter", {"status": "arrived,maybe"}, {}, 400, "invalid"),
        ("/Encounter", {"status": "urn:other|arrived"}, {}, 400, "invalid"),
        ("/Encounter", {"status": ["arrived", "finished"]}, {}, 400, "invalid"),
        ("/Encounter", {"patient": "Practitioner/1"}, {}, 400, "invalid"),
        ("/Encounter", {"patient": ["1", "2"]}, {}, 400, "invalid"),
        ("/Encounter", {"location": "Location/x"}, {}, 400, "invalid"),
        ("/Encounter", {"_id": "1,abc"}, {}, 400, "invalid"),
        ("/Encounter", {"_count": "many"}, {}, 400, "invalid"),
        ("/Encounter", {"page": "0"}, {}, 400, "invalid"),
        ("/Encounter", {"colour": "blue"}, {"Prefer": "handling=strict"}, 400, "not-supported"),
        ("/Encounter", {"_format": "xml"}, {}, 406, "not-supported"),
    ]
    for path, params, headers, status, code in cases:
        r = get(api, path, params=params, headers={**operator, **headers})
        assert r.status_code == status, (path, params, r.text)
        refused(r, status, code)

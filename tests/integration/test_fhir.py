"""FHIR R4 reads and searches on SQLite and PostgreSQL: every resource the server answers
validates against the R4B models of `fhir.resources` (and its codes against FHIR's value sets,
which those models do not check), searches page and filter as the specification says, and
every refusal is an OperationOutcome with the right status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.integration.conftest import MONDAY

BASE = "/fhir/R4"
FHIR_JSON = "application/fhir+json"
# FHIR R4 value sets of the codes this server answers with.
VALUE_SETS = {
    ("Slot", "status"): {"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"},
    ("Location", "status"): {"active", "suspended", "inactive"},
    ("Location", "mode"): {"instance", "kind"},
    ("Bundle", "type"): {"searchset"},
    ("CapabilityStatement", "status"): {"draft", "active", "retired", "unknown"},
    ("CapabilityStatement", "kind"): {"instance", "capability", "requirements"},
}
ISSUE_TYPES = {"invalid", "not-found", "conflict", "forbidden", "login", "throttled",
               "not-supported", "exception", "security", "processing", "structure",
               "business-rule", "too-long"}  # fmt: skip
DAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, after checking it against its R4B model and FHIR's value sets."""
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    for (of, field), allowed in VALUE_SETS.items():
        if of == kind and field in resource:
            assert resource[field] in allowed, (kind, field, resource[field])
    for hours in resource.get("hoursOfOperation", []):
        assert set(hours["daysOfWeek"]) <= DAYS
    for entry in resource.get("entry", []):
        valid(entry["resource"])
    return resource


def get(api, path: str, **kw: Any) -> Any:
    r = api.client.get(BASE + path, **kw)
    assert r.headers["content-type"].startswith(FHIR_JSON), (r.status_code, r.text[:300])
    return r


def refused(r, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = valid(r.json())
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["code"] == code and issue["code"] in ISSUE_TYPES
    return str(issue["details"]["text"])


def entries(r) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    body = valid(r.json())
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    return [e["resource"] for e in body.get("entry", [])]


def test_the_capability_statement_lists_what_is_served(api):
    r = get(api, "/metadata")
    body = valid(r.json())
    assert body["fhirVersion"] == "4.0.1" and FHIR_JSON in body["format"]
    served = {res["type"]: res for res in body["rest"][0]["resource"]}
    assert set(served) == {
        "Organization", "Location", "HealthcareService", "Practitioner", "PractitionerRole",
        "Schedule", "Slot", "Patient", "Appointment", "Encounter",
    }  # fmt: skip
    operations = {op["name"] for op in served["Appointment"]["operation"]}
    assert operations == {"find", "hold", "book"}
    slot_params = {p["name"] for p in served["Slot"]["searchParam"]}
    assert slot_params == {"_id", "schedule", "start", "status", "service-type"}
    # Each resource listed with read answers a read, and each one searchable a search.
    for kind, res in served.items():
        codes = {i["code"] for i in res["interaction"]}
        if "search-type" in codes:
            anyone = get(api, f"/{kind}")
            private = kind in ("Patient", "Appointment", "Encounter")
            assert anyone.status_code == (401 if private else 200), kind


def test_every_catalog_resource_reads_searches_and_validates(api, clinic_setup):
    clinic, doctor, service = (clinic_setup[k] for k in ("clinic_id", "doctor_id", "service_id"))
    for kind, rid in (
        ("Organization", 1),
        ("Location", clinic),
        ("HealthcareService", service),
        ("Practitioner", doctor),
        ("PractitionerRole", doctor),
        ("Schedule", f"{doctor}-{clinic}"),
    ):
        r = get(api, f"/{kind}/{rid}")
        assert r.status_code == 200, (kind, r.text)
        one = valid(r.json())
        assert (one["resourceType"], one["id"]) == (kind, str(rid))
        found = entries(get(api, f"/{kind}", params={"_id": str(rid)}))
        assert [e["id"] for e in found] == [str(rid)], kind
    location = get(api, f"/Location/{clinic}").json()
    assert location["identifier"][0]["value"] == "UMUM" and location["hoursOfOperation"]
    role = get(api, f"/PractitionerRole/{doctor}").json()
    assert role["location"] == [{"reference": f"Location/{clinic}"}]
    schedule = get(api, f"/Schedule/{doctor}-{clinic}").json()
    assert {a["reference"] for a in schedule["actor"]} == {
        f"Practitioner/{doctor}",
        f"PractitionerRole/{doctor}",
        f"Location/{clinic}",
    }
    assert entries(get(api, "/Location", params={"name": "umu"}))[0]["id"] == str(clinic)
    assert entries(get(api, "/Location", params={"identifier": "urn:antrean:clinic-code|UMUM"}))
    assert not entries(get(api, "/Location", params={"identifier": "other|UMUM"}))
    assert entries(get(api, "/Practitioner", params={"name": "andi"}))[0]["id"] == str(doctor)
    by_place = entries(get(api, "/HealthcareService", params={"location": f"Location/{clinic}"}))
    assert [s["id"] for s in by_place] == [str(service)]
    by_actor = entries(get(api, "/Schedule", params={"actor": f"Practitioner/{doctor}"}))
    assert [s["id"] for s in by_actor] == [f"{doctor}-{clinic}"]


def test_slot_search_matches_the_rest_api_and_pages(api, clinic_setup):
    clinic, doctor = clinic_setup["clinic_id"], clinic_setup["doctor_id"]
    monday = MONDAY.isoformat()
    rest = api.client.get("/api/v1/slots", params={"date_from": monday}).json()
    params = {
        "schedule": f"Schedule/{doctor}-{clinic}",
        "start": [f"ge{monday}", f"le{monday}"],
        "status": "free",
    }
    found = entries(get(api, "/Slot", params=params))
    assert [s["id"] for s in found] == [str(s["id"]) for s in rest] and len(found) == 8
    first = found[0]
    assert first["status"] == "free" and first["schedule"]["reference"].endswith(
        f"{doctor}-{clinic}"
    )
    assert datetime.fromisoformat(first["start"]) < datetime.fromisoformat(first["end"])
    assert first["serviceType"][0]["coding"][0]["code"] == str(clinic_setup["service_id"])

    # Paging: three a page, the next link leads on, and nothing repeats.
    page = get(api, "/Slot", params={**params, "_count": "3"}).json()
    seen = [e["resource"]["id"] for e in page["entry"]]
    while (nxt := next((x for x in page["link"] if x["relation"] == "next"), None)) is not None:
        page = api.client.get(nxt["url"]).json()
        seen += [e["resource"]["id"] for e in valid(page)["entry"]]
    assert seen == [s["id"] for s in found]
    counted = get(api, "/Slot", params={**params, "_summary": "count"}).json()
    assert counted["total"] == 8 and "entry" not in counted

    # A narrower time and a service narrow the answer.
    nine = f"{monday}T09:00:00+07:00"
    morning = entries(get(api, "/Slot", params={**params, "start": [f"ge{monday}", f"lt{nine}"]}))
    assert len(morning) == 2
    service = entries(
        get(
            api,
            "/Slot",
            params={"start": f"eq{monday}", "service-type": str(clinic_setup["service_id"])},
        )
    )
    assert len(service) == 8


def test_a_full_slot_is_busy(api, admin, clinic_setup):
    monday = MONDAY.isoformat()
    slot = api.client.get("/api/v1/slots", params={"date_from": monday}).json()[0]
    for name in ("Budi", "Siti"):  # capacity 2
        p = api.client.post(
            "/api/v1/patients", headers=admin, json={"name": name, "birth_date": "1980-01-01"}
        ).json()
        r = api.client.post(
            "/api/v1/appointments",
            headers=admin,
            json={"slot_id": slot["id"], "patient_id": p["id"]},
        )
        assert r.status_code == 201, r.text
    busy = entries(get(api, "/Slot", params={"start": f"eq{monday}", "status": "busy"}))
    assert [s["id"] for s in busy] == [str(slot["id"])]
    free = entries(get(api, "/Slot", params={"start": f"eq{monday}", "status": "free"}))
    assert str(slot["id"]) not in {s["id"] for s in free} and len(free) == 7


def test_a_booked_slot_on_a_holiday_is_busy_unavailable(api, admin, clinic_setup):
    monday = MONDAY.isoformat()
    slot = api.client.get("/api/v1/slots", params={"date_from": monday}).json()[0]
    p = api.client.post(
        "/api/v1/patients", headers=admin, json={"name": "Budi", "birth_date": "1980-01-01"}
    ).json()
    r = api.client.post(
        "/api/v1/appointments", headers=admin, json={"slot_id": slot["id"], "patient_id": p["id"]}
    )
    assert r.status_code == 201, r.text
    read = valid(get(api, f"/Slot/{slot['id']}").json())
    assert read["status"] == "free" and read["id"] == str(slot["id"])
    r = api.client.post(
        "/api/v1/schedule-exceptions",
        headers=admin,
        json={"kind": "holiday", "date_from": monday, "date_to": monday, "reason": "Libur"},
    )
    assert r.status_code == 201, r.text
    # The unbooked slots are gone; the booked one stays, closed to new bookings.
    every = entries(get(api, "/Slot", params={"start": f"eq{monday}"}))
    assert [(s["id"], s["status"]) for s in every] == [(str(slot["id"]), "busy-unavailable")]
    closed = entries(
        get(api, "/Slot", params={"start": f"eq{monday}", "status": "busy-unavailable"})
    )
    assert [s["id"] for s in closed] == [str(slot["id"])]
    for status in ("free", "busy"):
        assert not entries(get(api, "/Slot", params={"start": f"eq{monday}", "status": status}))
    assert valid(get(api, f"/Slot/{slot['id']}").json())["status"] == "busy-unavailable"


def test_slots_include_their_schedule(api, clinic_setup):
    monday = MONDAY.isoformat()
    r = get(
        api, "/Slot", params={"start": f"eq{monday}", "_include": "Slot:schedule", "_count": "3"}
    )
    body = valid(r.json())
    matches = [e for e in body["entry"] if e["search"]["mode"] == "match"]
    included = [e["resource"] for e in body["entry"] if e["search"]["mode"] == "include"]
    assert len(matches) == 3 and body["total"] == 8
    schedule = f"{clinic_setup['doctor_id']}-{clinic_setup['clinic_id']}"
    assert [(s["resourceType"], s["id"]) for s in included] == [("Schedule", schedule)]
    strict = get(api, "/Slot", params={"_include": "Slot:x"}, headers={"Prefer": "handling=strict"})
    refused(strict, 400, "not-supported")


@pytest.mark.parametrize(
    ("path", "params", "headers", "status", "code"),
    [
        pytest.param("/Location/999999", {}, {}, 404, "not-found", id="unknown-id"),
        pytest.param("/Location/abc", {}, {}, 404, "not-found", id="id-not-ours"),
        pytest.param("/Schedule/1", {}, {}, 404, "not-found", id="schedule-not-a-pair"),
        pytest.param("/Slot", {"start": "ge2026-13-45"}, {}, 400, "invalid", id="not-a-date"),
        pytest.param(
            "/Slot", {"start": ["ge2026-11-23", "le2027-02-01"]}, {}, 400, "invalid", id="too-long"
        ),
        pytest.param("/Slot", {"start": "sa2026-11-23"}, {}, 400, "not-supported", id="prefix"),
        pytest.param("/Slot", {"status": "maybe"}, {}, 400, "not-supported", id="status"),
        pytest.param("/Slot", {"schedule": "Schedule/x"}, {}, 400, "invalid", id="schedule"),
        pytest.param("/Slot", {"schedule": "Schedule/a-b"}, {}, 400, "invalid", id="schedule-ids"),
        pytest.param(
            "/Slot", {"_id": "1", "status": "free"}, {}, 400, "not-supported", id="id-not-alone"
        ),
        pytest.param("/Slot", {"start": "2026-13"}, {}, 400, "invalid", id="not-a-month"),
        pytest.param("/Slot", {"_count": "many"}, {}, 400, "invalid", id="count"),
        pytest.param(
            "/Slot",
            {"colour": "blue"},
            {"Prefer": "handling=strict"},
            400,
            "not-supported",
            id="unknown-strict",
        ),
        pytest.param("/Location", {"_format": "xml"}, {}, 406, "not-supported", id="xml"),
        pytest.param(
            "/Schedule",
            {"service-type": "1"},
            {"Prefer": "handling=strict"},
            400,
            "not-supported",
            id="schedule-service-type-strict",
        ),
        pytest.param("/Observation", {}, {}, 404, "not-supported", id="type-not-served"),
        pytest.param("/Slot/999999", {}, {}, 404, "not-found", id="slot-unknown"),
        pytest.param("/Appointment/1", {}, {"Prefer": "x"}, 401, "login", id="appointment-anon"),
        pytest.param(
            "/Location", {}, {"Authorization": "Bearer not-a-token"}, 401, "login", id="token"
        ),
    ],
)
def test_bad_requests_get_an_operation_outcome(
    api, clinic_setup, path, params, headers, status, code
):
    text = refused(get(api, path, params=params, headers=headers), status, code)
    assert text


def test_unknown_parameters_are_ignored_without_strict_handling(api, clinic_setup):
    monday = MONDAY.isoformat()
    r = get(api, "/Slot", params={"start": f"eq{monday}", "colour": "blue"})
    body = r.json()
    assert len(entries(r)) == 8
    assert "colour" not in body["link"][0]["url"]  # the self link shows what was used


def test_a_slot_search_reaches_at_most_a_month(api, clinic_setup):
    start = MONDAY + timedelta(days=1)
    r = get(api, "/Slot", params={"start": [f"ge{start}", f"lt{start + timedelta(days=30)}"]})
    assert r.status_code == 200


def test_patients_are_read_by_staff_and_themselves_and_found_by_mrn_or_nik(api, admin):
    body = {"name": "Siti Rahayu", "birth_date": "1990-04-05", "sex": "female",
            "phone": "081234567890", "nik": "3171010101900001"}  # fmt: skip
    made = api.client.post("/api/v1/patients", headers=admin, json=body).json()
    staff = api.staff("ani", "operator")
    r = get(api, f"/Patient/{made['id']}", headers=staff)
    assert r.status_code == 200, r.text
    one = valid(r.json())
    assert one["gender"] == "female" and one["birthDate"] == "1990-04-05"
    assert {(i["system"], i["value"]) for i in one["identifier"]} == {
        ("urn:antrean:mrn", made["mrn"]),
        ("https://fhir.kemkes.go.id/id/nik", "3171010101900001"),
    }
    assert one["telecom"][0]["value"] == "+6281234567890"
    for token in (made["mrn"], f"urn:antrean:mrn|{made['mrn']}",
                  "https://fhir.kemkes.go.id/id/nik|3171010101900001"):  # fmt: skip
        found = entries(get(api, "/Patient", params={"identifier": token}, headers=staff))
        assert [p["id"] for p in found] == [str(made["id"])], token
    assert not entries(get(api, "/Patient", params={"identifier": "other|1"}, headers=staff))
    by_name = entries(get(api, "/Patient", params={"name": "rah"}, headers=staff))
    assert [p["id"] for p in by_name] == [str(made["id"])]
    refused(get(api, "/Patient", params={"identifier": "https://fhir.kemkes.go.id/id/nik|12"},
                headers=staff), 400, "invalid")  # fmt: skip
    refused(get(api, f"/Patient/{made['id']}"), 401, "login")
    me = api.patient("budi", "081299998888")
    refused(get(api, f"/Patient/{made['id']}", headers=me), 403, "forbidden")
    refused(get(api, "/Patient", headers=me), 403, "forbidden")


def test_slots_and_patients_are_found_by_id_and_dates_by_year_or_month(api, admin, clinic_setup):
    monday = MONDAY.isoformat()
    slots = api.client.get("/api/v1/slots", params={"date_from": monday}).json()
    ids = f"{slots[0]['id']},{slots[3]['id']},999999,x"
    found = entries(get(api, "/Slot", params={"_id": ids}))
    assert [s["id"] for s in found] == [str(slots[0]["id"]), str(slots[3]["id"])]
    # A month or a year is its whole span (the search reaches a month at most).
    month = entries(get(api, "/Slot", params={"start": MONDAY.strftime("%Y-%m"), "_count": "500"}))
    days = {s["start"][:10] for s in month}
    assert month and all(d[:7] == MONDAY.strftime("%Y-%m") for d in days) and len(days) > 1
    p = api.client.post(
        "/api/v1/patients", headers=admin, json={"name": "Budi", "birth_date": "1980-01-01"}
    ).json()
    by_id = entries(get(api, "/Patient", params={"_id": f"{p['id']},999999"}, headers=admin))
    assert [x["id"] for x in by_id] == [str(p["id"])]
    assert get(api, "/Patient", params={"_id": str(p["id"])}).status_code == 401


def test_head_and_options_are_refused_as_operation_outcomes(api):
    head = api.client.head(f"{BASE}/Slot")
    assert head.status_code == 405 and head.headers["content-type"].startswith(FHIR_JSON)
    refused(api.client.options(f"{BASE}/Slot"), 405, "not-supported")

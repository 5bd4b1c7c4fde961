"""A FHIR client library nobody here wrote (fhirpy) against a real `antrean serve`: it reads
the server's capabilities, finds the clinic and its doctors, and walks every page of a month
of free slots by following the Bundles' links, getting what the REST API lists; a signed-in
patient finds, holds, books, reads, searches and cancels an appointment with it, and creates
one with a plain `save()`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

from antrean.bootstrap import build, ensure_facility
from antrean.testing.live_server import running_server
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import SECRET, make_settings

pytestmark = pytest.mark.slow

PASSWORD = "patient-password-1"


@contextmanager
def _clinic(
    db_url: str, tmp_path: Path, capacity: int
) -> Iterator[tuple[str, int, list[int], date]]:
    """A clinic open every day, two doctors working 08-10 in half hours, served: the base
    URL, the clinic's id, the doctors' ids and today (in the facility's time zone)."""
    data = tmp_path / "data"
    c = build(make_settings(db_url, data))
    ensure_facility(c)
    clinic_id, doctor_ids = open_all_week_clinic(
        c, doctors=2, start=time(8), end=time(10), slot_minutes=30, capacity=capacity
    )
    today = c.clock.now().astimezone(c.policy.time_zone).date()
    c.close()
    env = {"ANTREAN_DATA_KEYS_FILE": str(data / "data_keys")}
    with running_server(
        db_url, tmp_path / "server", secret=SECRET, workers=1, extra_env=env
    ) as base:
        yield base, clinic_id, doctor_ids, today


def _signed_up_patient(base: str, username: str, phone: str) -> tuple[SyncFHIRClient, int]:
    """A patient who signs up and signs in over the REST API: a FHIR client carrying their
    bearer token, and their patient id."""
    r = httpx.post(
        f"{base}/api/v1/auth/register",
        json={
            "username": username,
            "password": PASSWORD,
            "name": username.title(),
            "birth_date": "1990-01-01",
            "sex": "female",
            "phone": phone,
        },
    )
    assert r.status_code == 201, r.text
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    bearer = f"Bearer {r.json()['access_token']}"
    me = httpx.get(f"{base}/api/v1/patients/me", headers={"Authorization": bearer})
    assert me.status_code == 200, me.text
    return SyncFHIRClient(f"{base}/fhir/R4", authorization=bearer), int(me.json()["id"])


def _parameters(**references: str) -> dict[str, Any]:
    """A Parameters resource of references (`appointment_reference` as appointment-reference)."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name.replace("_", "-"), "valueReference": {"reference": ref}}
            for name, ref in references.items()
        ],
    }


def _actors(appointment: Any) -> set[str]:
    return {p["actor"]["reference"] for p in appointment["participant"]}


def test_a_fhir_client_finds_a_doctor_and_a_month_of_free_slots(db_url, tmp_path):
    with _clinic(db_url, tmp_path, capacity=2) as (base, clinic_id, doctor_ids, today):
        client = SyncFHIRClient(f"{base}/fhir/R4")
        capabilities = client.execute("metadata", method="get")
        assert capabilities["fhirVersion"] == "4.0.1"

        clinic = client.resources("Location").search(name="poli").first()
        assert clinic is not None and clinic["id"] == str(clinic_id)
        doctors = client.resources("Practitioner").search(active="true").fetch_all()
        assert sorted(int(d["id"]) for d in doctors) == sorted(doctor_ids)
        schedule = (
            client.resources("Schedule").search(actor=f"Practitioner/{doctor_ids[0]}").first()
        )
        assert schedule["id"] == f"{doctor_ids[0]}-{clinic_id}"

        first, last = today + timedelta(days=1), today + timedelta(days=29)
        slots = (
            client.resources("Slot")
            .search(schedule=f"Schedule/{schedule['id']}", status="free")
            .search(start__ge=first.isoformat(), start__le=last.isoformat())
            .limit(50)
            .fetch_all()
        )
        rest = httpx.get(
            f"{base}/api/v1/slots",
            params={
                "date_from": first.isoformat(),
                "date_to": last.isoformat(),
                "doctor_id": doctor_ids[0],
            },
        ).json()
        assert [int(s["id"]) for s in slots] == [s["id"] for s in rest]
        assert len(slots) == 29 * 4  # four half hours a day, each day of the range
        assert all(s["status"] == "free" for s in slots)
        assert slots[0]["schedule"]["reference"] == f"Schedule/{schedule['id']}"
        practitioner = schedule["actor"][0].to_resource()
        assert practitioner["id"] == str(doctor_ids[0])


def test_a_patient_finds_holds_books_reads_and_cancels_with_a_fhir_client(db_url, tmp_path):
    """IHE $find, $hold and $book through `execute`, then the booking as a fhirpy resource:
    read, searched, cancelled by `save()` (a PUT); one place per slot, so a taken slot is
    busy and a cancelled one free again."""
    with _clinic(db_url, tmp_path, capacity=1) as (base, clinic_id, doctor_ids, today):
        client, patient_id = _signed_up_patient(base, "ani", "081234567890")
        patient, doctor = f"Patient/{patient_id}", doctor_ids[0]
        day = today + timedelta(days=1)
        schedule = client.resources("Schedule").search(actor=f"Practitioner/{doctor}").first()
        assert schedule is not None and schedule["id"] == f"{doctor}-{clinic_id}"

        def free_slots() -> list[str]:
            found = (
                client.resources("Slot")
                .search(schedule=f"Schedule/{schedule['id']}", status="free", start=day.isoformat())
                .fetch_all()
            )
            assert all(s["status"] == "free" for s in found)
            return [s.id for s in found]

        def proposals() -> list[dict[str, Any]]:
            bundle = client.execute(
                "Appointment/$find",
                method="get",
                params={
                    "practitioner": f"Practitioner/{doctor}",
                    "start": day.isoformat(),
                    "end": (day + timedelta(days=1)).isoformat(),
                    "patient-reference": patient,
                },
            )
            assert bundle["resourceType"] == "Bundle"
            return [e["resource"] for e in bundle.get("entry", [])]

        slots = free_slots()
        assert len(slots) == 4  # 08:00 to 10:00 in half hours
        proposed = proposals()
        assert [a["id"] for a in proposed] == [f"slot-{s}" for s in slots]
        assert {a["status"] for a in proposed} == {"proposed"}
        first = proposed[0]
        assert first["slot"] == [{"reference": f"Slot/{slots[0]}"}]
        assert {patient, f"Practitioner/{doctor}", f"Location/{clinic_id}"} == _actors(first)

        # $hold: the place is kept (the slot's only one), so the slot is busy and not proposed.
        held = client.execute(
            "Appointment/$hold",
            data=_parameters(appointment_reference=f"Appointment/{first['id']}"),
        )
        assert held["resourceType"] == "Bundle" and held["total"] == 1
        pending = held["entry"][0]["resource"]
        assert pending["status"] == "pending" and pending["id"].startswith("hold-")
        assert pending["slot"] == first["slot"]
        assert free_slots() == slots[1:]
        assert [a["id"] for a in proposals()] == [f"slot-{s}" for s in slots[1:]]

        # $book the hold: booked for the caller, in the held slot; a hold books once.
        booked_bundle = client.execute(
            "Appointment/$book",
            data=_parameters(appointment_reference=f"Appointment/{pending['id']}"),
        )
        booked = booked_bundle["entry"][0]["resource"]
        assert booked["resourceType"] == "Appointment" and booked["id"].isdigit()
        assert booked["status"] == "booked" and booked["slot"] == first["slot"]
        assert patient in _actors(booked)
        with pytest.raises(ResourceNotFound):
            client.execute(
                "Appointment/$book",
                data=_parameters(appointment_reference=f"Appointment/{pending['id']}"),
            )
        assert free_slots() == slots[1:]

        # Read back as a fhirpy resource; its references resolve through the client.
        appointment = client.reference("Appointment", booked["id"]).to_resource()
        assert appointment.id == booked["id"] and appointment["status"] == "booked"
        assert appointment["meta"]["versionId"] == booked["meta"]["versionId"]
        assert appointment["identifier"] == booked["identifier"]
        assert appointment["slot"][0].reference == f"Slot/{slots[0]}"
        slot = appointment["slot"][0].to_resource()
        assert slot.id == slots[0] and slot["status"] == "busy"  # its one place is taken
        doctors = [
            p["actor"].to_resource()
            for p in appointment["participant"]
            if p["actor"].resource_type == "Practitioner"
        ]
        assert [d.id for d in doctors] == [str(doctor)]

        # Searched: by patient, by booking code, counted by status.
        appointments = client.resources("Appointment")
        assert [a.id for a in appointments.search(patient=patient).fetch_all()] == [booked["id"]]
        code = booked["identifier"][0]
        found = appointments.search(identifier=f"{code['system']}|{code['value']}").get()
        assert found.id == booked["id"]
        assert appointments.search(status="booked").count() == 1
        assert appointments.search(status="cancelled").count() == 0

        # Cancelled by saving it with status cancelled: fhirpy PUTs the resource (no If-Match).
        stale = client.reference("Appointment", booked["id"]).to_resource()
        appointment["status"] = "cancelled"
        appointment["cancelationReason"] = {"text": "sudah sembuh"}
        appointment.save()
        assert appointment.id == booked["id"] and appointment["status"] == "cancelled"
        assert appointment["cancelationReason"] == {"text": "sudah sembuh"}
        assert appointment["meta"]["versionId"] != booked["meta"]["versionId"]
        again = client.reference("Appointment", booked["id"]).to_resource()
        assert again["status"] == "cancelled"
        assert again["meta"]["versionId"] == appointment["meta"]["versionId"]
        assert appointments.search(status="booked").count() == 0
        assert appointments.search(status="cancelled").count() == 1
        # The place is back: the slot reads free, is found free, is proposed by $find, and
        # the REST API has its place available.
        assert appointment["slot"][0].to_resource()["status"] == "free"
        assert free_slots() == slots
        assert [a["id"] for a in proposals()] == [f"slot-{s}" for s in slots]
        rest = httpx.get(
            f"{base}/api/v1/slots",
            params={"date_from": day.isoformat(), "date_to": day.isoformat(), "doctor_id": doctor},
        ).json()
        assert {s["id"]: s["available"] for s in rest}[int(slots[0])] == 1
        # The copy read before the cancel, saved as it is (booked): without an If-Match the
        # version is not what refuses it; the rule that only cancelling is the client's does,
        # and the booking stays cancelled.
        with pytest.raises(OperationOutcome) as refused:
            stale.save()
        assert refused.value.resource["issue"][0]["code"] == "business-rule"
        assert client.reference("Appointment", booked["id"]).to_resource()["status"] == "cancelled"
        assert free_slots() == slots


def test_a_fhir_client_creates_an_appointment_and_a_second_that_day_is_refused(db_url, tmp_path):
    """`client.resource("Appointment", ...).save()` POSTs it; one booking a patient per clinic
    and day, so a second that day is an OperationOutcome fhirpy raises, and nothing is taken."""
    with _clinic(db_url, tmp_path, capacity=1) as (base, clinic_id, doctor_ids, today):
        client, patient_id = _signed_up_patient(base, "budi", "081234567891")
        patient = f"Patient/{patient_id}"
        schedule = f"Schedule/{doctor_ids[0]}-{clinic_id}"
        day = today + timedelta(days=1)

        def free_slots(on: date) -> list[str]:
            found = (
                client.resources("Slot")
                .search(schedule=schedule, status="free", start=on.isoformat())
                .fetch_all()
            )
            return [s.id for s in found]

        def booking(slot_id: str) -> Any:
            return client.resource(
                "Appointment",
                status="booked",
                slot=[{"reference": f"Slot/{slot_id}"}],
                participant=[{"actor": {"reference": patient}, "status": "accepted"}],
            )

        slots = free_slots(day)
        assert len(slots) == 4
        created = booking(slots[0])
        assert created.id is None
        created.save()
        assert created.id is not None and created.id.isdigit()
        assert created["status"] == "booked"
        assert created["slot"][0].reference == f"Slot/{slots[0]}"
        assert patient in {p["actor"].reference for p in created["participant"]}
        read = client.reference("Appointment", created.id).to_resource()
        assert read["identifier"] == created["identifier"]
        assert read["meta"]["versionId"] == created["meta"]["versionId"]
        assert free_slots(day) == slots[1:]

        with pytest.raises(OperationOutcome) as refused:
            booking(slots[1]).save()
        outcome = refused.value.resource
        assert outcome["resourceType"] == "OperationOutcome"
        assert [(i["severity"], i["code"]) for i in outcome["issue"]] == [("error", "conflict")]
        assert free_slots(day) == slots[1:], "the refused booking took no place"
        appointments = client.resources("Appointment").search(patient=patient)
        assert [a.id for a in appointments.fetch_all()] == [created.id]

        # The next day is another day: the same patient books there.
        next_day = day + timedelta(days=1)
        other = booking(free_slots(next_day)[0])
        other.save()
        assert other.id is not None and other.id != created.id
        assert sorted(a.id for a in appointments.fetch_all()) == sorted([created.id, other.id])

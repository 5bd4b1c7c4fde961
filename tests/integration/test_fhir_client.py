"""A FHIR client library nobody here wrote (fhirpy) against a real `antrean serve`: it reads
the server's capabilities, finds the clinic and its doctors, and walks every page of a month
of free slots by following the Bundles' links, getting what the REST API lists."""

from __future__ import annotations

from datetime import time, timedelta

import httpx
import pytest
from fhirpy import SyncFHIRClient

from antrean.bootstrap import build, ensure_facility
from antrean.testing.live_server import running_server
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import SECRET, make_settings

pytestmark = pytest.mark.slow


def test_a_fhir_client_finds_a_doctor_and_a_month_of_free_slots(db_url, tmp_path):
    data = tmp_path / "data"
    c = build(make_settings(db_url, data))
    ensure_facility(c)
    clinic_id, doctor_ids = open_all_week_clinic(
        c, doctors=2, start=time(8), end=time(10), slot_minutes=30, capacity=2
    )
    today = c.clock.now().astimezone(c.policy.time_zone).date()
    c.close()
    env = {"ANTREAN_DATA_KEYS_FILE": str(data / "data_keys")}
    with running_server(
        db_url, tmp_path / "server", secret=SECRET, workers=1, extra_env=env
    ) as base:
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

"""HL7 FHIR R4 at /fhir/R4 (docs/fhir.md): the facility, clinics, services, doctors, their
schedules and slots, patients, and queue tickets as Encounters, read and searched through the
same use cases as the REST API. Every answer is `application/fhir+json`; every refusal an
OperationOutcome."""

from __future__ import annotations

from fastapi import FastAPI

from antrean.adapters.fhir import appointments, encounters, routes


def install(app: FastAPI) -> None:
    app.include_router(encounters.router)  # before routes: its last route takes any path
    app.include_router(appointments.router)
    app.include_router(routes.router)  # last: it ends with a catch-all

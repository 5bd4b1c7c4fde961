"""The CapabilityStatement at /fhir/R4/metadata: exactly what this server does."""

from __future__ import annotations

from typing import Any

from antrean.adapters.fhir.core import FHIR_JSON, FHIR_VERSION

# resource type -> (interactions, search parameters as (name, type, documentation))
RESOURCES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]] = {
    "Organization": (("read", "search-type"), (("_id", "token", "the facility's id"),)),
    "Location": (
        ("read", "search-type"),
        (
            ("_id", "token", "a clinic's id"),
            ("name", "string", "the start of a word of the clinic's name"),
            ("identifier", "token", "the clinic's code (urn:antrean:clinic-code)"),
            ("status", "token", "active or inactive (switched off)"),
        ),
    ),
    "HealthcareService": (
        ("read", "search-type"),
        (
            ("_id", "token", "a service's id"),
            ("name", "string", "the start of a word of the service's name"),
            ("location", "reference", "the clinic offering it"),
            ("active", "token", "true or false"),
        ),
    ),
    "Practitioner": (
        ("read", "search-type"),
        (
            ("_id", "token", "a doctor's id"),
            ("name", "string", "the start of a word of the doctor's name"),
            ("active", "token", "true or false"),
        ),
    ),
    "PractitionerRole": (
        ("read", "search-type"),
        (
            ("_id", "token", "a doctor's id"),
            ("practitioner", "reference", "the doctor"),
            ("location", "reference", "a clinic where the doctor holds sessions"),
            ("specialty", "token", "the doctor's specialty, as written"),
        ),
    ),
    "Schedule": (
        ("read", "search-type"),
        (
            ("_id", "token", "<doctor id>-<clinic id>"),
            ("actor", "reference", "the doctor, their role or the clinic"),
            ("active", "token", "true or false"),
        ),
    ),
    "Patient": (
        ("read", "search-type"),
        (
            ("_id", "token", "records' ids, comma-separated; given alone"),
            (
                "identifier",
                "token",
                "the MRN (urn:antrean:mrn) or the NIK (https://fhir.kemkes.go.id/id/nik)",
            ),
            ("name", "string", "the start of each word of the name"),
            ("phone", "token", "the phone number, in any common form"),
        ),
    ),
    "Appointment": (
        ("read", "vread", "search-type", "create", "update", "patch"),
        (
            ("_id", "token", "an appointment's id; given alone"),
            ("identifier", "token", "the booking code (urn:antrean:booking-code); given alone"),
            ("patient", "reference", "Patient/<id>; a patient finds only their own"),
            ("practitioner", "reference", "the doctor"),
            ("location", "reference", "the clinic"),
            ("date", "date", "the start: ge, gt, le, lt or eq"),
            ("status", "token", "one FHIR appointment status"),
        ),
    ),
    "Encounter": (
        ("read", "search-type"),
        (
            ("_id", "token", "a queue ticket's id; comma-separated for any of several"),
            ("patient", "reference", "Patient/<id>; a patient finds only their own visits"),
            (
                "date",
                "date",
                "the visit's local day: ge, gt, le, lt or eq (a dateTime counts its whole day)",
            ),
            ("status", "token", "Encounter.status codes; comma-separated for any of them"),
            ("location", "reference", "Location/<clinic id>"),
        ),
    ),
    "Slot": (
        ("read", "search-type"),
        (
            ("_id", "token", "slots' ids, comma-separated; given alone"),
            ("schedule", "reference", "Schedule/<doctor id>-<clinic id>"),
            ("start", "date", "ge, gt, le, lt or eq; at most 31 days; default the next 30"),
            ("status", "token", "free, busy or busy-unavailable (closed to new bookings)"),
            ("service-type", "token", "a service's code (urn:antrean:service)"),
        ),
    ),
}


# The IHE ITI Scheduling operations, on Appointment, by their published definitions.
IHE = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-"
OPERATIONS = {"Appointment": ("find", "hold", "book")}
INCLUDES = {
    "Appointment": ("Appointment:practitioner", "Appointment:location"),
    "Slot": ("Slot:schedule",),
}


def _resource(kind: str) -> dict[str, Any]:
    interactions, params = RESOURCES[kind]
    found: dict[str, Any] = {
        "type": kind,
        "interaction": [{"code": code} for code in interactions],
        "searchParam": [{"name": n, "type": t, "documentation": doc} for n, t, doc in params],
    }
    if kind in INCLUDES:
        found["searchInclude"] = list(INCLUDES[kind])
    if kind in OPERATIONS:
        found["operation"] = [{"name": op, "definition": IHE + op} for op in OPERATIONS[kind]]
    if "update" in interactions:
        found["versioning"] = "versioned-update"  # If-Match with the ETag is honoured
        found["updateCreate"] = False
    return found


def capability_statement(base: str, name: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-26",
        "publisher": name,
        "kind": "instance",
        "software": {"name": "antrean"},
        "implementation": {"description": f"{name}: scheduling", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Unknown search parameters are ignored, or refused with "
                    "Prefer: handling=strict. Searches page with _count (at most 500) and "
                    "take _summary=count."
                ),
                "security": {
                    "description": (
                        "Bearer access tokens from POST /api/v1/auth/token, with the same "
                        "roles as the REST API. The catalog and slots are public; a patient "
                        "sees and books their own appointments, staff anyone's."
                    )
                },
                "resource": [_resource(kind) for kind in RESOURCES],
            }
        ],
    }

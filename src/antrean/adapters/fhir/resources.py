"""Domain values as FHIR R4 resources (JSON objects): shapes only, no rules.

Ids are the domain's own ids. A `Schedule` is a doctor at a clinic (`{doctor}-{clinic}`): the
weekly sessions of that pair, whose slots it holds; a `PractitionerRole` is a doctor's role
at this facility, with the clinics where they hold sessions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from antrean.domain.booking import Appointment, AppointmentStatus, SlotHold, SlotView
from antrean.domain.catalog import Clinic, Doctor, Facility, Service
from antrean.domain.patients import Patient
from antrean.domain.scheduling import Schedule
from antrean.services.ports import FreeSlot

# Our own code systems: stable names for our codes, so a client can tell them apart.
SYSTEM = "urn:antrean"
MRN_SYSTEM = f"{SYSTEM}:mrn"
CLINIC_CODE_SYSTEM = f"{SYSTEM}:clinic-code"
SERVICE_SYSTEM = f"{SYSTEM}:service"
SPECIALTY_SYSTEM = f"{SYSTEM}:specialty"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def organization(f: Facility) -> dict[str, Any]:
    found: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(f.id),
        "identifier": [{"system": f"{SYSTEM}:facility-code", "value": f.code}],
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "prov",
                        "display": "Healthcare Provider",
                    }
                ]
            }
        ],
        "name": f.name,
    }
    if f.phone:
        found["telecom"] = [{"system": "phone", "value": f.phone, "use": "work"}]
    if f.address:
        found["address"] = [{"use": "work", "text": f.address}]
    return found


def location(c: Clinic, facility_id: int) -> dict[str, Any]:
    hours = [
        {
            "daysOfWeek": [DAYS[h.weekday]],
            "openingTime": _clock(h.opens),
            "closingTime": _clock(h.closes),
        }
        for h in sorted(c.hours, key=lambda h: (h.weekday, h.opens))
    ]
    found: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(c.id),
        "identifier": [{"system": CLINIC_CODE_SYSTEM, "value": c.code}],
        "status": "active" if c.is_open else "inactive",
        "name": c.name,
        "mode": "instance",
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                        "code": "OF",
                        "display": "Outpatient facility",
                    }
                ]
            }
        ],
        "managingOrganization": {"reference": f"Organization/{facility_id}"},
    }
    if hours:
        found["hoursOfOperation"] = hours
    return found


def healthcare_service(s: Service, facility_id: int) -> dict[str, Any]:
    return {
        "resourceType": "HealthcareService",
        "id": str(s.id),
        "active": s.active,
        "providedBy": {"reference": f"Organization/{facility_id}"},
        "type": [service_type(s)],
        "location": [{"reference": f"Location/{s.clinic_id}"}],
        "name": s.name,
        "comment": f"{s.duration_minutes} min",
    }


def service_type(s: Service) -> dict[str, Any]:
    return {"coding": [{"system": SERVICE_SYSTEM, "code": str(s.id), "display": s.name}]}


def practitioner(d: Doctor) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": str(d.id),
        "active": d.active,
        "name": [{"text": d.name}],
    }


def practitioner_role(d: Doctor, facility_id: int, clinic_ids: Iterable[int]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": str(d.id),
        "active": d.active,
        "practitioner": {"reference": f"Practitioner/{d.id}", "display": d.name},
        "organization": {"reference": f"Organization/{facility_id}"},
        "code": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/practitioner-role",
                        "code": "doctor",
                        "display": "Doctor",
                    }
                ]
            }
        ],
        "location": [{"reference": f"Location/{c}"} for c in sorted(set(clinic_ids))],
    }
    if d.specialty:
        found["specialty"] = [
            {"coding": [{"system": SPECIALTY_SYSTEM, "code": d.specialty}], "text": d.specialty}
        ]
    return found


def schedule_id(doctor_id: int, clinic_id: int) -> str:
    return f"{doctor_id}-{clinic_id}"


def schedule(
    doctor: Doctor, clinic: Clinic, sessions: list[Schedule], services: list[Service]
) -> dict[str, Any]:
    """A doctor at a clinic: the weekly sessions in words, and what the clinic offers."""
    plan = "; ".join(
        f"{DAYS[s.weekday]} {_clock(s.start)}-{_clock(s.end)} every {s.slot_minutes} min "
        f"x{s.capacity}"
        for s in sorted(sessions, key=lambda s: (s.weekday, s.start))
    )
    found: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": schedule_id(doctor.id, clinic.id),
        "active": doctor.active and clinic.is_open,
        "actor": [
            {"reference": f"Practitioner/{doctor.id}", "display": doctor.name},
            {"reference": f"PractitionerRole/{doctor.id}"},
            {"reference": f"Location/{clinic.id}", "display": clinic.name},
        ],
        "comment": plan,
    }
    active = [s for s in services if s.active and s.clinic_id == clinic.id]
    if active:
        found["serviceType"] = [service_type(s) for s in active]
    if doctor.specialty:
        found["specialty"] = [{"coding": [{"system": SPECIALTY_SYSTEM, "code": doctor.specialty}]}]
    return found


def slot_status(s: FreeSlot) -> str:
    """busy-unavailable when closed to bookings (kept for the bookings it holds), free while
    places are left, busy when full."""
    if not s.active:
        return "busy-unavailable"
    return "free" if s.available > 0 else "busy"


def slot(s: FreeSlot, services: list[Service]) -> dict[str, Any]:
    """A slot: its status from its places (its capacity is how many appointments it
    holds)."""
    found: dict[str, Any] = {
        "resourceType": "Slot",
        "id": str(s.id),
        "schedule": {"reference": f"Schedule/{schedule_id(s.doctor_id, s.clinic_id)}"},
        "status": slot_status(s),
        "start": instant(s.start_at),
        "end": instant(s.end_at),
        "comment": f"{s.available} of {s.capacity} places free; {s.doctor_name}, {s.clinic_name}",
    }
    offered = [x for x in services if x.active and x.clinic_id == s.clinic_id]
    if offered:
        found["serviceType"] = [service_type(x) for x in offered]
    return found


def _clock(t: Any) -> str:
    return t.strftime("%H:%M:%S")


NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"  # as SATUSEHAT names the national id


def patient(p: Patient) -> dict[str, Any]:
    identifiers = [{"use": "usual", "system": MRN_SYSTEM, "value": p.mrn}]
    if p.nik:
        identifiers.append({"use": "official", "system": NIK_SYSTEM, "value": p.nik})
    found: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(p.id),
        "identifier": identifiers,
        "active": True,
        "name": [{"use": "official", "text": p.name}],
        "gender": p.sex.value,
        "birthDate": p.birth_date.isoformat(),
    }
    telecom = []
    if p.phone:
        telecom.append({"system": "phone", "value": p.phone, "use": "mobile"})
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    if telecom:
        found["telecom"] = telecom
    if p.address:
        found["address"] = [{"use": "home", "text": p.address}]
    if p.language:
        found["communication"] = [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": p.language}]},
                "preferred": True,
            }
        ]
    return found


BOOKING_CODE_SYSTEM = f"{SYSTEM}:booking-code"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant(moment: datetime) -> str:
    """A FHIR instant, always in UTC: the same moment reads the same however it was made."""
    return moment.astimezone(UTC).isoformat()


def version_of(a: Appointment) -> str:
    """The appointment's version: its last change, in microseconds (`meta.versionId`, ETag)."""
    return str((a.updated_at - EPOCH) // timedelta(microseconds=1))


def version_moment(version: str) -> datetime | None:
    """A version back as the moment of the change it names; None when it is not one."""
    if not version.isascii() or not version.isdigit() or len(version) > 19:
        return None
    return EPOCH + timedelta(microseconds=int(version))


def _participants(patient_id: int | None, doctor_id: int, clinic_id: int) -> list[dict[str, Any]]:
    actors = [f"Practitioner/{doctor_id}", f"Location/{clinic_id}"]
    if patient_id is not None:
        actors.insert(0, f"Patient/{patient_id}")
    return [
        {"actor": {"reference": ref}, "required": "required", "status": "accepted"}
        for ref in actors
    ]


def appointment(a: Appointment) -> dict[str, Any]:
    """A booking: its code as an identifier, its slot, the patient, doctor and clinic."""
    found: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(a.id),
        "meta": {"versionId": version_of(a), "lastUpdated": instant(a.updated_at)},
        "identifier": [{"system": BOOKING_CODE_SYSTEM, "value": a.code}],
        "status": a.status.value,
        "start": instant(a.start_at),
        "end": instant(a.end_at),
        "created": instant(a.created_at),
        "participant": _participants(a.patient_id, a.doctor_id, a.clinic_id),
    }
    if a.cancel_reason and a.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NOSHOW):
        found["cancelationReason"] = {"text": a.cancel_reason}
    if a.service_id is not None:
        found["serviceType"] = [{"coding": [{"system": SERVICE_SYSTEM, "code": str(a.service_id)}]}]
    if a.slot_id is not None:
        found["slot"] = [{"reference": f"Slot/{a.slot_id}"}]
    if a.note:
        found["comment"] = a.note
    return found


PROPOSED_PREFIX = "slot-"  # a proposed appointment ($find) is named after its slot
HELD_PREFIX = "hold-"  # a held one ($hold) after its hold
HOLD_EXPIRES = f"{SYSTEM}:hold-expires"  # extension: when a hold ends


def proposed(s: FreeSlot, patient_id: int | None, services: list[Service]) -> dict[str, Any]:
    """A free place of a slot as a proposed appointment (IHE `$find`), to hold or book."""
    found: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": f"{PROPOSED_PREFIX}{s.id}",
        "status": "proposed",
        "start": instant(s.start_at),
        "end": instant(s.end_at),
        "slot": [{"reference": f"Slot/{s.id}"}],
        "participant": _participants(patient_id, s.doctor_id, s.clinic_id),
        "comment": f"{s.doctor_name}, {s.clinic_name}",
    }
    offered = [x for x in services if x.active and x.clinic_id == s.clinic_id]
    if offered:
        found["serviceType"] = [service_type(x) for x in offered]
    return found


def held(h: SlotHold, s: SlotView) -> dict[str, Any]:
    """A hold (IHE `$hold`) as a pending appointment: the place is kept until it expires."""
    return {
        "resourceType": "Appointment",
        "id": f"{HELD_PREFIX}{h.id}",
        "status": "pending",
        "start": instant(s.start_at),
        "end": instant(s.end_at),
        "slot": [{"reference": f"Slot/{s.id}"}],
        "participant": _participants(None, s.doctor_id, s.clinic_id),
        "extension": [{"url": HOLD_EXPIRES, "valueInstant": instant(h.expires_at)}],
        "comment": f"held until {instant(h.expires_at)}",
    }

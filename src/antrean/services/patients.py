"""Use cases for patient records."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import phonenumbers

from antrean.domain.booking import BookingPolicy
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role
from antrean.domain.patients import Patient, Sex, format_mrn, validate_birth_date, validate_nik
from antrean.services.ports import UniqueViolation, UnitOfWork


def normalize_phone(phone: str | None, region: str = "ID") -> str | None:
    """Any common way of writing a phone number (0812..., +62 812-..., 62812...) to E.164."""
    if phone is None or not phone.strip():
        return None
    raw = phone.strip()
    if raw.startswith("62") and not raw.startswith("+"):
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise AntreanError("invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise AntreanError("invalid_phone")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def new_patient(
    uow: UnitOfWork,
    *,
    facility_id: int,
    policy: BookingPolicy,
    name: str,
    birth_date: date,
    sex: Sex = Sex.UNKNOWN,
    mrn: str | None = None,
    phone: str | None = None,
    address: str | None = None,
    nik: str | None = None,
    bpjs_number: str | None = None,
) -> Patient:
    """Add a patient in the caller's transaction; an MRN is issued when none is given."""
    now = uow.clock.now()
    today = now.astimezone(policy.time_zone).date()
    patient = Patient(
        id=0,
        facility_id=facility_id,
        mrn=(mrn or "").strip() or format_mrn(uow.counters.next_mrn(facility_id)),
        name=" ".join(name.split()),
        birth_date=validate_birth_date(birth_date, today),
        sex=sex,
        phone=normalize_phone(phone),
        address=(address or "").strip() or None,
        nik=validate_nik(nik),
        bpjs_number=(bpjs_number or "").strip() or None,
        created_at=now,
    )
    try:
        patient.id = uow.patients.add(patient)
    except UniqueViolation:
        raise AntreanError("already_exists", entity="patient", field="MRN") from None
    return patient


def register_patient(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, **fields: Any
) -> Patient:
    actor.require(Role.OPERATOR, Role.DOCTOR)
    with uow(write=True):
        patient = new_patient(uow, facility_id=actor.facility_id, policy=policy, **fields)
        uow.commit()
    return patient


def get_patient(uow: UnitOfWork, *, actor: Actor, patient_id: int) -> Patient:
    actor.require_patient_access(patient_id)
    with uow():
        patient = uow.patients.get(actor.facility_id, patient_id)
    if patient is None:
        raise AntreanError("not_found", entity="Patient")
    return patient


def update_patient(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    patient_id: int,
    changes: dict[str, Any],
) -> Patient:
    """Staff may change any field but the MRN; a patient may change their own contact details."""
    actor.require_patient_access(patient_id)
    if not actor.is_staff and set(changes) - {"phone", "address"}:
        raise AntreanError("forbidden")
    values = dict(changes)
    if "phone" in values:
        values["phone"] = normalize_phone(values["phone"])
    if "nik" in values:
        values["nik"] = validate_nik(values["nik"])
    if "sex" in values:
        values["sex"] = Sex(values["sex"]).value
    with uow(write=True):
        patient = uow.patients.get(actor.facility_id, patient_id)
        if patient is None:
            raise AntreanError("not_found", entity="Patient")
        if "birth_date" in values:
            today = uow.clock.now().astimezone(policy.time_zone).date()
            validate_birth_date(values["birth_date"], today)
        if "name" in values:
            values["name"] = " ".join(values["name"].split())
        uow.patients.update(actor.facility_id, patient_id, values)
        updated = uow.patients.get(actor.facility_id, patient_id)
        uow.commit()
    assert updated is not None
    return replace(updated)


def search_patients(
    uow: UnitOfWork,
    *,
    actor: Actor,
    mrn: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    page: Page,
) -> tuple[list[Patient], int]:
    actor.require(Role.OPERATOR, Role.DOCTOR)
    phone_e164 = normalize_phone(phone) if phone else None
    with uow():
        return uow.patients.search(
            actor.facility_id, mrn=mrn, name=name, phone=phone_e164, page=page
        )

"""Use cases for patient records: protected health information, read and changed only by staff
and by the patient themselves."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from antrean.domain.audit import AuditSubject
from antrean.domain.booking import BookingPolicy
from antrean.domain.common import Page, checked_page
from antrean.domain.errors import AntreanError
from antrean.domain.fields import check_id, clean_optional_text, given
from antrean.domain.identity import Actor, Role
from antrean.domain.patients import (
    SELF_SERVICE_FIELDS,
    Patient,
    PatientDraft,
    PatientPatch,
    format_mrn,
    patient_mrn,
    phone_text,
    validate_nik,
)
from antrean.services.access import SIGNED_IN, allow
from antrean.services.ports import UniqueViolation, UnitOfWork
from antrean.services.providers import PhoneNumbers

MAX_PAGE_SIZE = 500


def patient_subject(patient_id: int) -> AuditSubject:
    """A patient's record, as the audit log names it."""
    return AuditSubject("patient", str(patient_id), patient_id)


def to_e164(phones: PhoneNumbers, phone: str | None) -> str | None:
    """A phone number as typed, in E.164; `invalid_phone` when it is not one."""
    text = phone_text(phone)
    if text is None:
        return None
    e164 = phones.to_e164(text)
    if e164 is None:
        raise AntreanError("invalid_phone", field="phone")
    return e164


def today(uow: UnitOfWork, policy: BookingPolicy) -> date:
    """The facility's local day now."""
    return uow.clock.now().astimezone(policy.time_zone).date()


def new_patient(
    uow: UnitOfWork,
    *,
    facility_id: int,
    policy: BookingPolicy,
    phones: PhoneNumbers,
    draft: PatientDraft,
) -> Patient:
    """Add a patient in the caller's transaction; an MRN is issued when none is given."""
    draft = draft.validated(today(uow, policy))
    return add_checked_patient(
        uow, facility_id=facility_id, draft=draft, phone=to_e164(phones, draft.phone)
    )


def add_checked_patient(
    uow: UnitOfWork, *, facility_id: int, draft: PatientDraft, phone: str | None
) -> Patient:
    """Store a patient whose draft has been checked (`PatientDraft.validated`), with the phone
    in E.164, in the caller's transaction; an MRN is issued when none is given."""
    patient = Patient(
        id=0,
        facility_id=facility_id,
        mrn=draft.mrn or format_mrn(uow.sequences.next_mrn(facility_id)),
        name=draft.name,
        birth_date=draft.birth_date,
        sex=draft.sex,
        phone=phone,
        address=draft.address,
        nik=draft.nik,
        bpjs_number=draft.bpjs_number,
        created_at=uow.clock.now(),
        email=draft.email,
        language=draft.language,
    )
    try:
        patient.id = uow.patients.add(patient)
    except UniqueViolation:
        raise AntreanError("already_exists", entity="patient", field="mrn") from None
    uow.audit(patient_subject(patient.id))
    return patient


@allow(Role.OPERATOR, Role.DOCTOR)
def register_patient(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    phones: PhoneNumbers,
    draft: PatientDraft,
) -> Patient:
    with uow(write=True):
        patient = new_patient(
            uow, facility_id=actor.facility_id, policy=policy, phones=phones, draft=draft
        )
        uow.commit()
    return patient


def _find(uow: UnitOfWork, actor: Actor, patient_id: int) -> Patient:
    check_id(patient_id, "patient_id")
    actor.require_patient_access(patient_id)
    patient = uow.patients.get(actor.facility_id, patient_id)
    if patient is None:
        raise AntreanError("not_found", entity="Patient")
    uow.audit(patient_subject(patient.id))
    return patient


@allow(*SIGNED_IN)
def get_patient(uow: UnitOfWork, *, actor: Actor, patient_id: int) -> Patient:
    """Staff, or the patient themselves."""
    with uow():
        return _find(uow, actor, patient_id)


@allow(*SIGNED_IN)
def get_my_patient_record(uow: UnitOfWork, *, actor: Actor) -> Patient:
    """The signed-in patient's own record."""
    if actor.patient_id is None:
        raise AntreanError("not_found", entity="Patient")
    return get_patient(uow, actor=actor, patient_id=actor.patient_id)


@allow(*SIGNED_IN)
def update_patient(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    phones: PhoneNumbers,
    patient_id: int,
    patch: PatientPatch,
) -> Patient:
    """Staff may change any field but the MRN; a patient may change their own phone and
    address. A patient's own phone must be a mobile number, as at sign-up (messages go there);
    staff may record a landline, which the message log then reports as not a mobile."""
    if not actor.is_staff and patch.fields_given() - SELF_SERVICE_FIELDS:
        raise AntreanError("forbidden")
    if given(patch.phone):
        phone = to_e164(phones, patch.phone)
        if not actor.is_staff and phone is not None and not phones.is_mobile(phone):
            raise AntreanError("not_mobile_number", field="phone")
        patch = replace(patch, phone=phone)
    with uow(write=True):
        patient = patch.apply(_find(uow, actor, patient_id), today(uow, policy))
        uow.patients.save(patient)
        uow.commit()
    return patient


@allow(Role.OPERATOR, Role.DOCTOR)
def search_patients(
    uow: UnitOfWork,
    *,
    actor: Actor,
    phones: PhoneNumbers,
    page: Page,
    mrn: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    nik: str | None = None,
) -> tuple[list[Patient], int]:
    """By exact MRN or NIK, part of the name, or phone (any common format)."""
    mrn = patient_mrn(mrn)
    nik = validate_nik(nik)
    name = clean_optional_text(name, "name", max_length=200)
    phone_e164 = to_e164(phones, phone) if phone else None
    page = checked_page(page, MAX_PAGE_SIZE)
    with uow():
        found, total = uow.patients.search(
            actor.facility_id, mrn=mrn, name=name, phone=phone_e164, page=page, nik=nik
        )
        uow.audit(*(patient_subject(p.id) for p in found))  # each record shown
    return found, total

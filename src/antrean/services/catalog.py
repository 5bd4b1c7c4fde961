"""Use cases for the catalog: clinics (poli) with their opening hours and counters, the
services they offer, and doctors. Admins write; everyone reads."""

from __future__ import annotations

from dataclasses import dataclass

from antrean.domain.booking import BookingPolicy
from antrean.domain.catalog import (
    Clinic,
    ClinicDraft,
    ClinicPatch,
    Doctor,
    DoctorDraft,
    DoctorPatch,
    Facility,
    FacilityPatch,
    Service,
    ServiceDraft,
    ServicePatch,
    counter_name,
)
from antrean.domain.errors import AntreanError
from antrean.domain.fields import check_id, check_optional_id, given
from antrean.domain.identity import Actor, Role
from antrean.domain.queue import clinic_open_at
from antrean.services.access import allow
from antrean.services.ports import UniqueViolation, UnitOfWork
from antrean.services.slot_sync import sync_slots


def find_clinic(uow: UnitOfWork, facility_id: int, clinic_id: int) -> Clinic:
    """The clinic, or `not_found`; in the caller's transaction."""
    clinic = uow.catalog.get_clinic(facility_id, check_id(clinic_id, "clinic_id"))
    if clinic is None:
        raise AntreanError("not_found", entity="Clinic")
    return clinic


def find_doctor(uow: UnitOfWork, facility_id: int, doctor_id: int) -> Doctor:
    doctor = uow.catalog.get_doctor(facility_id, check_id(doctor_id, "doctor_id"))
    if doctor is None:
        raise AntreanError("not_found", entity="Doctor")
    return doctor


def find_service(uow: UnitOfWork, facility_id: int, service_id: int) -> Service:
    service = uow.catalog.get_service(facility_id, check_id(service_id, "service_id"))
    if service is None:
        raise AntreanError("not_found", entity="Service")
    return service


# --- clinics -------------------------------------------------------------------------------


@allow(public=True)
def list_clinics(uow: UnitOfWork, *, actor: Actor) -> list[Clinic]:
    with uow():
        return uow.catalog.list_clinics(actor.facility_id)


@dataclass(frozen=True, slots=True)
class ClinicNow:
    clinic: Clinic
    open_now: bool  # switched on and inside today's opening hours, in the facility's time


@allow(public=True)
def clinics_open_now(uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy) -> list[ClinicNow]:
    """The facility's clinics, each with whether it takes patients right now."""
    with uow():
        local = uow.clock.now().astimezone(policy.time_zone)
        return [
            ClinicNow(clinic, clinic_open_at(clinic, local))
            for clinic in uow.catalog.list_clinics(actor.facility_id)
        ]


@allow(public=True)
def get_clinic(uow: UnitOfWork, *, actor: Actor, clinic_id: int) -> Clinic:
    with uow():
        return find_clinic(uow, actor.facility_id, clinic_id)


@allow(Role.ADMIN)
def create_clinic(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, draft: ClinicDraft
) -> Clinic:
    """A new clinic; slots appear for its doctors' schedules within its opening hours."""
    draft = draft.validated()
    clinic = Clinic(0, actor.facility_id, draft.code, draft.name, draft.queue_prefix, draft.is_open)
    with uow(write=True):
        try:
            clinic.id = uow.catalog.add_clinic(clinic, uow.clock.now())
        except UniqueViolation:
            raise AntreanError("already_exists", entity="clinic", field="code") from None
        uow.catalog.replace_hours(actor.facility_id, clinic.id, list(draft.hours))
        sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        created = find_clinic(uow, actor.facility_id, clinic.id)
        uow.commit()
    return created


@allow(Role.ADMIN)
def update_clinic(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, clinic_id: int, patch: ClinicPatch
) -> Clinic:
    """Change a clinic's name, prefix, open/closed switch or opening hours (slots follow)."""
    with uow(write=True):
        clinic = patch.apply(find_clinic(uow, actor.facility_id, clinic_id))
        uow.catalog.save_clinic(clinic)
        if given(patch.hours):
            uow.catalog.replace_hours(actor.facility_id, clinic.id, clinic.hours)
            sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        updated = find_clinic(uow, actor.facility_id, clinic.id)
        uow.commit()
    return updated


# --- the facility ---------------------------------------------------------------------------


@allow(public=True)
def get_facility(uow: UnitOfWork, *, actor: Actor) -> Facility:
    """The facility's name, address and phone, as shown to patients."""
    with uow():
        facility = uow.facilities.get(actor.facility_id)
    if facility is None:
        raise AntreanError("not_found", entity="Facility")
    return facility


@allow(Role.ADMIN)
def update_facility(uow: UnitOfWork, *, actor: Actor, patch: FacilityPatch) -> Facility:
    with uow(write=True):
        facility = uow.facilities.get(actor.facility_id)
        if facility is None:
            raise AntreanError("not_found", entity="Facility")
        changed = patch.apply(facility)
        uow.facilities.save(changed)
        uow.commit()
    return changed


# --- counters (loket) and rooms ------------------------------------------------------------


@allow(public=True)
def list_counters(uow: UnitOfWork, *, actor: Actor, clinic_id: int) -> list[str]:
    check_id(clinic_id, "clinic_id")
    with uow():
        return uow.catalog.list_counters(actor.facility_id, clinic_id)


@allow(Role.ADMIN)
def add_counter(uow: UnitOfWork, *, actor: Actor, clinic_id: int, name: str) -> list[str]:
    """Set up a counter (loket) or room for a clinic."""
    name = counter_name(name)
    with uow(write=True):
        find_clinic(uow, actor.facility_id, clinic_id)
        try:
            uow.catalog.add_counter(actor.facility_id, clinic_id, name)
        except UniqueViolation:
            raise AntreanError("already_exists", entity="counter", field="name") from None
        names = uow.catalog.list_counters(actor.facility_id, clinic_id)
        uow.commit()
    return names


@allow(Role.ADMIN)
def remove_counter(uow: UnitOfWork, *, actor: Actor, clinic_id: int, name: str) -> list[str]:
    """Take a counter out of use; its history stays."""
    check_id(clinic_id, "clinic_id")
    name = counter_name(name)
    with uow(write=True):
        if not uow.catalog.set_counter_active(actor.facility_id, clinic_id, name, False):
            raise AntreanError("not_found", entity="Counter")
        names = uow.catalog.list_counters(actor.facility_id, clinic_id)
        uow.commit()
    return names


# --- services ------------------------------------------------------------------------------


@allow(public=True)
def list_services(uow: UnitOfWork, *, actor: Actor, clinic_id: int | None = None) -> list[Service]:
    check_optional_id(clinic_id, "clinic_id")
    with uow():
        return uow.catalog.list_services(actor.facility_id, clinic_id)


@allow(Role.ADMIN)
def create_service(uow: UnitOfWork, *, actor: Actor, draft: ServiceDraft) -> Service:
    draft = draft.validated()
    with uow(write=True):
        find_clinic(uow, actor.facility_id, draft.clinic_id)
        row = Service(0, draft.clinic_id, draft.name, draft.duration_minutes, True)
        service_id = uow.catalog.add_service(actor.facility_id, row)
        uow.commit()
    return Service(service_id, row.clinic_id, row.name, row.duration_minutes, row.active)


@allow(Role.ADMIN)
def update_service(
    uow: UnitOfWork, *, actor: Actor, service_id: int, patch: ServicePatch
) -> Service:
    with uow(write=True):
        service = patch.apply(find_service(uow, actor.facility_id, service_id))
        if given(patch.clinic_id):
            find_clinic(uow, actor.facility_id, service.clinic_id)
        uow.catalog.save_service(actor.facility_id, service)
        uow.commit()
    return service


# --- doctors -------------------------------------------------------------------------------


@allow(public=True)
def list_doctors(uow: UnitOfWork, *, actor: Actor) -> list[Doctor]:
    with uow():
        return uow.catalog.list_doctors(actor.facility_id)


@allow(public=True)
def get_doctor(uow: UnitOfWork, *, actor: Actor, doctor_id: int) -> Doctor:
    with uow():
        return find_doctor(uow, actor.facility_id, doctor_id)


@allow(Role.ADMIN)
def create_doctor(uow: UnitOfWork, *, actor: Actor, draft: DoctorDraft) -> Doctor:
    draft = draft.validated()
    row = Doctor(0, draft.name, draft.specialty, True)
    with uow(write=True):
        doctor_id = uow.catalog.add_doctor(actor.facility_id, row)
        uow.commit()
    return Doctor(doctor_id, row.name, row.specialty, row.active)


@allow(Role.ADMIN)
def update_doctor(uow: UnitOfWork, *, actor: Actor, doctor_id: int, patch: DoctorPatch) -> Doctor:
    with uow(write=True):
        doctor = patch.apply(find_doctor(uow, actor.facility_id, doctor_id))
        uow.catalog.save_doctor(actor.facility_id, doctor)
        uow.commit()
    return doctor

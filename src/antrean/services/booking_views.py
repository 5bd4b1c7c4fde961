"""What people read about bookings: one appointment with the names and address to show or
send, and a patient's own list split into what is ahead and what is past."""

from __future__ import annotations

import re
from dataclasses import dataclass

from antrean.domain.booking import Appointment
from antrean.domain.catalog import Facility
from antrean.domain.common import Page, checked_page
from antrean.domain.errors import AntreanError
from antrean.domain.events import DomainEvent
from antrean.domain.fields import check_id, clean_text
from antrean.domain.identity import Actor, Role
from antrean.services.access import SIGNED_IN, allow
from antrean.services.booking import appointment_subject, load_appointment
from antrean.services.ports import (
    BOOKING_ORDERS,
    AppointmentFilter,
    BookingRow,
    UnitOfWork,
)
from antrean.services.providers import PhoneNumbers

MY_LIST_SIZE = 200
TABLE_PAGE_SIZE = 1000
SEARCH_LENGTH = 100
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{8,}$")


@dataclass(frozen=True, slots=True)
class AppointmentDetails:
    appointment: Appointment
    clinic_name: str
    doctor_name: str
    doctor_specialty: str
    service_name: str | None
    facility: Facility


@dataclass(frozen=True, slots=True)
class MyAppointments:
    upcoming: list[AppointmentDetails]  # soonest first
    past: list[AppointmentDetails]  # latest first


def details_of(uow: UnitOfWork, facility: Facility, appointment: Appointment) -> AppointmentDetails:
    """An appointment with the names around it, in the caller's transaction."""
    clinic = uow.catalog.get_clinic(appointment.facility_id, appointment.clinic_id)
    doctor = uow.catalog.get_doctor(appointment.facility_id, appointment.doctor_id)
    service = (
        uow.catalog.get_service(appointment.facility_id, appointment.service_id)
        if appointment.service_id is not None
        else None
    )
    return AppointmentDetails(
        appointment=appointment,
        clinic_name=clinic.name if clinic else "",
        doctor_name=doctor.name if doctor else "",
        doctor_specialty=doctor.specialty if doctor else "",
        service_name=service.name if service else None,
        facility=facility,
    )


def _facility(uow: UnitOfWork, actor: Actor) -> Facility:
    facility = uow.facilities.get(actor.facility_id)
    if facility is None:
        raise AntreanError("not_found", entity="Facility")
    return facility


@allow(*SIGNED_IN)
def appointment_details(uow: UnitOfWork, *, actor: Actor, code: str) -> AppointmentDetails:
    """One appointment with its clinic, doctor, service and the facility's address: staff see
    any, a patient only their own."""
    with uow():
        appointment = load_appointment(uow, actor, code)
        return details_of(uow, _facility(uow, actor), appointment)


@allow(*SIGNED_IN)
def my_appointments(uow: UnitOfWork, *, actor: Actor) -> MyAppointments:
    """A patient's own appointments: those still to come (booked or checked in, from today
    on) and the rest, latest first."""
    if actor.patient_id is None:
        raise AntreanError("forbidden")
    with uow():
        now = uow.clock.now()
        facility = _facility(uow, actor)
        found, _ = uow.appointments.find(
            actor.facility_id,
            AppointmentFilter(patient_id=actor.patient_id),
            Page(1, MY_LIST_SIZE),
        )
        # The catalog is small: read it once, not three rows per appointment.
        clinics = {c.id: c.name for c in uow.catalog.list_clinics(actor.facility_id)}
        doctors = {d.id: d for d in uow.catalog.list_doctors(actor.facility_id)}
        services = {s.id: s.name for s in uow.catalog.list_services(actor.facility_id, None)}
    upcoming: list[AppointmentDetails] = []
    past: list[AppointmentDetails] = []
    for appointment in found:
        doctor = doctors.get(appointment.doctor_id)
        details = AppointmentDetails(
            appointment=appointment,
            clinic_name=clinics.get(appointment.clinic_id, ""),
            doctor_name=doctor.name if doctor else "",
            doctor_specialty=doctor.specialty if doctor else "",
            service_name=services.get(appointment.service_id or 0),
            facility=facility,
        )
        ahead = appointment.status.is_active and appointment.end_at > now
        (upcoming if ahead else past).append(details)
    past.reverse()
    return MyAppointments(upcoming=upcoming, past=past)


@dataclass(frozen=True, slots=True)
class BookingTable:
    rows: list[BookingRow]
    total: int
    page: Page


@allow(Role.OPERATOR, Role.DOCTOR)
def booking_table(
    uow: UnitOfWork,
    *,
    actor: Actor,
    phones: PhoneNumbers,
    flt: AppointmentFilter,
    search: str | None = None,
    order: str = "start",
    page: Page = Page(1, 50),
) -> BookingTable:
    """The staff's bookings: filtered by dates, clinic, doctor and status; found by booking
    code, part of the patient's name or their phone (as typed: 0812..., +62812...); sorted;
    a page at a time."""
    page = checked_page(page, TABLE_PAGE_SIZE)
    if not isinstance(order, str) or order.lstrip("-") not in BOOKING_ORDERS:
        raise AntreanError("field_invalid", field="order")
    text = clean_text(search or "", "search", max_length=SEARCH_LENGTH, required=False)
    if text and PHONE_LIKE.match(text):
        text = phones.to_e164(text) or text
    for value, name in ((flt.clinic_id, "clinic_id"), (flt.doctor_id, "doctor_id")):
        if value is not None:
            check_id(value, name)
    with uow():
        rows, total = uow.appointments.table(actor.facility_id, flt, text or None, order, page)
        uow.audit(*(appointment_subject(r.appointment) for r in rows))  # each patient shown
    return BookingTable(rows=rows, total=total, page=page)


@dataclass(frozen=True, slots=True)
class BookingHistory:
    details: AppointmentDetails
    patient_name: str
    patient_mrn: str
    patient_phone: str | None
    events: list[tuple[DomainEvent, str]]  # each change, with who made it ("" for the system)


@allow(Role.OPERATOR, Role.DOCTOR)
def booking_history(uow: UnitOfWork, *, actor: Actor, code: str) -> BookingHistory:
    """One booking for the staff: its details, its patient and every change made to it."""
    with uow():
        appointment = load_appointment(uow, actor, code)
        details = details_of(uow, _facility(uow, actor), appointment)
        patient = uow.patients.get(actor.facility_id, appointment.patient_id)
        events = uow.events.for_appointment(actor.facility_id, appointment.id)
        names: dict[int, str] = {}
        for event in events:
            user_id = event.actor_user_id
            if user_id and user_id not in names:
                user = uow.users.get(user_id)
                names[user_id] = (user.full_name or user.username) if user else ""
    return BookingHistory(
        details=details,
        patient_name=patient.name if patient else "",
        patient_mrn=patient.mrn if patient else "",
        patient_phone=patient.phone if patient else None,
        events=[(e, names.get(e.actor_user_id or 0, "")) for e in events],
    )

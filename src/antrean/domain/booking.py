"""Appointments and the rules for taking a place in a slot."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from antrean.domain.errors import AntreanError
from antrean.domain.events import DomainEvent, EventKind, Scalar
from antrean.domain.fields import check_id, check_optional_id, clean_text, code_text
from antrean.domain.scheduling import ExceptionKind, ScheduleException, blocking_exception


class AppointmentStatus(StrEnum):
    """FHIR R4 Appointment.status values, so the FHIR adapter maps shapes, not meanings."""

    BOOKED = "booked"
    ARRIVED = "arrived"
    CHECKED_IN = "checked-in"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset(
    {AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN}
)


@dataclass(frozen=True, slots=True)
class BookingPolicy:
    time_zone: ZoneInfo
    horizon_days: int = 30
    cutoff_minutes: int = 60
    max_per_patient_clinic_day: int = 1

    def last_bookable_day(self, today: date) -> date:
        return today + timedelta(days=self.horizon_days)


@dataclass(frozen=True, slots=True)
class SlotView:
    """What a booking needs to know about a slot."""

    id: int
    facility_id: int
    doctor_id: int
    clinic_id: int
    day: date
    start_at: datetime
    end_at: datetime
    capacity: int
    booked: int
    active: bool
    clinic_is_open: bool
    # Whether any leave, holiday or changed hours of the facility covers the slot's day: only
    # then do the exceptions need reading.
    exceptions_that_day: bool = True


@dataclass(slots=True)
class Appointment:
    id: int
    facility_id: int
    code: str
    slot_id: int | None
    patient_id: int
    clinic_id: int
    doctor_id: int
    service_id: int | None
    day: date
    start_at: datetime
    end_at: datetime
    status: AppointmentStatus
    note: str
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


def new_appointment(
    slot: SlotView, patient_id: int, service_id: int | None, note: str, now: datetime
) -> Appointment:
    """A booking of one place in the slot, before it has its id and booking code."""
    return Appointment(
        id=0,
        facility_id=slot.facility_id,
        code="",
        slot_id=slot.id,
        patient_id=patient_id,
        clinic_id=slot.clinic_id,
        doctor_id=slot.doctor_id,
        service_id=service_id,
        day=slot.day,
        start_at=slot.start_at,
        end_at=slot.end_at,
        status=AppointmentStatus.BOOKED,
        note=note,
        cancel_reason=None,
        created_at=now,
        updated_at=now,
    )


def changed_at(appointment: Appointment, now: datetime) -> datetime:
    """When a change made `now` is stamped: always after the previous one, so each change
    has a `updated_at` of its own (its version) even when the clock has not moved on."""
    return max(now, appointment.updated_at + timedelta(microseconds=1))


def moved_to(appointment: Appointment, slot: SlotView, now: datetime) -> Appointment:
    """The appointment rescheduled into another slot."""
    return replace(
        appointment,
        slot_id=slot.id,
        doctor_id=slot.doctor_id,
        day=slot.day,
        start_at=slot.start_at,
        end_at=slot.end_at,
        updated_at=changed_at(appointment, now),
    )


def check_slot_bookable(
    slot: SlotView,
    *,
    now: datetime,
    policy: BookingPolicy,
    exceptions: list[ScheduleException],
) -> None:
    """Raise the first booking rule the slot breaks at `now`; the database decides capacity."""
    if not slot.active:
        raise AntreanError("slot_unavailable")
    if slot.start_at <= now:
        raise AntreanError("slot_in_past")
    today = now.astimezone(policy.time_zone).date()
    if slot.day > policy.last_bookable_day(today):
        raise AntreanError("outside_booking_window", horizon_days=policy.horizon_days)
    if slot.start_at - now < timedelta(minutes=policy.cutoff_minutes):
        raise AntreanError("booking_cutoff_passed", cutoff_minutes=policy.cutoff_minutes)
    if not slot.clinic_is_open:
        raise AntreanError("clinic_closed")
    blocker = blocking_exception(
        exceptions, day=slot.day, doctor_id=slot.doctor_id, clinic_id=slot.clinic_id
    )
    if blocker is not None:
        if blocker.kind is ExceptionKind.HOLIDAY:
            raise AntreanError("public_holiday", reason=blocker.reason or "-")
        raise AntreanError("doctor_on_leave")
    if slot.booked >= slot.capacity:
        raise AntreanError("slot_full")


HOLD_MINUTES = 5  # how long a hold keeps a place (FHIR `$hold`)
HOLDS_PER_PATIENT = 2  # holds a patient's account may have at once
HOLDS_PER_STAFF = 20  # and a member of staff's, who books for many


@dataclass(frozen=True, slots=True)
class SlotHold:
    """A place in a slot kept for an account for a few minutes, while its owner finishes
    booking; it takes the place as a booking does, so nobody else can take it meanwhile."""

    id: int
    facility_id: int
    slot_id: int
    account_id: int
    created_at: datetime
    expires_at: datetime


def new_hold(slot: SlotView, account_id: int, now: datetime) -> SlotHold:
    return SlotHold(
        0, slot.facility_id, slot.id, account_id, now, now + timedelta(minutes=HOLD_MINUTES)
    )


def check_can_change(appointment: Appointment) -> None:
    if not appointment.status.is_active:
        raise AntreanError("appointment_not_active", status=appointment.status.value)


NOTE_LENGTH = 500
REASON_LENGTH = 500
IDEMPOTENCY_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class BookingDraft:
    """A booking as asked for. A patient books for themselves (no `patient_id`); staff name
    the patient."""

    slot_id: int
    patient_id: int | None = None
    service_id: int | None = None
    note: str = ""

    def validated(self) -> BookingDraft:
        return BookingDraft(
            slot_id=check_id(self.slot_id, "slot_id"),
            patient_id=check_optional_id(self.patient_id, "patient_id"),
            service_id=check_optional_id(self.service_id, "service_id"),
            note=clean_text(
                self.note, "note", max_length=NOTE_LENGTH, required=False, multiline=True
            ),
        )

    def fingerprint(self) -> str:
        """What a retry with the same idempotency key must repeat exactly (SHA-256)."""
        canonical = json.dumps(
            {
                "slot_id": self.slot_id,
                "patient_id": self.patient_id,
                "service_id": self.service_id,
                "note": self.note,
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    return clean_text(key, "idempotency_key", max_length=IDEMPOTENCY_KEY_LENGTH)


def cancel_reason(reason: str) -> str:
    return clean_text(reason, "reason", max_length=REASON_LENGTH, multiline=True)


def booking_code(code: str) -> str:
    """A booking code as typed: case and surrounding spaces do not matter."""
    return code_text(code, "code", not_found="appointment_not_found").upper()


def appointment_event(
    kind: EventKind,
    appointment: Appointment,
    *,
    at: datetime,
    actor_user_id: int | None,
    **extra: Scalar,
) -> DomainEvent:
    """The event announcing an appointment's change: when and where it now is."""
    return DomainEvent(
        kind=kind,
        facility_id=appointment.facility_id,
        at=at,
        clinic_id=appointment.clinic_id,
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        actor_user_id=actor_user_id,
        data={
            "code": appointment.code,
            "status": appointment.status.value,
            "doctor_id": appointment.doctor_id,
            "slot_id": appointment.slot_id,
            "day": appointment.day.isoformat(),
            "start_at": appointment.start_at.isoformat(),
            **extra,
        },
    )

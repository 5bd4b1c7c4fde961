"""Pydantic models at the API edge. Never the tables, never the domain classes themselves."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from antrean.domain.booking import AppointmentStatus
from antrean.domain.fields import MAX_ID
from antrean.domain.patients import Sex
from antrean.domain.scheduling import ExceptionKind

T = TypeVar("T")
Weekday = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int


# --- catalog ---------------------------------------------------------------------------------


class HoursIn(Strict):
    weekday: int = Weekday
    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> HoursIn:
        if self.opens >= self.closes:
            raise ValueError("opens must be before closes")
        return self


class HoursOut(Out):
    weekday: int
    opens: time
    closes: time


class ClinicIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    queue_prefix: str = Field(min_length=1, max_length=3, pattern=r"^[A-Za-z]+$")
    is_open: bool = True
    hours: list[HoursIn] = Field(default_factory=list, max_length=50)


class ClinicPatch(Strict):
    """Only the fields sent change; at least one is needed."""

    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    queue_prefix: str = Field(  # type: ignore[assignment]
        default=None, min_length=1, max_length=3, pattern=r"^[A-Za-z]+$"
    )
    is_open: bool = None  # type: ignore[assignment]
    hours: list[HoursIn] = Field(default=None, max_length=50)  # type: ignore[assignment]


class ClinicOut(Out):
    id: int
    code: str
    name: str
    queue_prefix: str
    is_open: bool
    hours: list[HoursOut]


class ServiceIn(Strict):
    clinic_id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(min_length=1, max_length=200)
    duration_minutes: int = Field(ge=1, le=480)


class ServicePatch(Strict):
    """Only the fields sent change; at least one is needed."""

    clinic_id: int = Field(default=None, ge=1, le=MAX_ID)  # type: ignore[assignment]
    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    duration_minutes: int = Field(default=None, ge=1, le=480)  # type: ignore[assignment]
    active: bool = None  # type: ignore[assignment]


class ServiceOut(Out):
    id: int
    clinic_id: int = Field(ge=1, le=MAX_ID)
    name: str
    duration_minutes: int
    active: bool


class DoctorIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    specialty: str = Field(default="", max_length=200)


class DoctorPatch(Strict):
    """Only the fields sent change; at least one is needed."""

    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    specialty: str = Field(default=None, max_length=200)  # type: ignore[assignment]
    active: bool = None  # type: ignore[assignment]


class DoctorOut(Out):
    id: int
    name: str
    specialty: str
    active: bool


class ScheduleIn(Strict):
    doctor_id: int = Field(ge=1, le=MAX_ID)
    clinic_id: int = Field(ge=1, le=MAX_ID)
    weekday: int = Weekday
    start: time
    end: time
    slot_minutes: int = Field(ge=5, le=480)
    capacity: int = Field(ge=1, le=500, description="Patients per slot")


class ScheduleOut(Out):
    id: int
    doctor_id: int = Field(ge=1, le=MAX_ID)
    clinic_id: int = Field(ge=1, le=MAX_ID)
    weekday: int
    start: time
    end: time
    slot_minutes: int
    capacity: int


class SyncOut(Out):
    created: int
    removed: int
    deactivated: int
    reactivated: int
    resized: int
    conflicts: int = Field(description="Active bookings that no longer fit; see /booking-conflicts")


class ScheduleSaved(BaseModel):
    schedule: ScheduleOut
    slots: SyncOut


class ExceptionIn(Strict):
    kind: ExceptionKind
    date_from: date
    date_to: date
    doctor_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    clinic_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    start: time | None = None
    end: time | None = None
    reason: str = Field(default="", max_length=200)


class ExceptionOut(Out):
    id: int
    kind: ExceptionKind
    date_from: date
    date_to: date
    doctor_id: int | None
    clinic_id: int | None
    start: time | None
    end: time | None
    reason: str


class ExceptionSaved(BaseModel):
    exception: ExceptionOut
    slots: SyncOut


class SlotOut(Out):
    id: int
    doctor_id: int = Field(ge=1, le=MAX_ID)
    doctor_name: str
    clinic_id: int = Field(ge=1, le=MAX_ID)
    clinic_name: str
    day: date
    start_at: datetime
    end_at: datetime
    capacity: int
    booked: int
    available: int


class ConflictOut(Out):
    id: int
    appointment_id: int
    appointment_code: str
    slot_id: int = Field(ge=1, le=MAX_ID)
    reason: str
    detected_at: datetime


# --- patients ------------------------------------------------------------------------------


class PatientIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    birth_date: date
    sex: Sex = Sex.UNKNOWN
    mrn: str | None = Field(default=None, max_length=32, description="Issued when left out")
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)
    nik: str | None = Field(default=None, max_length=20)
    bpjs_number: str | None = Field(default=None, max_length=20)


class PatientPatch(Strict):
    """Only the fields sent change; at least one is needed. `null` clears an optional one."""

    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    birth_date: date = None  # type: ignore[assignment]
    sex: Sex = None  # type: ignore[assignment]
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)
    nik: str | None = Field(default=None, max_length=20)
    bpjs_number: str | None = Field(default=None, max_length=20)


class PatientOut(Out):
    id: int
    mrn: str
    name: str
    birth_date: date
    sex: Sex
    phone: str | None
    address: str | None
    nik: str | None
    bpjs_number: str | None


# --- appointments --------------------------------------------------------------------------


class AppointmentIn(Strict):
    slot_id: int = Field(ge=1, le=MAX_ID)
    patient_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Staff only; patients book for themselves"
    )
    service_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    note: str = Field(default="", max_length=500)


class CancelIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class RescheduleIn(Strict):
    slot_id: int = Field(ge=1, le=MAX_ID)


class AppointmentOut(Out):
    id: int
    code: str
    status: AppointmentStatus
    slot_id: int | None
    patient_id: int
    clinic_id: int = Field(ge=1, le=MAX_ID)
    doctor_id: int = Field(ge=1, le=MAX_ID)
    service_id: int | None
    day: date
    start_at: datetime
    end_at: datetime
    note: str
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


# --- identity ------------------------------------------------------------------------------


class RegisterIn(Strict):
    username: str = Field(min_length=3, max_length=120, pattern=r"^[A-Za-z0-9._@+-]+$")
    password: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    birth_date: date
    sex: Sex = Sex.UNKNOWN
    phone: str | None = Field(default=None, max_length=32)


class UserIn(Strict):
    username: str = Field(min_length=3, max_length=120, pattern=r"^[A-Za-z0-9._@+-]+$")
    password: str = Field(min_length=1, max_length=200)
    roles: list[Literal["patient", "operator", "doctor", "admin"]] = Field(min_length=1)
    full_name: str = Field(default="", max_length=200)
    doctor_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class UserPatchIn(Strict):
    """Only the fields sent change. `active: false` disables the account and signs it out."""

    roles: list[Literal["patient", "operator", "doctor", "admin"]] = Field(  # type: ignore[assignment]
        default=None, min_length=1
    )
    full_name: str = Field(default=None, max_length=200)  # type: ignore[assignment]
    doctor_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    active: bool = None  # type: ignore[assignment]


class PasswordResetIn(Strict):
    new_password: str = Field(min_length=1, max_length=200)


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class UserOut(Out):
    id: int
    username: str
    full_name: str
    roles: list[str]
    patient_id: int | None
    doctor_id: int | None
    active: bool

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        if isinstance(value, frozenset | set):
            return sorted(getattr(r, "value", r) for r in value)
        return value


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


# --- queue ---------------------------------------------------------------------------------


class WalkInIn(Strict):
    clinic_id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(min_length=1, max_length=200)
    birth_date: date
    mrn: str | None = Field(default=None, max_length=32, description="Matched when known")
    sex: Sex = Sex.UNKNOWN
    priority: Literal["normal", "priority", "emergency"] = "normal"
    priority_reason: str = Field(default="", max_length=200)


class TicketStatusOut(BaseModel):
    ticket: str = Field(description="The number called out and shown, e.g. A-007")
    clinic_id: int = Field(ge=1, le=MAX_ID)
    clinic_name: str
    state: str
    people_ahead: int
    estimated_call_at: datetime
    estimated_call_earliest: datetime
    estimated_call_latest: datetime
    status_code: str = Field(description="Open /api/v1/queue/status/{status_code} to follow it")


class TicketOut(Out):
    id: int
    label: str
    state: str
    priority: int
    priority_reason: str
    source: str
    patient_id: int
    issued_at: datetime


class CallNextIn(Strict):
    counter: str = Field(min_length=1, max_length=32, description="Counter or room, e.g. Loket 1")


class TransferIn(Strict):
    clinic_id: int = Field(ge=1, le=MAX_ID)


class OperatorTicketOut(Out):
    id: int
    label: str
    clinic_id: int = Field(ge=1, le=MAX_ID)
    state: str
    counter: str | None
    recalls: int
    patient_id: int


class CounterIn(Strict):
    name: str = Field(min_length=1, max_length=32, description="e.g. Loket 1, Ruang 2")


class CalledOut(BaseModel):
    ticket: str
    counter: str | None
    state: str


class BoardOut(BaseModel):
    """What a waiting-room display shows: numbers and counters, no names."""

    clinic_id: int
    clinic_name: str
    day: date
    calling: list[CalledOut] = Field(description="Called or being served, latest first")
    waiting: int
    next_up: list[str] = Field(description="The next numbers, in the order they will be called")
    last_event_id: int = Field(description="Go on from here with the clinic's event stream")


class StaffTicketOut(BaseModel):
    """A ticket as staff see it: with the patient, the wait and the place in line."""

    id: int
    label: str
    state: str
    priority: int
    priority_reason: str
    source: str
    counter: str | None
    recalls: int
    patient_id: int
    patient_name: str
    mrn: str
    issued_at: datetime
    waited_minutes: int
    position: int | None = Field(description="Place in line (1 = next) while waiting")

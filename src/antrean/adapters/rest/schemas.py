"""Pydantic models at the API edge. Never the tables, never the domain classes themselves."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from antrean.domain.fields import MAX_ID
from antrean.domain.scheduling import ExceptionKind

T = TypeVar("T")


def _no_offset(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a clinic's local time of day, without a UTC offset")
    return value


# A clinic's wall-clock time of day, without an offset ("08:00", "16:30:00"): an offset would
# shift its hours silently, so it is refused.
LocalTime = Annotated[
    time,
    AfterValidator(_no_offset),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "examples": ["08:00"],
        }
    ),
]
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
    opens: LocalTime
    closes: LocalTime


class HoursOut(Out):
    weekday: int
    opens: LocalTime
    closes: LocalTime


class ClinicIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    queue_prefix: str = Field(min_length=1, max_length=3, pattern=r"^[A-Za-z]+$")
    is_open: bool = True
    hours: list[HoursIn] = Field(default_factory=list, max_length=50)


class ClinicPatchIn(Strict):
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


class ServicePatchIn(Strict):
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


class DoctorPatchIn(Strict):
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
    start: LocalTime
    end: LocalTime
    slot_minutes: int = Field(ge=5, le=480)
    capacity: int = Field(ge=1, le=500, description="Patients per slot")


class ScheduleOut(Out):
    id: int
    doctor_id: int = Field(ge=1, le=MAX_ID)
    clinic_id: int = Field(ge=1, le=MAX_ID)
    weekday: int
    start: LocalTime
    end: LocalTime
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
    start: LocalTime | None = None
    end: LocalTime | None = None
    reason: str = Field(default="", max_length=200)


class ExceptionOut(Out):
    id: int
    kind: ExceptionKind
    date_from: date
    date_to: date
    doctor_id: int | None
    clinic_id: int | None
    start: LocalTime | None
    end: LocalTime | None
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

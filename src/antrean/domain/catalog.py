"""The catalog: clinics (poli) with their opening hours, the services they offer, and doctors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import time

from antrean.domain.errors import AntreanError
from antrean.domain.fields import (
    UNSET,
    Maybe,
    check_flag,
    check_id,
    check_range,
    clean_text,
    given,
    local_time,
)

NAME_LENGTH = 200
MAX_HOURS = 50  # opening windows per clinic
MAX_DURATION_MINUTES = 480
_CODE = re.compile(r"^[A-Z0-9_-]{1,32}$")
_PREFIX = re.compile(r"^[A-Z]{1,3}$")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    weekday: int  # 0 = Monday ... 6 = Sunday
    opens: time
    closes: time


@dataclass(slots=True)
class Clinic:
    id: int
    facility_id: int
    code: str
    name: str
    queue_prefix: str
    is_open: bool = True
    hours: list[OpeningHours] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Facility:
    """The clinic or hospital itself: shown on every page, ticket and confirmation."""

    id: int
    code: str
    name: str
    address: str
    phone: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class FacilityPatch:
    """A change of what the facility tells patients about itself."""

    name: Maybe[str] = UNSET
    address: Maybe[str] = UNSET
    phone: Maybe[str] = UNSET

    def apply(self, facility: Facility) -> Facility:
        if not any(given(v) for v in (self.name, self.address, self.phone)):
            raise AntreanError("nothing_to_change")
        changed = facility
        if given(self.name):
            changed = replace(changed, name=clean_text(self.name, "name", max_length=NAME_LENGTH))
        if given(self.address):
            address = clean_text(
                self.address, "address", max_length=500, required=False, multiline=True
            )
            changed = replace(changed, address=address)
        if given(self.phone):
            phone = clean_text(self.phone, "phone", max_length=40, required=False)
            changed = replace(changed, phone=phone)
        return changed


@dataclass(frozen=True, slots=True)
class Service:
    """Something a clinic offers, with its typical duration."""

    id: int
    clinic_id: int
    name: str
    duration_minutes: int
    active: bool


@dataclass(frozen=True, slots=True)
class Doctor:
    id: int
    name: str
    specialty: str
    active: bool


def check_hours(hours: tuple[OpeningHours, ...] | list[OpeningHours]) -> tuple[OpeningHours, ...]:
    """Opening windows: a weekday 0-6, local times, opening before closing."""
    if not isinstance(hours, tuple | list):
        raise AntreanError("field_invalid", field="hours")
    if len(hours) > MAX_HOURS:
        raise AntreanError("field_out_of_range", field="hours", minimum=0, maximum=MAX_HOURS)
    checked = []
    for window in hours:
        if not isinstance(window, OpeningHours):
            raise AntreanError("field_invalid", field="hours")
        check_range(window.weekday, "weekday", 0, 6)
        opens, closes = local_time(window.opens, "opens"), local_time(window.closes, "closes")
        if opens >= closes:
            raise AntreanError("invalid_time_range")
        checked.append(window)
    return tuple(checked)


def clinic_code(code: str) -> str:
    text = code.strip().upper() if isinstance(code, str) else ""
    if not _CODE.match(text):
        raise AntreanError("invalid_clinic_code", field="code")
    return text


def queue_prefix(prefix: str) -> str:
    text = prefix.strip().upper() if isinstance(prefix, str) else ""
    if not _PREFIX.match(text):
        raise AntreanError("invalid_queue_prefix", field="queue_prefix")
    return text


@dataclass(frozen=True, slots=True)
class ClinicDraft:
    code: str
    name: str
    queue_prefix: str
    is_open: bool = True
    hours: tuple[OpeningHours, ...] = ()

    def validated(self) -> ClinicDraft:
        return ClinicDraft(
            code=clinic_code(self.code),
            name=clean_text(self.name, "name", max_length=NAME_LENGTH),
            queue_prefix=queue_prefix(self.queue_prefix),
            is_open=check_flag(self.is_open, "is_open"),
            hours=check_hours(self.hours),
        )


@dataclass(frozen=True, slots=True)
class ClinicPatch:
    """A partial change of a clinic: fields left UNSET stay as they are. New hours regenerate
    the clinic's slots."""

    name: Maybe[str] = UNSET
    queue_prefix: Maybe[str] = UNSET
    is_open: Maybe[bool] = UNSET
    hours: Maybe[tuple[OpeningHours, ...]] = UNSET

    def apply(self, clinic: Clinic) -> Clinic:
        """The clinic with this change, every given value checked; `nothing_to_change` when
        no field is given."""
        if not any(given(v) for v in (self.name, self.queue_prefix, self.is_open, self.hours)):
            raise AntreanError("nothing_to_change")
        changed = replace(clinic, hours=list(clinic.hours))
        if given(self.name):
            changed.name = clean_text(self.name, "name", max_length=NAME_LENGTH)
        if given(self.queue_prefix):
            changed.queue_prefix = queue_prefix(self.queue_prefix)
        if given(self.is_open):
            changed.is_open = check_flag(self.is_open, "is_open")
        if given(self.hours):
            changed.hours = list(check_hours(self.hours))
        return changed


def _duration(minutes: int) -> int:
    return check_range(minutes, "duration_minutes", 1, MAX_DURATION_MINUTES)


@dataclass(frozen=True, slots=True)
class ServiceDraft:
    clinic_id: int
    name: str
    duration_minutes: int

    def validated(self) -> ServiceDraft:
        return ServiceDraft(
            clinic_id=check_id(self.clinic_id, "clinic_id"),
            name=clean_text(self.name, "name", max_length=NAME_LENGTH),
            duration_minutes=_duration(self.duration_minutes),
        )


@dataclass(frozen=True, slots=True)
class ServicePatch:
    clinic_id: Maybe[int] = UNSET
    name: Maybe[str] = UNSET
    duration_minutes: Maybe[int] = UNSET
    active: Maybe[bool] = UNSET

    def apply(self, service: Service) -> Service:
        values = (self.clinic_id, self.name, self.duration_minutes, self.active)
        if not any(given(v) for v in values):
            raise AntreanError("nothing_to_change")
        changed = service
        if given(self.clinic_id):
            changed = replace(changed, clinic_id=check_id(self.clinic_id, "clinic_id"))
        if given(self.name):
            changed = replace(changed, name=clean_text(self.name, "name", max_length=NAME_LENGTH))
        if given(self.duration_minutes):
            changed = replace(changed, duration_minutes=_duration(self.duration_minutes))
        if given(self.active):
            changed = replace(changed, active=check_flag(self.active, "active"))
        return changed


@dataclass(frozen=True, slots=True)
class DoctorDraft:
    name: str
    specialty: str = ""

    def validated(self) -> DoctorDraft:
        return DoctorDraft(
            name=clean_text(self.name, "name", max_length=NAME_LENGTH),
            specialty=clean_text(
                self.specialty, "specialty", max_length=NAME_LENGTH, required=False
            ),
        )


@dataclass(frozen=True, slots=True)
class DoctorPatch:
    name: Maybe[str] = UNSET
    specialty: Maybe[str] = UNSET
    active: Maybe[bool] = UNSET

    def apply(self, doctor: Doctor) -> Doctor:
        if not any(given(v) for v in (self.name, self.specialty, self.active)):
            raise AntreanError("nothing_to_change")
        changed = doctor
        if given(self.name):
            changed = replace(changed, name=clean_text(self.name, "name", max_length=NAME_LENGTH))
        if given(self.specialty):
            specialty = clean_text(
                self.specialty, "specialty", max_length=NAME_LENGTH, required=False
            )
            changed = replace(changed, specialty=specialty)
        if given(self.active):
            changed = replace(changed, active=check_flag(self.active, "active"))
        return changed


def counter_name(name: str) -> str:
    """A counter (loket) or room name, as called out: "Loket 1", "Ruang 2"."""
    return clean_text(name, "counter", max_length=32)

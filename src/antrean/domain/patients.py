"""Patients: protected health information, so every field here is handled with care."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from antrean.domain.errors import AntreanError


class Sex(StrEnum):
    """FHIR administrative gender."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class Patient:
    id: int
    facility_id: int
    mrn: str
    name: str
    birth_date: date
    sex: Sex
    phone: str | None
    address: str | None
    nik: str | None
    bpjs_number: str | None
    created_at: datetime


def validate_nik(nik: str | None) -> str | None:
    """NIK (Nomor Induk Kependudukan): 16 digits."""
    if nik is None or nik == "":
        return None
    cleaned = nik.replace(" ", "").replace(".", "")
    if len(cleaned) != 16 or not cleaned.isdigit():
        raise AntreanError("invalid_nik")
    return cleaned


def validate_birth_date(birth_date: date, today: date) -> date:
    if birth_date > today or birth_date.year < today.year - 130:
        raise AntreanError("invalid_birth_date")
    return birth_date


def format_mrn(number: int) -> str:
    """Medical record numbers in the common Indonesian 'xx-xx-xx' form, widening past a million."""
    digits = f"{number:06d}"
    return "-".join(
        digits[max(i - 2, 0) : i] for i in range(len(digits) % 2 or 2, len(digits) + 1, 2)
    )

"""Pydantic models at the API edge for patients, appointments and accounts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from antrean.adapters.rest.schemas import Out, Strict
from antrean.domain.booking import AppointmentStatus
from antrean.domain.fields import MAX_ID
from antrean.domain.patients import Sex

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
    email: str | None = Field(default=None, max_length=254)
    language: Literal["id", "en"] | None = Field(
        default=None, description="The language of the messages the patient gets"
    )


class PatientPatchIn(Strict):
    """Only the fields sent change; at least one is needed. `null` clears an optional one."""

    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    birth_date: date = None  # type: ignore[assignment]
    sex: Sex = None  # type: ignore[assignment]
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)
    nik: str | None = Field(default=None, max_length=20)
    bpjs_number: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    language: Literal["id", "en"] | None = None


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
    email: str | None
    language: str | None


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
    phone: str | None = Field(default=None, max_length=32, description="A mobile number")
    email: str | None = Field(default=None, max_length=254)
    language: Literal["id", "en"] | None = Field(
        default=None, description="The language of the messages the patient gets"
    )


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


class TwoFactorOut(Out):
    on: bool
    recovery_codes_left: int


class TwoFactorSetupOut(Out):
    secret: str = Field(description="Base32, for typing in when the QR code cannot be read")
    uri: str = Field(description="The otpauth:// address to show as a QR code")


class CodeIn(Strict):
    code: str = Field(min_length=1, max_length=40)


class RecoveryCodesOut(Out):
    recovery_codes: list[str] = Field(description="Shown once: each signs in once without the app")


class TwoFactorOffIn(Strict):
    password: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=40, description="The app's code, or a recovery code")


class LockedOut(Out):
    username: str
    locked_until: datetime


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

"""Patients: protected health information, so every field here is handled with care."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from antrean.domain.errors import AntreanError
from antrean.domain.fields import (
    UNSET,
    Maybe,
    clean_optional_text,
    clean_text,
    given,
    is_digits,
)

NAME_LENGTH = 200
MRN_LENGTH = 32
ADDRESS_LENGTH = 500
BPJS_LENGTH = 20
PHONE_TEXT_LENGTH = 32


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
    email: str | None = None
    language: str | None = None  # of the messages the patient gets: "id" or "en"


def validate_nik(nik: str | None) -> str | None:
    """NIK (Nomor Induk Kependudukan): 16 digits."""
    if nik is None or nik == "":
        return None
    if not isinstance(nik, str):
        raise AntreanError("invalid_nik", field="nik")
    cleaned = nik.replace(" ", "").replace(".", "")
    if len(cleaned) != 16 or not is_digits(cleaned):
        raise AntreanError("invalid_nik", field="nik")
    return cleaned


def validate_birth_date(birth_date: date, today: date) -> date:
    if not isinstance(birth_date, date) or isinstance(birth_date, datetime):
        raise AntreanError("invalid_birth_date", field="birth_date")
    if birth_date > today or birth_date.year < today.year - 130:
        raise AntreanError("invalid_birth_date", field="birth_date")
    return birth_date


def format_mrn(number: int) -> str:
    """Medical record numbers in the common Indonesian 'xx-xx-xx' form, widening past a million."""
    digits = f"{number:06d}"
    return "-".join(
        digits[max(i - 2, 0) : i] for i in range(len(digits) % 2 or 2, len(digits) + 1, 2)
    )


def patient_name(name: str) -> str:
    return clean_text(name, "name", max_length=NAME_LENGTH)


def patient_mrn(mrn: str | None) -> str | None:
    """A medical record number as given (matched or stored); None or blank: none given."""
    return clean_optional_text(mrn, "mrn", max_length=MRN_LENGTH)


def patient_sex(sex: Sex | str) -> Sex:
    try:
        return Sex(sex)
    except ValueError:
        raise AntreanError("field_invalid", field="sex") from None


def bpjs_number(value: str | None) -> str | None:
    cleaned = clean_optional_text(value, "bpjs_number", max_length=BPJS_LENGTH)
    if cleaned is not None and not is_digits(cleaned.replace(" ", "")):
        raise AntreanError("field_invalid", field="bpjs_number")
    return cleaned.replace(" ", "") if cleaned else None


_EMAIL = re.compile(
    r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
EMAIL_LENGTH = 254


def email_address(value: str | None) -> str | None:
    """An e-mail address: one @, a domain with a dot, no spaces; lower-cased domain."""
    cleaned = clean_optional_text(value, "email", max_length=EMAIL_LENGTH)
    if cleaned is None:
        return None
    if not _EMAIL.fullmatch(cleaned):
        raise AntreanError("invalid_email", field="email")
    local, _, domain = cleaned.rpartition("@")
    return f"{local}@{domain.lower()}"


def message_language(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in ("id", "en"):
        raise AntreanError("invalid_language", field="language")
    return value


def phone_text(value: str | None) -> str | None:
    """A phone number as typed, before it is parsed: short, no control characters."""
    return clean_optional_text(value, "phone", max_length=PHONE_TEXT_LENGTH)


@dataclass(frozen=True, slots=True)
class PatientDraft:
    """A new patient record as given. The phone is parsed to E.164 by the service."""

    name: str
    birth_date: date
    sex: Sex = Sex.UNKNOWN
    mrn: str | None = None
    phone: str | None = None
    address: str | None = None
    nik: str | None = None
    bpjs_number: str | None = None
    email: str | None = None
    language: str | None = None

    def validated(self, today: date) -> PatientDraft:
        return PatientDraft(
            name=patient_name(self.name),
            birth_date=validate_birth_date(self.birth_date, today),
            sex=patient_sex(self.sex),
            mrn=patient_mrn(self.mrn),
            phone=phone_text(self.phone),
            address=clean_optional_text(
                self.address, "address", max_length=ADDRESS_LENGTH, multiline=True
            ),
            nik=validate_nik(self.nik),
            bpjs_number=bpjs_number(self.bpjs_number),
            email=email_address(self.email),
            language=message_language(self.language),
        )


# What a patient may change in their own record; staff may change every field but the MRN.
SELF_SERVICE_FIELDS = frozenset({"phone", "address", "email", "language"})


@dataclass(frozen=True, slots=True)
class PatientPatch:
    """A partial change of a patient record: UNSET fields stay; None clears an optional one.
    The medical record number never changes once issued (`mrn` given is refused)."""

    name: Maybe[str] = UNSET
    birth_date: Maybe[date] = UNSET
    sex: Maybe[Sex] = UNSET
    phone: Maybe[str | None] = UNSET
    address: Maybe[str | None] = UNSET
    nik: Maybe[str | None] = UNSET
    bpjs_number: Maybe[str | None] = UNSET
    mrn: Maybe[str] = UNSET
    email: Maybe[str | None] = UNSET
    language: Maybe[str | None] = UNSET

    def fields_given(self) -> frozenset[str]:
        names = (
            "name",
            "birth_date",
            "sex",
            "phone",
            "address",
            "nik",
            "bpjs_number",
            "mrn",
            "email",
            "language",
        )
        return frozenset(n for n in names if given(getattr(self, n)))

    def apply(self, patient: Patient, today: date) -> Patient:
        """The record with this change; the phone must already be in E.164."""
        if given(self.mrn):
            raise AntreanError("mrn_immutable", field="mrn")
        if not self.fields_given():
            raise AntreanError("nothing_to_change")
        p = replace(patient)
        if given(self.name):
            p.name = patient_name(self.name)
        if given(self.birth_date):
            p.birth_date = validate_birth_date(self.birth_date, today)
        if given(self.sex):
            p.sex = patient_sex(self.sex)
        if given(self.phone):
            p.phone = self.phone
        if given(self.address):
            p.address = clean_optional_text(
                self.address, "address", max_length=ADDRESS_LENGTH, multiline=True
            )
        if given(self.nik):
            p.nik = validate_nik(self.nik)
        if given(self.bpjs_number):
            p.bpjs_number = bpjs_number(self.bpjs_number)
        if given(self.email):
            p.email = email_address(self.email)
        if given(self.language):
            p.language = message_language(self.language)
        return p


# How many letters of a word a name search compares: a longer word matches on its beginning.
NAME_WORD_LETTERS = 16
_NAME_JOINERS = str.maketrans({"'": None, "’": None, "`": None, ".": " ", "-": " ", ",": " "})


def name_words(text: str) -> tuple[str, ...]:
    """The words of a name as a search compares them: lower case, accents and apostrophes gone
    (`Nur'aini` is `nuraini`), hyphens and full stops splitting words, each word cut to
    `NAME_WORD_LETTERS` letters."""
    plain = unicodedata.normalize("NFKD", text.translate(_NAME_JOINERS))
    kept = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    words = ("".join(c for c in word if c.isalnum()) for word in kept.split())
    return tuple(word[:NAME_WORD_LETTERS] for word in words if word)


def name_matches(query: str, name: str) -> bool:
    """Whether every word of the query begins a word of the name (`budi san` finds
    `Budi Santoso`, `Santoso Budiman` too; `udi` finds neither)."""
    words = name_words(name)
    wanted = name_words(query)
    return bool(wanted) and all(any(w.startswith(q) for w in words) for q in wanted)

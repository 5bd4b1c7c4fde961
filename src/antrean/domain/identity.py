"""Who is acting, and what each role may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from antrean.domain.errors import AntreanError

MIN_PASSWORD_LENGTH = 8


class Role(StrEnum):
    PATIENT = "patient"
    OPERATOR = "operator"
    DOCTOR = "doctor"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.OPERATOR, Role.DOCTOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind a request, as proven by their token."""

    user_id: int
    facility_id: int
    roles: frozenset[Role]
    patient_id: int | None = None
    doctor_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    def has_any(self, *roles: Role) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles & set(roles))

    def require(self, *roles: Role) -> None:
        if not self.has_any(*roles):
            raise AntreanError("forbidden")

    def require_patient_access(self, patient_id: int) -> None:
        """Staff see every patient; a patient sees only their own record."""
        if self.is_staff:
            return
        if self.patient_id is None or self.patient_id != patient_id:
            raise AntreanError("forbidden")


@dataclass(slots=True)
class User:
    id: int
    facility_id: int
    username: str
    full_name: str
    roles: frozenset[Role]
    patient_id: int | None
    doctor_id: int | None
    active: bool
    password_hash: str

    def actor(self) -> Actor:
        return Actor(
            user_id=self.id,
            facility_id=self.facility_id,
            roles=self.roles,
            patient_id=self.patient_id,
            doctor_id=self.doctor_id,
        )


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AntreanError("weak_password", min_length=MIN_PASSWORD_LENGTH)


def parse_roles(text: str) -> frozenset[Role]:
    return frozenset(Role(part) for part in text.split() if part)


def format_roles(roles: frozenset[Role]) -> str:
    return " ".join(sorted(r.value for r in roles))

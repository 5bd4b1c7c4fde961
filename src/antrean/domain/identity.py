"""Who is acting, and what each role may do."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from antrean.domain.errors import AntreanError
from antrean.domain.fields import check_optional_id, clean_text

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200
_USERNAME = re.compile(r"^[a-z0-9._@+-]{3,120}$")


class Role(StrEnum):
    PATIENT = "patient"
    OPERATOR = "operator"
    DOCTOR = "doctor"
    ADMIN = "admin"
    # Not given to people: a kiosk or legacy device (walk-ins, public reads) and the
    # product's own jobs (day close, slot horizon, the command line).
    KIOSK = "kiosk"
    SYSTEM = "system"


STAFF_ROLES = frozenset({Role.OPERATOR, Role.DOCTOR, Role.ADMIN})
ACCOUNT_ROLES = frozenset({Role.PATIENT, Role.OPERATOR, Role.DOCTOR, Role.ADMIN})
# Admins and the system may do everything.
SUPER_ROLES = frozenset({Role.ADMIN, Role.SYSTEM})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who a use case runs for: a signed-in person, a device, the system, or anyone."""

    user_id: int  # 0 when no person is behind it
    facility_id: int
    roles: frozenset[Role]
    patient_id: int | None = None
    doctor_id: int | None = None
    device: str | None = None  # the kiosk or legacy client acting

    @classmethod
    def system(cls, facility_id: int) -> Actor:
        """The product itself: daily jobs, start-up, the command line."""
        return cls(user_id=0, facility_id=facility_id, roles=frozenset({Role.SYSTEM}))

    @classmethod
    def kiosk(cls, facility_id: int, device: str) -> Actor:
        """A ticket kiosk or legacy front-desk client of one facility, named by its device."""
        return cls(user_id=0, facility_id=facility_id, roles=frozenset({Role.KIOSK}), device=device)

    @classmethod
    def anonymous(cls, facility_id: int) -> Actor:
        """Someone not signed in, reading what is public in a facility."""
        return cls(user_id=0, facility_id=facility_id, roles=frozenset())

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & (STAFF_ROLES | SUPER_ROLES))

    @property
    def account_id(self) -> int | None:
        """The signed-in user's id, or None for a device, the system or anyone."""
        return self.user_id or None

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(SUPER_ROLES) or not self.roles.isdisjoint(roles)

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
    if not isinstance(password, str):
        raise AntreanError("field_invalid", field="password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AntreanError("weak_password", field="password", min_length=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AntreanError("field_too_long", field="password", max_length=MAX_PASSWORD_LENGTH)
    clean_text(password, "password", max_length=MAX_PASSWORD_LENGTH)


def normalize_username(username: str) -> str:
    """Usernames are compared without case: stored lower-case, 3 to 120 characters."""
    if not isinstance(username, str):
        raise AntreanError("invalid_username", field="username")
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise AntreanError("invalid_username", field="username")
    return name


def account_roles(roles: Iterable[Role | str]) -> frozenset[Role]:
    """The roles a person's account may hold: at least one, none of the device roles."""
    if isinstance(roles, str) or not isinstance(roles, frozenset | set | list | tuple):
        raise AntreanError("field_invalid", field="roles")
    parsed: set[Role] = set()
    for role in roles:
        try:
            value = Role(role)
        except ValueError:
            raise AntreanError("invalid_role", role=str(role)[:40], field="roles") from None
        if value not in ACCOUNT_ROLES:
            raise AntreanError("invalid_role", role=value.value, field="roles")
        parsed.add(value)
    if not parsed:
        raise AntreanError("field_required", field="roles")
    return frozenset(parsed)


@dataclass(frozen=True, slots=True)
class StaffAccountDraft:
    username: str
    password: str
    roles: frozenset[Role]
    full_name: str = ""
    doctor_id: int | None = None

    def validated(self) -> StaffAccountDraft:
        check_password_strength(self.password)
        return StaffAccountDraft(
            username=normalize_username(self.username),
            password=self.password,
            roles=account_roles(self.roles),
            full_name=clean_text(self.full_name, "full_name", max_length=200, required=False),
            doctor_id=check_optional_id(self.doctor_id, "doctor_id"),
        )


def parse_roles(text: str) -> frozenset[Role]:
    """Roles as stored (space-separated)."""
    return frozenset(Role(part) for part in text.split() if part)


def format_roles(roles: frozenset[Role]) -> str:
    return " ".join(sorted(r.value for r in roles))


# --- Failed sign-ins -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Throttle:
    """Failed sign-ins counted under one key (an account name, or a client address)."""

    failures: int
    last_failure_at: datetime
    locked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SignInRules:
    """How failed sign-ins slow the next ones down.

    Per account name (known or not, so a lock-out tells nothing about which names exist): the
    first `free_failures` cost nothing; each one after makes the next try wait twice as long
    as the last (1 s, 2 s, 4 s ... up to `max_wait`); at `lock_after` the account is locked until
    staff unlock it or `lock_minutes` pass. Per client address the same waits start after
    `address_free_failures`, for guesses spread over many names; an address is never locked.
    Failures `forget_after` apart start the count again."""

    free_failures: int = 5
    lock_after: int = 10
    lock_minutes: int = 60
    address_free_failures: int = 20
    max_wait: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(minutes=15)

    def refusal(
        self, throttle: Throttle | None, now: datetime, *, account: bool
    ) -> AntreanError | None:
        """Why a sign-in under this key may not be tried now, or None."""
        if throttle is None:
            return None
        if throttle.locked_at is not None:
            until = throttle.locked_at + timedelta(minutes=self.lock_minutes)
            if now < until:
                return AntreanError("account_locked", retry_after=_seconds(until - now))
            return None  # the lock ran out
        if now - throttle.last_failure_at >= self.forget_after:
            return None
        free = self.free_failures if account else self.address_free_failures
        if throttle.failures < free:
            return None
        wait = min(timedelta(seconds=2 ** min(throttle.failures - free, 30)), self.max_wait)
        ready = throttle.last_failure_at + wait
        if now < ready:
            return AntreanError("too_many_attempts", retry_after=_seconds(ready - now))
        return None

    def after_failure(self, throttle: Throttle | None, now: datetime, *, account: bool) -> Throttle:
        if throttle is None or (
            throttle.locked_at is None and now - throttle.last_failure_at >= self.forget_after
        ):
            failures = 1
        else:
            failures = throttle.failures + 1
        locked = throttle.locked_at if throttle is not None else None
        if account and locked is None and failures >= self.lock_after:
            locked = now
        elif locked is not None and now >= locked + timedelta(minutes=self.lock_minutes):
            locked, failures = None, 1  # the lock ran out: counting starts again
        return Throttle(failures=failures, last_failure_at=now, locked_at=locked)


def _seconds(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds()))


def account_key(username: str) -> str:
    return f"account:{username}"


def address_key(address: str | None) -> str | None:
    """The key for a client address: an IPv6 address by its /64 (one home or office gets a
    whole /64, so single addresses would be free to rotate); None when it is unknown."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"address:{ip.ipv4_mapped}"
        return f"address:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"address:{ip}"


# --- Single sign-on for staff --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """A staff member as the organisation's OpenID provider vouched for them, in a signed ID
    token this server checked: who (issuer and subject, which never change), the name they go
    by, and the groups or roles the provider lists for them."""

    issuer: str
    subject: str
    username: str
    full_name: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SingleSignOnRules:
    """Which provider groups give which staff roles here, and whether a first sign-in makes
    the account (when not, only people who signed in before keep signing in). Roles follow
    the provider at every sign-in: a group taken away there takes the role away here. Single
    sign-on never makes a patient account."""

    role_map: tuple[tuple[str, Role], ...] = ()
    create_accounts: bool = True

    def roles_for(self, groups: Iterable[str]) -> frozenset[Role]:
        held = set(groups)
        return frozenset(role for group, role in self.role_map if group in held)


def parse_role_map(text: str) -> tuple[tuple[str, Role], ...]:
    """`group=role` pairs separated by commas, e.g. `clinic-admins=admin, front-desk=operator`;
    a group may give several roles, and several groups one role. Roles are staff roles only."""
    pairs: list[tuple[str, Role]] = []
    for entry in text.split(","):
        if not entry.strip():
            continue
        group, sep, role = entry.rpartition("=")
        group, role = group.strip(), role.strip().lower()
        if not sep or not group:
            raise ValueError(f"a role map entry is group=role: {entry.strip()!r}")
        if role not in {r.value for r in STAFF_ROLES}:
            raise ValueError(
                f"single sign-on gives staff roles only (admin, operator, doctor): {role!r}"
            )
        pairs.append((group, Role(role)))
    return tuple(dict.fromkeys(pairs))

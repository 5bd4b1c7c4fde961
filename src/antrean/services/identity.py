"""Use cases for users: accounts, passwords, access and refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from antrean.domain.booking import BookingPolicy
from antrean.domain.common import Clock, SystemClock
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role, User, check_password_strength, parse_roles
from antrean.domain.patients import Sex
from antrean.services.patients import new_patient
from antrean.services.ports import UniqueViolation, UnitOfWork

_hasher = PasswordHasher()
# Checked when the user does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds
    token_type: str = "bearer"


@dataclass(frozen=True)
class TokenService:
    """Signs short-lived access tokens (JWT, HS256) and checks them without a database query."""

    secret: str
    clock: Clock = field(default_factory=SystemClock)
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=14)
    issuer: str = "antrean"
    # Tokens whose signature has been checked, with their expiry: a busy operator's console
    # sends the same token for 15 minutes, and checking an HMAC and parsing JSON each time is a
    # tenth of a walk-in's work. Bounded: emptied when full.
    verified: dict[str, tuple[Actor, int]] = field(default_factory=dict, compare=False)
    verified_limit: int = 10_000

    def actor(self, token: str) -> Actor:
        """The caller a valid, unexpired access token stands for; `invalid_token` otherwise."""
        found = self.verified.get(token)
        if found is None:
            found = self._decode(token)
            if len(self.verified) >= self.verified_limit:
                self.verified.clear()
            self.verified[token] = found
        actor, expires = found
        # Expiry is checked against the injected clock, so tests can move time.
        if expires <= int(self.clock.now().timestamp()):
            raise AntreanError("invalid_token")
        return actor

    def access_token(self, user: User, now_ts: int) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user.id),
            "fac": user.facility_id,
            "roles": sorted(r.value for r in user.roles),
            "iat": now_ts,
            "exp": now_ts + int(self.access_ttl.total_seconds()),
        }
        if user.patient_id is not None:
            claims["pid"] = user.patient_id
        if user.doctor_id is not None:
            claims["did"] = user.doctor_id
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def _decode(self, token: str) -> tuple[Actor, int]:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                issuer=self.issuer,
                options={
                    "require": ["exp", "sub", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
            actor = Actor(
                user_id=int(claims["sub"]),
                facility_id=int(claims["fac"]),
                roles=frozenset(Role(r) for r in claims.get("roles", [])),
                patient_id=claims.get("pid"),
                doctor_id=claims.get("did"),
            )
            return actor, int(claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise AntreanError("invalid_token") from None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue(uow: UnitOfWork, tokens: TokenService, user: User) -> TokenPair:
    now = uow.clock.now()
    refresh = secrets.token_urlsafe(32)
    uow.users.add_refresh_token(
        user.facility_id, user.id, _digest(refresh), now + tokens.refresh_ttl, now
    )
    return TokenPair(
        access_token=tokens.access_token(user, int(now.timestamp())),
        refresh_token=refresh,
        expires_in=int(tokens.access_ttl.total_seconds()),
    )


def login(uow: UnitOfWork, *, tokens: TokenService, username: str, password: str) -> TokenPair:
    with uow(write=True):
        user = uow.users.get_by_username(username.strip().lower())
        valid = _verify(user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not valid or not user.active:
            raise AntreanError("invalid_credentials")
        pair = _issue(uow, tokens, user)
        uow.commit()
    return pair


def refresh_session(uow: UnitOfWork, *, tokens: TokenService, refresh_token: str) -> TokenPair:
    """Trade a refresh token for a new pair. Each refresh token works once (rotation)."""
    with uow(write=True):
        row = uow.users.get_refresh_token(_digest(refresh_token))
        now = uow.clock.now()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise AntreanError("invalid_token")
        user = uow.users.get(row.user_id)
        if user is None or not user.active or not uow.users.revoke_refresh_token(row.id, now):
            raise AntreanError("invalid_token")
        pair = _issue(uow, tokens, user)
        uow.commit()
    return pair


def logout(uow: UnitOfWork, *, refresh_token: str) -> None:
    with uow(write=True):
        row = uow.users.get_refresh_token(_digest(refresh_token))
        if row is not None:
            uow.users.revoke_refresh_token(row.id, uow.clock.now())
        uow.commit()


def _new_user(
    uow: UnitOfWork,
    *,
    facility_id: int,
    username: str,
    password: str,
    roles: frozenset[Role],
    full_name: str,
    patient_id: int | None = None,
    doctor_id: int | None = None,
) -> User:
    check_password_strength(password)
    user = User(
        id=0,
        facility_id=facility_id,
        username=username.strip().lower(),
        full_name=full_name,
        roles=roles,
        patient_id=patient_id,
        doctor_id=doctor_id,
        active=True,
        password_hash=hash_password(password),
    )
    try:
        user.id = uow.users.add(user, uow.clock.now())
    except UniqueViolation:
        raise AntreanError("username_taken") from None
    return user


def create_user(
    uow: UnitOfWork,
    *,
    actor: Actor | None,
    facility_id: int,
    username: str,
    password: str,
    roles: str,
    full_name: str = "",
    doctor_id: int | None = None,
) -> User:
    """Create a staff account. `actor` None is the command line (`antrean create-admin`)."""
    if actor is not None:
        actor.require(Role.ADMIN)
    with uow(write=True):
        user = _new_user(
            uow,
            facility_id=facility_id,
            username=username,
            password=password,
            roles=parse_roles(roles),
            full_name=full_name,
            doctor_id=doctor_id,
        )
        uow.commit()
    return user


def register_account(
    uow: UnitOfWork,
    *,
    facility_id: int,
    policy: BookingPolicy,
    username: str,
    password: str,
    name: str,
    birth_date: date,
    sex: Sex = Sex.UNKNOWN,
    phone: str | None = None,
) -> User:
    """A patient signs up: a patient record and a login, in one transaction."""
    check_password_strength(password)
    with uow(write=True):
        if uow.users.get_by_username(username.strip().lower()) is not None:
            raise AntreanError("username_taken")
        patient = new_patient(
            uow,
            facility_id=facility_id,
            policy=policy,
            name=name,
            birth_date=birth_date,
            sex=sex,
            phone=phone,
        )
        user = _new_user(
            uow,
            facility_id=facility_id,
            username=username,
            password=password,
            roles=frozenset({Role.PATIENT}),
            full_name=patient.name,
            patient_id=patient.id,
        )
        uow.commit()
    return user


def get_user(uow: UnitOfWork, *, actor: Actor) -> User:
    with uow():
        user = uow.users.get(actor.user_id)
    if user is None:
        raise AntreanError("invalid_token")
    return user

"""Two-step sign-in: a code from an authenticator app (TOTP) after the password.

Anyone with an account may turn it on; staff are whom it is for. Turning it on is two steps,
so a mistyped secret cannot lock anyone out: `start_two_factor` gives a secret (and the
`otpauth://` address a QR code carries), `confirm_two_factor` takes the first code the app
shows and hands out ten recovery codes, shown once and stored only as digests. Each code works
once: the time step of the last one used is kept. Sign-in checks the second step in
`identity.login`."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role, User
from antrean.services.access import SIGNED_IN, allow
from antrean.services.ports import ENDED, UnitOfWork
from antrean.services.providers import OneTimeCodes, PasswordHasher

RECOVERY_CODES = 10
ISSUER = "antrean"


@dataclass(frozen=True, slots=True)
class TwoFactorSetup:
    secret: str  # to type in when the QR code cannot be read
    uri: str  # otpauth://totp/...: the QR code's content


@dataclass(frozen=True, slots=True)
class TwoFactorState:
    on: bool
    recovery_codes_left: int


def recovery_digest(code: str) -> str:
    """Recovery codes are compared by the SHA-256 of their letters and digits, lower case:
    `ab12c-d34ef`, `AB12CD34EF` and `ab12c d34ef` are the same code."""
    plain = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(plain.encode()).hexdigest()


def _own_user(uow: UnitOfWork, actor: Actor) -> User:
    user = uow.users.get(actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise AntreanError("invalid_token")
    return user


@allow(*SIGNED_IN)
def two_factor_state(uow: UnitOfWork, *, actor: Actor) -> TwoFactorState:
    with uow():
        user = _own_user(uow, actor)
        row = uow.two_factors.get(user.id)
        on = row is not None and row.confirmed_at is not None
        left = uow.two_factors.recovery_codes_left(user.id) if on else 0
    return TwoFactorState(on=on, recovery_codes_left=left)


@allow(*SIGNED_IN)
def start_two_factor(
    uow: UnitOfWork, *, actor: Actor, codes: OneTimeCodes, issuer: str = ISSUER
) -> TwoFactorSetup:
    """A new secret for the signed-in account, to be confirmed with a first code."""
    secret = codes.new_secret()
    with uow(write=True):
        user = _own_user(uow, actor)
        found = uow.two_factors.get(user.id)
        if found is not None and found.confirmed_at is not None:
            raise AntreanError("two_factor_on")
        uow.two_factors.start(user.id, secret, uow.clock.now())
        uow.commit()
    return TwoFactorSetup(secret=secret, uri=codes.uri(secret, user.username, issuer))


@allow(*SIGNED_IN)
def pending_two_factor(
    uow: UnitOfWork, *, actor: Actor, codes: OneTimeCodes, issuer: str = ISSUER
) -> TwoFactorSetup | None:
    """The secret set up and not yet confirmed, to show again (after a mistyped code)."""
    with uow():
        user = _own_user(uow, actor)
        found = uow.two_factors.get(user.id)
    if found is None or found.confirmed_at is not None:
        return None
    return TwoFactorSetup(secret=found.secret, uri=codes.uri(found.secret, user.username, issuer))


@allow(*SIGNED_IN)
def confirm_two_factor(
    uow: UnitOfWork, *, actor: Actor, codes: OneTimeCodes, code: str
) -> list[str]:
    """Turn two-step sign-in on with the first code the app shows; the recovery codes."""
    recovery = [_recovery_code() for _ in range(RECOVERY_CODES)]
    with uow(write=True):
        user = _own_user(uow, actor)
        found = uow.two_factors.get(user.id)
        if found is None:
            raise AntreanError("two_factor_off")
        if found.confirmed_at is not None:
            raise AntreanError("two_factor_on")
        now = uow.clock.now()
        step = codes.step_of(found.secret, _code_text(code), now)
        if step is None or not uow.two_factors.use_step(user.id, step):
            raise AntreanError("wrong_otp", field="code")
        uow.two_factors.confirm(user.id, now)
        uow.two_factors.set_recovery_codes(user.id, [recovery_digest(c) for c in recovery])
        uow.users.revoke_all_refresh_tokens(user.id, now, ENDED)  # sign in again, two steps
        uow.commit()
    return recovery


@allow(*SIGNED_IN)
def turn_off_two_factor(
    uow: UnitOfWork,
    *,
    actor: Actor,
    hasher: PasswordHasher,
    codes: OneTimeCodes,
    password: str,
    code: str,
) -> None:
    """Turn it off: the password and a current code (or a recovery code) both."""
    with uow():
        user = _own_user(uow, actor)
    if not hasher.verify(user.password_hash, password if isinstance(password, str) else ""):
        raise AntreanError("invalid_credentials")
    with uow(write=True):
        if not second_step_passes(uow, codes, user, code):
            raise AntreanError("wrong_otp", field="code")
        uow.two_factors.remove(user.id)
        uow.commit()


@allow(Role.ADMIN)
def reset_two_factor(uow: UnitOfWork, *, actor: Actor, user_id: int) -> None:
    """For someone who lost their phone and their recovery codes: two-step sign-in off, their
    sessions ended. They sign in with the password alone and turn it on again."""
    with uow(write=True):
        user = uow.users.get(user_id)
        if user is None or user.facility_id != actor.facility_id:
            raise AntreanError("not_found", entity="User")
        uow.two_factors.remove(user.id)
        uow.users.revoke_all_refresh_tokens(user.id, uow.clock.now(), ENDED)
        uow.commit()


def second_step_passes(uow: UnitOfWork, codes: OneTimeCodes, user: User, code: str) -> bool:
    """In the caller's write transaction: the code is the app's current one (not used before)
    or an unused recovery code, which is then used up."""
    found = uow.two_factors.get(user.id)
    if found is None or found.confirmed_at is None:
        return False
    text = _code_text(code)
    now = uow.clock.now()
    step = codes.step_of(found.secret, text, now)
    if step is not None:
        return uow.two_factors.use_step(user.id, step)
    return uow.two_factors.use_recovery_code(user.id, recovery_digest(text), now)


def two_factor_on(uow: UnitOfWork, user: User) -> bool:
    found = uow.two_factors.get(user.id)
    return found is not None and found.confirmed_at is not None


def _code_text(code: object) -> str:
    return code[:40] if isinstance(code, str) else ""


def _recovery_code() -> str:
    letters = secrets.token_hex(5)  # 40 bits each: ten of them, each good once
    return f"{letters[:5]}-{letters[5:]}"

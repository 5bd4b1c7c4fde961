"""Use cases for signing in and out: access tokens and rotating refresh tokens.

Checking a password costs tens of milliseconds of CPU (argon2). It runs outside any
transaction, so no database lock is held meanwhile, and adapters run these use cases off their
event loop.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass

from antrean.domain.audit import AuditSubject
from antrean.domain.errors import AntreanError
from antrean.domain.identity import (
    MAX_PASSWORD_LENGTH,
    Actor,
    SignInRules,
    User,
    account_key,
    address_key,
    normalize_username,
)
from antrean.services.access import allow
from antrean.services.ports import LOGGED_OUT, REUSED, ROTATED, UnitOfWork
from antrean.services.providers import AccessTokens, OneTimeCodes, PasswordHasher
from antrean.services.two_factor import second_step_passes, two_factor_on

MAX_TOKEN_LENGTH = 200
DEFAULT_RULES = SignInRules()


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds
    token_type: str = "bearer"


def digest(token: str) -> str:
    """Refresh tokens are stored only as their SHA-256 digest."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_tokens(
    uow: UnitOfWork, tokens: AccessTokens, user: User, family: str | None = None
) -> TokenPair:
    """A new access token and refresh token for the user, in the caller's transaction: the
    first of a new family at sign-in, the next of its family when one is rotated."""
    now = uow.clock.now()
    refresh = secrets.token_urlsafe(32)
    uow.users.add_refresh_token(
        user.facility_id,
        user.id,
        digest(refresh),
        now + tokens.refresh_ttl,
        now,
        family or secrets.token_hex(16),
    )
    return TokenPair(
        access_token=tokens.issue(user, now),
        refresh_token=refresh,
        expires_in=int(tokens.access_ttl.total_seconds()),
    )


def _token_text(value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TOKEN_LENGTH:
        raise AntreanError("invalid_token")
    return value


@allow(public=True)
def login(
    uow: UnitOfWork,
    *,
    actor: Actor,
    hasher: PasswordHasher,
    tokens: AccessTokens,
    username: str,
    password: str,
    rules: SignInRules = DEFAULT_RULES,
    client_address: str | None = None,
    codes: OneTimeCodes | None = None,
    otp: str = "",
) -> TokenPair:
    """Sign in with a username and password. A wrong username costs as long as a wrong
    password, and both answer `invalid_credentials`.

    Failed sign-ins are counted per account name and per client address (`SignInRules`):
    past a few, the next try must wait (`too_many_attempts`, with the seconds), and an account
    name failed too often is locked (`account_locked`) until an admin unlocks it or the lock
    runs out. A refused try is refused before the password is checked, so it tells nothing.

    With two-step sign-in on, the right password alone answers `otp_required`; `otp` then
    carries the app's current code or a recovery code, and a wrong one counts as a failure."""
    name = normalize_username(username)  # a name that cannot be one is refused as such
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        password = ""
    keys = {account_key(name): True}
    by_address = address_key(client_address)
    if by_address is not None:
        keys[by_address] = False
    with uow():
        now = uow.clock.now()
        throttles = uow.sign_ins.get_many(actor.facility_id, list(keys))
        user = uow.users.get_by_username(name)
    for key, is_account in keys.items():
        refusal = rules.refusal(throttles.get(key), now, account=is_account)
        if refusal is not None:
            raise refusal
    valid = hasher.verify(user.password_hash if user else None, password)
    if user is None or not valid or not user.active or user.facility_id != actor.facility_id:
        with uow(write=True):
            _count_failure(uow, actor.facility_id, keys, rules)
            uow.audit(_failed(user))
            uow.commit()
        raise AntreanError("invalid_credentials")
    with uow(write=True):
        if two_factor_on(uow, user):
            if not isinstance(otp, str) or not otp.strip():
                raise AntreanError("otp_required")
            if codes is None or not second_step_passes(uow, codes, user, otp):
                _count_failure(uow, actor.facility_id, keys, rules)
                uow.audit(_failed(user))
                uow.commit()
                raise AntreanError("invalid_otp")
        uow.sign_ins.clear(actor.facility_id, account_key(name))
        pair = issue_tokens(uow, tokens, user)
        uow.audit(AuditSubject("user", str(user.id)))
        uow.commit()
    return pair


def _failed(user: User | None) -> AuditSubject:
    """A failed sign-in, as the audit log records it: the account, when the name is one."""
    return AuditSubject("failed_sign_in", str(user.id) if user else "")


def _count_failure(
    uow: UnitOfWork, facility_id: int, keys: dict[str, bool], rules: SignInRules
) -> None:
    now = uow.clock.now()
    for key, is_account in keys.items():
        uow.sign_ins.record_failure(
            facility_id, key, functools.partial(rules.after_failure, now=now, account=is_account)
        )


@allow(public=True)
def refresh_session(
    uow: UnitOfWork, *, actor: Actor, tokens: AccessTokens, refresh_token: str
) -> TokenPair:
    """Trade a refresh token for a new pair. Each refresh token works once (rotation); one
    used again after it was rotated was copied, so every token of its family is revoked and
    whoever holds them (the thief, and the patient or staff member) signs in again."""
    hashed = digest(_token_text(refresh_token))
    with uow(write=True):
        row = uow.users.get_refresh_token(hashed)
        now = uow.clock.now()
        if row is not None and row.revoked_reason == ROTATED and row.family is not None:
            uow.users.revoke_family(row.family, now, REUSED)
            uow.commit()
            raise AntreanError("invalid_token")
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise AntreanError("invalid_token")
        user = uow.users.get(row.user_id)
        if (
            user is None
            or not user.active
            or not uow.users.revoke_refresh_token(row.id, now, ROTATED)
        ):
            raise AntreanError("invalid_token")
        pair = issue_tokens(uow, tokens, user, family=row.family)
        uow.commit()
    return pair


@allow(public=True)
def resume_session(uow: UnitOfWork, *, actor: Actor, refresh_token: str) -> User:
    """The account a browser session stands for: its refresh token is the session's key, kept
    in a signed cookie and not rotated (the cookie is out of reach of page scripts). A revoked
    or expired token, or a disabled account, ends the session at once (`invalid_token`)."""
    hashed = digest(_token_text(refresh_token))
    with uow():
        row = uow.users.get_refresh_token(hashed)
        if row is None or row.revoked_at is not None or row.expires_at <= uow.clock.now():
            raise AntreanError("invalid_token")
        user = uow.users.get(row.user_id)
    if user is None or not user.active or user.facility_id != actor.facility_id:
        raise AntreanError("invalid_token")
    return user


@allow(public=True)
def still_allowed(uow: UnitOfWork, *, actor: Actor) -> None:
    """An access token's account may still act: it exists and is not disabled (a token lives
    15 minutes; disabling an account must not wait for it to run out)."""
    if actor.user_id is None:
        return
    with uow():
        user = uow.users.get(actor.user_id)
    if user is None or not user.active or user.facility_id != actor.facility_id:
        raise AntreanError("invalid_token")


@allow(public=True)
def logout(uow: UnitOfWork, *, actor: Actor, refresh_token: str) -> None:
    """Revoke a refresh token; an unknown one is no error (the caller is signed out anyway)."""
    hashed = digest(_token_text(refresh_token))
    with uow(write=True):
        row = uow.users.get_refresh_token(hashed)
        if row is not None:
            uow.users.revoke_refresh_token(row.id, uow.clock.now(), LOGGED_OUT)
        uow.commit()

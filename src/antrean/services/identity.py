"""Use cases for signing in and out: access tokens and rotating refresh tokens.

Checking a password costs tens of milliseconds of CPU (argon2). It runs outside any
transaction, so no database lock is held meanwhile, and adapters run these use cases off their
event loop.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from antrean.domain.errors import AntreanError
from antrean.domain.identity import MAX_PASSWORD_LENGTH, Actor, User, normalize_username
from antrean.services.access import allow
from antrean.services.ports import UnitOfWork
from antrean.services.providers import AccessTokens, PasswordHasher

MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds
    token_type: str = "bearer"


def digest(token: str) -> str:
    """Refresh tokens are stored only as their SHA-256 digest."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_tokens(uow: UnitOfWork, tokens: AccessTokens, user: User) -> TokenPair:
    """A new access token and refresh token for the user, in the caller's transaction."""
    now = uow.clock.now()
    refresh = secrets.token_urlsafe(32)
    uow.users.add_refresh_token(
        user.facility_id, user.id, digest(refresh), now + tokens.refresh_ttl, now
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
) -> TokenPair:
    """Sign in with a username and password. A wrong username costs as long as a wrong
    password, and both answer `invalid_credentials`."""
    name = normalize_username(username)  # a name that cannot be one is refused as such
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        password = ""
    with uow():
        user = uow.users.get_by_username(name)
    valid = hasher.verify(user.password_hash if user else None, password)
    if user is None or not valid or not user.active or user.facility_id != actor.facility_id:
        raise AntreanError("invalid_credentials")
    with uow(write=True):
        pair = issue_tokens(uow, tokens, user)
        uow.commit()
    return pair


@allow(public=True)
def refresh_session(
    uow: UnitOfWork, *, actor: Actor, tokens: AccessTokens, refresh_token: str
) -> TokenPair:
    """Trade a refresh token for a new pair. Each refresh token works once (rotation)."""
    hashed = digest(_token_text(refresh_token))
    with uow(write=True):
        row = uow.users.get_refresh_token(hashed)
        now = uow.clock.now()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise AntreanError("invalid_token")
        user = uow.users.get(row.user_id)
        if user is None or not user.active or not uow.users.revoke_refresh_token(row.id, now):
            raise AntreanError("invalid_token")
        pair = issue_tokens(uow, tokens, user)
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
def logout(uow: UnitOfWork, *, actor: Actor, refresh_token: str) -> None:
    """Revoke a refresh token; an unknown one is no error (the caller is signed out anyway)."""
    hashed = digest(_token_text(refresh_token))
    with uow(write=True):
        row = uow.users.get_refresh_token(hashed)
        if row is not None:
            uow.users.revoke_refresh_token(row.id, uow.clock.now())
        uow.commit()

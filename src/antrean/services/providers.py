"""What the services need from outside the product, as protocols: password hashing, signed
access tokens, phone number parsing, and where committed events go. `antrean.integrations`
and `antrean.live` implement them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from antrean.domain.events import DomainEvent
from antrean.domain.identity import Actor, User


class EventSink(Protocol):
    """Receives events once their transaction has committed (a process's live-update fan-out)."""

    def deliver(self, events: Iterable[DomainEvent]) -> None: ...
    def interest(self) -> tuple[frozenset[int], bool]:
        """The clinics someone follows now, and whether anyone follows a single ticket: an
        event nobody follows need not be read."""
        ...


class PasswordHasher(Protocol):
    """Slow, salted password hashes (argon2). Checking one costs tens of milliseconds of CPU:
    adapters run the use cases that do so off their event loop."""

    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str | None, password: str) -> bool:
        """False for a wrong password; with no hash, as long as a real check, and False."""
        ...


class OneTimeCodes(Protocol):
    """Time-based one-time codes (RFC 6238: 6 digits, 30-second steps), as authenticator apps
    show them."""

    def new_secret(self) -> str: ...
    def uri(self, secret: str, account: str, issuer: str) -> str:
        """The `otpauth://` address an authenticator app reads from a QR code."""
        ...

    def step_of(self, secret: str, code: str, at: datetime) -> int | None:
        """The time step the code belongs to, if it is right for `at` or the step before or
        after (clocks drift); None otherwise."""
        ...


class AccessTokens(Protocol):
    """Short-lived signed access tokens, checked without the database."""

    access_ttl: timedelta
    refresh_ttl: timedelta

    def issue(self, user: User, now: datetime) -> str: ...
    def actor(self, token: str) -> Actor:
        """The caller a valid, unexpired token stands for; `invalid_token` otherwise."""
        ...


class PhoneNumbers(Protocol):
    def to_e164(self, text: str) -> str | None:
        """Any common way of writing a phone number (0812..., +62 812-..., 62812...) in E.164,
        or None when it is not a valid number."""
        ...

    def is_mobile(self, e164: str) -> bool:
        """Whether the number can get WhatsApp and SMS (not a landline)."""
        ...

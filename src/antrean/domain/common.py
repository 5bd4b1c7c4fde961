"""Small shared value types and helpers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from antrean.domain.fields import check_range

UTC = UTC

# No 0/O, 1/I/L: codes are read aloud at the front desk and typed on cheap phones.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def random_code(length: int = 6) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    """The facility's calendar day at an instant."""
    return instant.astimezone(tz).date()


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime | None:
    """The UTC instant of a wall-clock time, or None where that wall time does not exist (DST gap).

    For an ambiguous wall time (the hour repeated when DST ends) the first occurrence is used.
    """
    local = datetime.combine(day, at, tzinfo=tz).replace(fold=0)
    instant = local.astimezone(UTC)
    back = instant.astimezone(tz)
    if (back.date(), back.time().replace(tzinfo=None)) != (day, at):
        return None
    return instant


def daterange(start: date, end: date) -> list[date]:
    """Days from start to end, both included."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@dataclass(frozen=True, slots=True)
class Page:
    number: int = 1
    size: int = 50

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


MAX_PAGE_NUMBER = 1_000_000


def checked_page(page: Page, max_size: int) -> Page:
    """A page of a listing within bounds: numbered from 1, at most `max_size` items."""
    check_range(page.number, "page", 1, MAX_PAGE_NUMBER)
    check_range(page.size, "size", 1, max_size)
    return page

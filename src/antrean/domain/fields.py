"""Rules for single values that hold whatever the adapter: ids, text, ranges, wall-clock times,
and the "not given" marker of partial updates."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time
from enum import Enum
from typing import Literal, TypeAlias, TypeGuard, TypeVar

from antrean.domain.errors import AntreanError

T = TypeVar("T")

# Ids are positive 64-bit integers on both databases.
MAX_ID = 2**63 - 1


class _Unset(Enum):
    """Marks a field of a partial update that was not given (as opposed to given as empty)."""

    UNSET = "unset"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Literal[_Unset.UNSET] = _Unset.UNSET
Maybe: TypeAlias = T | Literal[_Unset.UNSET]


def given(value: Maybe[T]) -> TypeGuard[T]:
    """True when a partial update's field was given (even as None or "")."""
    return value is not UNSET


def check_id(value: int, field: str) -> int:
    """An id as stored: a positive 64-bit integer (bools are not ids)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise AntreanError("invalid_id", field=field)
    return value


def check_optional_id(value: int | None, field: str) -> int | None:
    return None if value is None else check_id(value, field)


def check_range(value: int, field: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise AntreanError("field_out_of_range", field=field, minimum=minimum, maximum=maximum)
    return value


def _allowed(ch: str, multiline: bool) -> bool:
    if multiline and ch in "\n\t":
        return True
    # Control characters (NUL and the rest of C0/C1), unpaired surrogates and unassigned
    # code points are refused: databases reject some, and none belongs in a name or a note.
    return unicodedata.category(ch) not in ("Cc", "Cs", "Cn")


def clean_text(
    value: str,
    field: str,
    *,
    max_length: int,
    required: bool = True,
    multiline: bool = False,
) -> str:
    """Trimmed text within a length, free of control characters. A single-line text also has
    its runs of spaces collapsed to one."""
    if not isinstance(value, str):
        raise AntreanError("field_invalid", field=field)
    # Printable text (most names) needs no look at each character.
    if not value.isprintable() and not all(_allowed(ch, multiline) for ch in value):
        raise AntreanError("field_invalid_characters", field=field)
    text = value.strip() if multiline else " ".join(value.split())
    if required and not text:
        raise AntreanError("field_required", field=field)
    if len(text) > max_length:
        raise AntreanError("field_too_long", field=field, max_length=max_length)
    return text


def clean_optional_text(
    value: str | None, field: str, *, max_length: int, multiline: bool = False
) -> str | None:
    """Like `clean_text`, with None or blank meaning "none"."""
    if value is None:
        return None
    return (
        clean_text(value, field, max_length=max_length, required=False, multiline=multiline) or None
    )


def code_text(value: str, field: str, *, not_found: str, max_length: int = 32) -> str:
    """A code someone typed or a link carried (a booking code, a ticket's status code): control
    characters are refused as invalid input; anything else that cannot be a code is simply not
    found (`not_found` is the error code to raise)."""
    if not isinstance(value, str):
        raise AntreanError(not_found)
    if not value.isprintable() and not all(_allowed(ch, False) for ch in value):
        raise AntreanError("field_invalid_characters", field=field)
    text = value.strip()
    if not 1 <= len(text) <= max_length:
        raise AntreanError(not_found)
    return text


def check_flag(value: bool, field: str) -> bool:
    if not isinstance(value, bool):
        raise AntreanError("field_invalid", field=field)
    return value


def check_date(value: date, field: str) -> date:
    """A calendar day (not a date and time)."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise AntreanError("field_invalid", field=field)
    return value


def local_time(value: time, field: str) -> time:
    """A clinic's wall-clock time: a time of day without a UTC offset (an offset would shift
    the clinic's hours silently)."""
    if not isinstance(value, time):
        raise AntreanError("field_invalid", field=field)
    if value.tzinfo is not None:
        raise AntreanError("local_time_required", field=field)
    return value


def is_digits(text: str) -> bool:
    """Only the digits 0-9, at least one. `str.isdigit` also takes superscripts and other
    scripts' digits ("²", "①", "٣"), which `int` refuses or reads as something else."""
    return text.isascii() and text.isdigit()

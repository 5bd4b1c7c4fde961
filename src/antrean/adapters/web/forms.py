"""Reading staff forms: typed values from text fields, and a refusal of the services turned
into a message next to the field it is about."""

from __future__ import annotations

from datetime import date, time

from starlette.datastructures import FormData
from starlette.requests import Request

from antrean.adapters.web.core import Visitor, parse_id, read_form, require, text_of
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.domain.fields import is_digits
from antrean.domain.identity import Role


class FieldErrors(dict[str, str]):
    """Messages by field name; "_form" for one about the whole form."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def add(self, exc: AntreanError, fields: tuple[str, ...] | frozenset[str]) -> None:
        """Put a refusal next to its field, or at the top. Access refusals are not form errors."""
        if exc.kind in (ErrorKind.FORBIDDEN, ErrorKind.UNAUTHORIZED):
            raise exc
        self.setdefault(exc.field if exc.field in fields else "_form", exc.message(self.lang))

    def required(self, form: FormData, *names: str) -> None:
        for name in names:
            if not text_of(form, name).strip():
                self.setdefault(name, AntreanError("field_required", field=name).message(self.lang))

    def time(self, form: FormData, name: str) -> time | None:
        value = text_of(form, name).strip()
        if not value:
            return None
        try:
            return time.fromisoformat(value)
        except ValueError:
            self.setdefault(name, AntreanError("field_invalid", field=name).message(self.lang))
            return None

    def date(self, form: FormData, name: str) -> date | None:
        value = text_of(form, name).strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.setdefault(name, AntreanError("field_invalid", field=name).message(self.lang))
            return None

    def number(self, form: FormData, name: str, default: int | None = None) -> int | None:
        value = text_of(form, name).strip()
        if not value:
            return default
        if not is_digits(value) or len(value) > 9:
            self.setdefault(name, AntreanError("field_invalid", field=name).message(self.lang))
            return default
        return int(value)

    def id(self, form: FormData, name: str) -> int | None:
        value = text_of(form, name).strip()
        if not value:
            return None
        found = parse_id(value)
        if found is None:
            self.setdefault(name, AntreanError("field_invalid", field=name).message(self.lang))
        return found


def checked(form: FormData, name: str) -> bool:
    return text_of(form, name) in ("on", "1", "true", "yes")


def values_of(form: FormData, *names: str) -> dict[str, str]:
    return {name: text_of(form, name)[:500] for name in names}


async def admin_form(request: Request, v: Visitor) -> tuple[FormData, FieldErrors]:
    """An admin's form: its CSRF token checked, the role checked, and a place for messages."""
    form = await read_form(request, v)
    require(v, Role.ADMIN)
    return form, FieldErrors(v.lang)

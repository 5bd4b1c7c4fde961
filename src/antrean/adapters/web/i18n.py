"""Languages of the pages: Babel message catalogs (Bahasa Indonesia first, English second) and
dates, times and numbers in the facility's time zone and the reader's locale.

The catalogs are the `.po` files under `locale/`; they are compiled in memory when the server
starts (a few milliseconds), so no compiled `.mo` file is kept in the repository.

Messages of the domain's errors (`slot_full`, ...) are not in these catalogs: they are the
domain's own table in both languages (`domain.errors`), shared with the API and XML-RPC.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"


def load_translations(lang: str) -> Translations:
    """The compiled catalog of one language; fuzzy entries do not count as translated."""
    with catalog_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain="messages")


def language(value: str | None) -> str:
    """A language this product speaks, from a cookie or a form value; the default otherwise."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Formats:
    """Dates and times as people read them in one language, in the facility's time zone:
    "Rabu, 25 November 2026" and "08.30" in Indonesian, "08:30" in English."""

    lang: str
    zone: tzinfo

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def day(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = self.local(value).date()
        return format_date(value, "full", locale=self.lang)

    def day_short(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = self.local(value).date()
        return format_date(value, "EEE d MMM", locale=self.lang)

    def clock(self, value: time | datetime) -> str:
        if isinstance(value, datetime):
            value = self.local(value).time()
        return format_time(value, "HH:mm" if self.lang == "en" else "HH.mm", locale=self.lang)

    def moment(self, value: datetime) -> str:
        return format_datetime(self.local(value), "medium", locale=self.lang)

    def weekday(self, weekday: int) -> str:
        """Monday is 0, as in Python."""
        names = self.locale.days["format"]["wide"]
        return str(names[weekday])

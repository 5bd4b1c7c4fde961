"""What the worker needs to write a message besides the records: dates and times as a patient
reads them (Babel, in the patient's language) and a booking's calendar file for e-mail."""

from __future__ import annotations

import functools
from datetime import date, datetime

from babel.dates import format_date, format_time

from antrean.domain.notifications import Attachment
from antrean.integrations.calendar import appointment_ics
from antrean.services.booking_views import AppointmentDetails


class BabelFormats:
    """ "Kamis, 26 November 2026" and "08.30" in Indonesian; "Thursday, 26 November 2026" and
    "08:30" in English (the day first, as both readers expect)."""

    def day(self, value: date, lang: str) -> str:
        return _day(value, lang)

    def clock(self, value: datetime, lang: str) -> str:
        return format_time(value, "HH:mm" if lang == "en" else "HH.mm", locale=lang)


@functools.lru_cache(maxsize=1024)
def _day(value: date, lang: str) -> str:
    return format_date(value, "full", locale="en_GB" if lang == "en" else "id")


class BookingCalendar:
    def for_booking(self, details: AppointmentDetails, lang: str) -> Attachment:
        a = details.appointment
        where = ", ".join(p for p in (details.facility.name, details.facility.address) if p)
        summary = f"{details.clinic_name} - {details.doctor_name} ({a.code})"
        content = appointment_ics(
            uid=f"{a.code}@{details.facility.code.lower()}.antrean",
            start=a.start_at,
            end=a.end_at,
            summary=summary,
            location=where,
            description=("Booking code" if lang == "en" else "Kode booking") + f": {a.code}",
            stamp=a.updated_at,
        )
        return Attachment(f"booking-{a.code}.ics", "text/calendar; method=PUBLISH", content)

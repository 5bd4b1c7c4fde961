"""Calendar files (RFC 5545 `.ics`) for a booking, so a patient can add it to their phone's
calendar; the same file goes with a booking confirmation by e-mail."""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

PRODUCT_ID = "-//antrean//booking//EN"
REMIND_BEFORE = timedelta(hours=1)


def appointment_ics(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    location: str,
    description: str,
    stamp: datetime,
    cancelled: bool = False,
) -> bytes:
    """One event, in UTC (every calendar shows it in its reader's zone), with a reminder an
    hour before. A cancelled booking gives the same event marked cancelled, so a calendar
    that imported it before can drop it."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -REMIND_BEFORE)
        event.add_component(alarm)
    calendar.add_component(event)
    return bytes(calendar.to_ical())

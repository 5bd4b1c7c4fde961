"""Statements on the booking hot path, built once at import.

Building a SQLAlchemy statement costs tens of microseconds of Python; these are built once with
bind parameters, so each request only binds values and hits the compiled-statement cache. The
upsert is plain SQL that SQLite (3.35+) and PostgreSQL both accept.
"""

from __future__ import annotations

from sqlalchemy import bindparam, exists, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from antrean.persistence import tables as t

_s, _c, _a, _e = t.slot, t.clinic, t.appointment, t.schedule_exception

SLOT_VIEW = (
    select(
        _s.c.id,
        _s.c.facility_id,
        _s.c.doctor_id,
        _s.c.clinic_id,
        _s.c.day,
        _s.c.start_at,
        _s.c.end_at,
        _s.c.capacity,
        _s.c.booked,
        _s.c.active,
        _c.c.is_open,
    )
    .join(_c, _c.c.id == _s.c.clinic_id)
    .where(_s.c.id == bindparam("slot_id"), _s.c.facility_id == bindparam("facility_id"))
)

# The slot, and whether the patient exists, in one round trip.
SLOT_VIEW_WITH_PATIENT = SLOT_VIEW.add_columns(
    exists()
    .where(
        t.patient.c.id == bindparam("patient_id"),
        t.patient.c.facility_id == bindparam("facility_id"),
    )
    .label("patient_known")
)

# The rule that prevents overbooking: take a place only while one is free, in one statement.
TAKE_PLACE = (
    update(_s)
    .where(_s.c.id == bindparam("slot_id"), _s.c.booked < _s.c.capacity, _s.c.active)
    .values(booked=_s.c.booked + 1)
)

RELEASE_PLACE = (
    update(_s)
    .where(_s.c.id == bindparam("slot_id"), _s.c.booked > 0)
    .values(booked=_s.c.booked - 1)
)

# One more active appointment for (patient, clinic, day), unless the limit is reached.
COUNT_DAY = text(
    "INSERT INTO patient_day_booking (facility_id, patient_id, clinic_id, day, active_count) "
    "VALUES (:facility_id, :patient_id, :clinic_id, :day, 1) "
    "ON CONFLICT (patient_id, clinic_id, day) DO UPDATE "
    "SET active_count = patient_day_booking.active_count + 1 "
    "WHERE patient_day_booking.active_count < :limit "
    "RETURNING active_count"
).bindparams(bindparam("day", type_=t.patient_day_booking.c.day.type))


# A booking code already in use inserts nothing (and returns no id), so the caller can draw
# another code without the transaction being aborted.
INSERT_APPOINTMENT = {
    name: dialect.insert(_a)
    .on_conflict_do_nothing(index_elements=[_a.c.facility_id, _a.c.code])
    .returning(_a.c.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}

EXCEPTIONS_BETWEEN = (
    select(_e)
    .where(
        _e.c.facility_id == bindparam("facility_id"),
        _e.c.date_to >= bindparam("first_day"),
        _e.c.date_from <= bindparam("last_day"),
    )
    .order_by(_e.c.date_from, _e.c.id)
)

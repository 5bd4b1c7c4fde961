"""SQL storage of appointments, the per-day booking counter and booking conflicts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from antrean.domain.booking import ACTIVE_STATUSES, Appointment, AppointmentStatus
from antrean.domain.common import Page
from antrean.domain.patients import name_words
from antrean.persistence import tables as t
from antrean.persistence.patient_store import SORT_BY_NAME_LIMIT, named
from antrean.persistence.protect import keyring_of
from antrean.persistence.rows import Repository
from antrean.services.ports import AppointmentFilter, BookingRow, Conflict

_a = t.appointment
_ACTIVE = [s.value for s in ACTIVE_STATUSES]

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


_APPOINTMENT_COLUMNS = [
    t.appointment.c[name]
    for name in (
        "id",
        "facility_id",
        "code",
        "slot_id",
        "patient_id",
        "clinic_id",
        "doctor_id",
        "service_id",
        "day",
        "start_at",
        "end_at",
        "status",
        "note",
        "cancel_reason",
        "created_at",
        "updated_at",
    )
]


def _appointment(row: Row[Any]) -> Appointment:
    values = list(row)[: len(_APPOINTMENT_COLUMNS)]
    values[11] = AppointmentStatus(values[11])
    return Appointment(*values)


def _filter_conditions(flt: AppointmentFilter) -> list[Any]:
    a = t.appointment
    conditions = []
    if flt.day_from is not None:
        conditions.append(a.c.day >= flt.day_from)
    if flt.day_to is not None:
        conditions.append(a.c.day <= flt.day_to)
    for column, value in (
        (a.c.clinic_id, flt.clinic_id),
        (a.c.doctor_id, flt.doctor_id),
        (a.c.patient_id, flt.patient_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if flt.status is not None:
        conditions.append(a.c.status == flt.status.value)
    if flt.starts_from is not None:
        conditions.append(a.c.start_at >= flt.starts_from)
    if flt.starts_before is not None:
        conditions.append(a.c.start_at < flt.starts_before)
    return conditions


class SqlAppointments(Repository):
    def add(self, appointment: Appointment, created_by: int | None) -> int | None:
        a = appointment
        values = {
            "facility_id": a.facility_id,
            "code": a.code,
            "slot_id": a.slot_id,
            "patient_id": a.patient_id,
            "clinic_id": a.clinic_id,
            "doctor_id": a.doctor_id,
            "service_id": a.service_id,
            "day": a.day,
            "start_at": a.start_at,
            "end_at": a.end_at,
            "status": a.status.value,
            "note": a.note,
            "cancel_reason": a.cancel_reason,
            "created_by": created_by,
            "created_at": a.created_at,
            "updated_at": a.updated_at,
        }
        stmt = INSERT_APPOINTMENT[self.conn.dialect.name]
        new_id = self.conn.execute(stmt, values).scalar()
        return None if new_id is None else int(new_id)

    def get(self, facility_id: int, appointment_id: int) -> Appointment | None:
        a = t.appointment
        row = self.conn.execute(
            select(*_APPOINTMENT_COLUMNS).where(
                a.c.facility_id == facility_id, a.c.id == appointment_id
            )
        ).first()
        return _appointment(row) if row else None

    def get_many(self, facility_id: int, appointment_ids: list[int]) -> dict[int, Appointment]:
        if not appointment_ids:
            return {}
        a = t.appointment
        rows = self.conn.execute(
            select(*_APPOINTMENT_COLUMNS).where(
                a.c.facility_id == facility_id, a.c.id.in_(sorted(set(appointment_ids)))
            )
        )
        return {row.id: _appointment(row) for row in rows}

    def get_by_code(self, facility_id: int, code: str) -> Appointment | None:
        a = t.appointment
        row = self.conn.execute(
            select(*_APPOINTMENT_COLUMNS).where(a.c.facility_id == facility_id, a.c.code == code)
        ).first()
        return _appointment(row) if row else None

    def save(self, appointment: Appointment, expected: datetime | None = None) -> bool:
        a = appointment
        stmt = update(t.appointment).where(t.appointment.c.id == a.id)
        if expected is not None:
            stmt = stmt.where(t.appointment.c.updated_at == expected)
        result = self.conn.execute(
            stmt.values(
                slot_id=a.slot_id,
                doctor_id=a.doctor_id,
                day=a.day,
                start_at=a.start_at,
                end_at=a.end_at,
                status=a.status.value,
                note=a.note,
                cancel_reason=a.cancel_reason,
                updated_at=a.updated_at,
            )
        )
        return bool(result.rowcount == 1)

    def find(
        self, facility_id: int, flt: AppointmentFilter, page: Page
    ) -> tuple[list[Appointment], int]:
        a = t.appointment
        where = and_(a.c.facility_id == facility_id, *_filter_conditions(flt))
        total = self.conn.execute(select(func.count()).select_from(a).where(where)).scalar_one()
        rows = self.conn.execute(
            select(*_APPOINTMENT_COLUMNS)
            .where(where)
            .order_by(a.c.start_at, a.c.id)
            .limit(page.size)
            .offset(page.offset)
        )
        return [_appointment(r) for r in rows], int(total)

    def table(
        self, facility_id: int, flt: AppointmentFilter, search: str | None, order: str, page: Page
    ) -> tuple[list[BookingRow], int]:
        a, p = t.appointment, t.patient
        conditions = [a.c.facility_id == facility_id, *_filter_conditions(flt)]
        if search:
            keys = keyring_of(self.conn)
            conditions.append(
                or_(
                    a.c.code == search.upper(),
                    named(keys, facility_id, search),
                    p.c.phone_index == keys.blind("phone", search),
                )
            )
        joined = a.join(p, p.c.id == a.c.patient_id)
        where = and_(*conditions)
        total = int(
            self.conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
        )
        descending = order.startswith("-")
        columns = (*_APPOINTMENT_COLUMNS, p.c.name, p.c.mrn, p.c.phone)
        if order.lstrip("-") == "patient" and total <= SORT_BY_NAME_LIMIT:
            # Names are sealed: the matches' names are opened and sorted here.
            named_rows = self.conn.execute(
                select(a.c.id, p.c.name).select_from(joined).where(where)
            )
            ranked = sorted((name_words(name), i) for i, name in named_rows)
            if descending:
                ranked.reverse()
            ids = [i for _, i in ranked[page.offset : page.offset + page.size]]
            by_id = {
                r.id: r
                for r in self.conn.execute(
                    select(*columns).select_from(joined).where(a.c.id.in_(ids))
                )
            }
            rows: Iterable[Any] = [by_id[i] for i in ids if i in by_id]
        else:
            column = {
                "start": a.c.start_at,
                "created": a.c.created_at,
                "patient": a.c.id,  # too many matches to open every name
                "status": a.c.status,
            }[order.lstrip("-")]
            sort = column.desc() if descending else column.asc()
            rows = self.conn.execute(
                select(*columns)
                .select_from(joined)
                .where(where)
                .order_by(sort, a.c.id)
                .limit(page.size)
                .offset(page.offset)
            )
        found = [BookingRow(_appointment(r), r.name, r.mrn, r.phone) for r in rows]
        return found, total

    def day_summary(self, facility_id: int, day: date) -> dict[tuple[int, str], int]:
        a = t.appointment
        rows = self.conn.execute(
            select(a.c.clinic_id, a.c.status, func.count())
            .where(a.c.facility_id == facility_id, a.c.day == day)
            .group_by(a.c.clinic_id, a.c.status)
        )
        return {(clinic_id, status): int(n) for clinic_id, status, n in rows}

    def active_in_slots(self, slot_ids: list[int]) -> list[Appointment]:
        if not slot_ids:
            return []
        a = t.appointment
        rows = self.conn.execute(
            select(*_APPOINTMENT_COLUMNS)
            .where(a.c.slot_id.in_(slot_ids), a.c.status.in_(_ACTIVE))
            .order_by(a.c.id)
        )
        return [_appointment(r) for r in rows]

    def try_count_day(
        self, facility_id: int, patient_id: int, clinic_id: int, day: date, limit: int
    ) -> bool:
        params = {
            "facility_id": facility_id,
            "patient_id": patient_id,
            "clinic_id": clinic_id,
            "day": day,
            "limit": limit,
        }
        return self.conn.execute(COUNT_DAY, params).first() is not None

    def uncount_day(self, patient_id: int, clinic_id: int, day: date) -> None:
        p = t.patient_day_booking
        self.conn.execute(
            update(p)
            .where(
                p.c.patient_id == patient_id,
                p.c.clinic_id == clinic_id,
                p.c.day == day,
                p.c.active_count > 0,
            )
            .values(active_count=p.c.active_count - 1)
        )

    def add_conflict(
        self, facility_id: int, appointment_id: int, slot_id: int, reason: str, at: datetime
    ) -> bool:
        b = t.booking_conflict
        exists = self.conn.execute(
            select(b.c.id).where(
                b.c.appointment_id == appointment_id,
                b.c.reason == reason,
                b.c.resolved_at.is_(None),
            )
        ).first()
        if exists is None:
            self.conn.execute(
                insert(b).values(
                    facility_id=facility_id,
                    appointment_id=appointment_id,
                    slot_id=slot_id,
                    reason=reason,
                    detected_at=at,
                )
            )
        return exists is None

    def open_conflicts(self, facility_id: int) -> list[Conflict]:
        b, a = t.booking_conflict, t.appointment
        rows = self.conn.execute(
            select(b.c.id, b.c.appointment_id, a.c.code, b.c.slot_id, b.c.reason, b.c.detected_at)
            .join(a, a.c.id == b.c.appointment_id)
            .where(b.c.facility_id == facility_id, b.c.resolved_at.is_(None))
            .order_by(b.c.detected_at, b.c.id)
        )
        return [Conflict(*row) for row in rows]

    def close_conflict(self, facility_id: int, conflict_id: int, at: datetime) -> Conflict | None:
        b, a = t.booking_conflict, t.appointment
        row = self.conn.execute(
            select(b.c.id, b.c.appointment_id, a.c.code, b.c.slot_id, b.c.reason, b.c.detected_at)
            .join(a, a.c.id == b.c.appointment_id)
            .where(b.c.facility_id == facility_id, b.c.id == conflict_id, b.c.resolved_at.is_(None))
        ).first()
        if row is None:
            return None
        self.conn.execute(update(b).where(b.c.id == conflict_id).values(resolved_at=at))
        return Conflict(*row)

    def resolve_conflicts(self, appointment_id: int, at: datetime) -> None:
        b = t.booking_conflict
        self.conn.execute(
            update(b)
            .where(b.c.appointment_id == appointment_id, b.c.resolved_at.is_(None))
            .values(resolved_at=at)
        )

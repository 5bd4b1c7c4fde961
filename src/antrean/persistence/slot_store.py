"""SQL storage of bookable slots: the hot path of booking."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from antrean.domain.booking import SlotView
from antrean.domain.common import Page
from antrean.domain.scheduling import ExistingSlot, SlotSpec
from antrean.persistence import tables as t
from antrean.persistence.rows import Repository
from antrean.services.ports import FreePlaces, FreeSlot, SlotQuery

_s, _c, _e = t.slot, t.clinic, t.schedule_exception

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
        exists()
        .where(
            _e.c.facility_id == _s.c.facility_id,
            _e.c.date_from <= _s.c.day,
            _e.c.date_to >= _s.c.day,
        )
        .label("exceptions_that_day"),
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


class SqlSlots(Repository):
    def existing(self, facility_id: int, first_day: date, last_day: date) -> list[ExistingSlot]:
        s = t.slot
        rows = self.conn.execute(
            select(
                s.c.id,
                s.c.doctor_id,
                s.c.start_at,
                s.c.end_at,
                s.c.clinic_id,
                s.c.capacity,
                s.c.booked,
                s.c.active,
            ).where(s.c.facility_id == facility_id, s.c.day >= first_day, s.c.day <= last_day)
        )
        return [ExistingSlot(*row) for row in rows]

    def insert(self, facility_id: int, specs: list[SlotSpec]) -> None:
        if not specs:
            return
        self.conn.execute(
            insert(t.slot),
            [
                {
                    "facility_id": facility_id,
                    "doctor_id": spec.doctor_id,
                    "clinic_id": spec.clinic_id,
                    "schedule_id": spec.schedule_id,
                    "day": spec.day,
                    "start_at": spec.start_at,
                    "end_at": spec.end_at,
                    "capacity": spec.capacity,
                    "booked": 0,
                    "active": True,
                }
                for spec in specs
            ],
        )

    def set_capacity(self, slot_id: int, capacity: int) -> None:
        self.conn.execute(update(t.slot).where(t.slot.c.id == slot_id).values(capacity=capacity))

    def set_active(self, slot_ids: list[int], active: bool) -> None:
        if slot_ids:
            self.conn.execute(update(t.slot).where(t.slot.c.id.in_(slot_ids)).values(active=active))

    def delete(self, slot_ids: list[int]) -> None:
        if slot_ids:
            self.conn.execute(delete(t.slot).where(t.slot.c.id.in_(slot_ids), t.slot.c.booked == 0))

    def view(self, facility_id: int, slot_id: int) -> SlotView | None:
        row = self.conn.execute(SLOT_VIEW, {"slot_id": slot_id, "facility_id": facility_id}).first()
        return SlotView(*row) if row else None

    def view_with_patient(
        self, facility_id: int, slot_id: int, patient_id: int
    ) -> tuple[SlotView | None, bool]:
        params = {"slot_id": slot_id, "facility_id": facility_id, "patient_id": patient_id}
        row = self.conn.execute(SLOT_VIEW_WITH_PATIENT, params).first()
        if row is None:
            return None, False
        return SlotView(*row[:-1]), bool(row[-1])

    def try_take(self, slot_id: int) -> bool:
        return self.conn.execute(TAKE_PLACE, {"slot_id": slot_id}).rowcount == 1

    def release(self, slot_id: int) -> None:
        self.conn.execute(RELEASE_PLACE, {"slot_id": slot_id})

    def search(
        self,
        facility_id: int,
        *,
        first_day: date,
        last_day: date,
        not_before: datetime,
        clinic_id: int | None,
        doctor_id: int | None,
        only_free: bool,
    ) -> list[FreeSlot]:
        stmt = _slots(facility_id, first_day, last_day, not_before, clinic_id, doctor_id)
        if only_free:
            stmt = stmt.where(t.slot.c.booked < t.slot.c.capacity)
        return [FreeSlot(*row) for row in self.conn.execute(stmt)]

    def page(self, facility_id: int, query: SlotQuery, page: Page) -> tuple[list[FreeSlot], int]:
        s = t.slot
        stmt = _slots(
            facility_id,
            query.first_day,
            query.last_day,
            query.not_before,
            query.clinic_id,
            query.doctor_id,
            closed_too=query.places in ("any", "unavailable"),
        )
        if query.before is not None:
            stmt = stmt.where(s.c.start_at < query.before)
        if query.doctor_ids is not None:
            stmt = stmt.where(s.c.doctor_id.in_(query.doctor_ids))
        if query.places == "free":
            stmt = stmt.where(s.c.booked < s.c.capacity)
        elif query.places == "full":
            stmt = stmt.where(s.c.booked >= s.c.capacity)
        elif query.places == "unavailable":
            stmt = stmt.where(~s.c.active)
        total = self.conn.execute(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        ).scalar_one()
        rows = self.conn.execute(stmt.limit(page.size).offset(page.offset))
        return [FreeSlot(*row) for row in rows], int(total)

    def one(self, facility_id: int, slot_id: int) -> FreeSlot | None:
        s = t.slot
        row = self.conn.execute(
            _slot_views().where(
                s.c.facility_id == facility_id, s.c.id == slot_id, t.doctor.c.active
            )
        ).first()
        return FreeSlot(*row) if row else None

    def free_places(
        self,
        facility_id: int,
        *,
        first_day: date,
        last_day: date,
        not_before: datetime,
        clinic_id: int | None,
        doctor_id: int | None,
    ) -> list[FreePlaces]:
        s, d = t.slot, t.doctor
        stmt = (
            select(s.c.day, s.c.doctor_id, d.c.name, func.sum(s.c.capacity - s.c.booked))
            .join(d, d.c.id == s.c.doctor_id)
            .where(
                *_window(facility_id, first_day, last_day, not_before, clinic_id, doctor_id),
                s.c.booked < s.c.capacity,
            )
            .group_by(s.c.day, s.c.doctor_id, d.c.name)
            .order_by(s.c.day, s.c.doctor_id)
        )
        return [FreePlaces(day, doc, name, int(n)) for day, doc, name, n in self.conn.execute(stmt)]


def _slots(
    facility_id: int,
    first_day: date,
    last_day: date,
    not_before: datetime,
    clinic_id: int | None,
    doctor_id: int | None,
    *,
    closed_too: bool = False,
) -> Select[Any]:
    """Bookable slots of active doctors from one day to another, soonest first (and those
    closed to bookings, when asked)."""
    s = t.slot
    return (
        _slot_views()
        .where(
            *_window(
                facility_id,
                first_day,
                last_day,
                not_before,
                clinic_id,
                doctor_id,
                closed_too=closed_too,
            )
        )
        .order_by(s.c.start_at, s.c.doctor_id)
    )


def _slot_views() -> Select[Any]:
    """Slots as `FreeSlot`s: with their doctor's and clinic's names."""
    s, d, c = t.slot, t.doctor, t.clinic
    return (
        select(
            s.c.id,
            s.c.doctor_id,
            d.c.name,
            s.c.clinic_id,
            c.c.name,
            s.c.day,
            s.c.start_at,
            s.c.end_at,
            s.c.capacity,
            s.c.booked,
            s.c.active,
        )
        .join(d, d.c.id == s.c.doctor_id)
        .join(c, c.c.id == s.c.clinic_id)
    )


def _window(
    facility_id: int,
    first_day: date,
    last_day: date,
    not_before: datetime,
    clinic_id: int | None,
    doctor_id: int | None,
    *,
    closed_too: bool = False,
) -> list[ColumnElement[bool]]:
    """Active slots of active doctors from one day to another, starting no earlier than
    `not_before`, at a clinic or of a doctor when given (the slot joined with its doctor)."""
    s, d = t.slot, t.doctor
    found = [
        s.c.facility_id == facility_id,
        s.c.day >= first_day,
        s.c.day <= last_day,
        s.c.start_at >= not_before,
        d.c.active,
    ]
    if not closed_too:
        found.append(s.c.active)
    if clinic_id is not None:
        found.append(s.c.clinic_id == clinic_id)
    if doctor_id is not None:
        found.append(s.c.doctor_id == doctor_id)
    return found

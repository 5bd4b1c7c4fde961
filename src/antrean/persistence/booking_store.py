"""SQL storage for slots, patients and appointments: the hot path of booking."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select, update

from antrean.domain.booking import ACTIVE_STATUSES, Appointment, AppointmentStatus, SlotView
from antrean.domain.common import Page
from antrean.domain.patients import Patient, Sex
from antrean.domain.scheduling import ExistingSlot, SlotSpec
from antrean.persistence import statements as q
from antrean.persistence import tables as t
from antrean.persistence.prepared import insert_returning_id
from antrean.persistence.repositories import _like, _Repo, search_key
from antrean.services.ports import AppointmentFilter, Conflict, FreeSlot

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_PATIENT_COLUMNS = (
    "facility_id",
    "mrn",
    "name",
    "name_search",
    "birth_date",
    "sex",
    "phone",
    "address",
    "nik",
    "bpjs_number",
    "created_at",
)
_INSERT_PATIENT = insert_returning_id(t.patient, _PATIENT_COLUMNS)


class SqlSlots(_Repo):
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
        row = self.conn.execute(
            q.SLOT_VIEW, {"slot_id": slot_id, "facility_id": facility_id}
        ).first()
        return SlotView(*row) if row else None

    def view_with_patient(
        self, facility_id: int, slot_id: int, patient_id: int
    ) -> tuple[SlotView | None, bool]:
        params = {"slot_id": slot_id, "facility_id": facility_id, "patient_id": patient_id}
        row = self.conn.execute(q.SLOT_VIEW_WITH_PATIENT, params).first()
        if row is None:
            return None, False
        return SlotView(*row[:-1]), bool(row[-1])

    def try_take(self, slot_id: int) -> bool:
        return self.conn.execute(q.TAKE_PLACE, {"slot_id": slot_id}).rowcount == 1

    def release(self, slot_id: int) -> None:
        self.conn.execute(q.RELEASE_PLACE, {"slot_id": slot_id})

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
        s, d, c = t.slot, t.doctor, t.clinic
        stmt = (
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
            )
            .join(d, d.c.id == s.c.doctor_id)
            .join(c, c.c.id == s.c.clinic_id)
            .where(
                s.c.facility_id == facility_id,
                s.c.day >= first_day,
                s.c.day <= last_day,
                s.c.start_at >= not_before,
                s.c.active,
                d.c.active,
            )
            .order_by(s.c.start_at, s.c.doctor_id)
        )
        if clinic_id is not None:
            stmt = stmt.where(s.c.clinic_id == clinic_id)
        if doctor_id is not None:
            stmt = stmt.where(s.c.doctor_id == doctor_id)
        if only_free:
            stmt = stmt.where(s.c.booked < s.c.capacity)
        return [FreeSlot(*row) for row in self.conn.execute(stmt)]


class SqlPatients(_Repo):
    def add(self, patient: Patient) -> int:
        return int(_INSERT_PATIENT.scalar(self.conn, _patient_values(patient)))

    def get(self, facility_id: int, patient_id: int) -> Patient | None:
        row = self.conn.execute(
            select(t.patient).where(
                t.patient.c.facility_id == facility_id, t.patient.c.id == patient_id
            )
        ).first()
        return _patient(row) if row else None

    def get_by_mrn(self, facility_id: int, mrn: str) -> Patient | None:
        row = self.conn.execute(
            select(t.patient).where(t.patient.c.facility_id == facility_id, t.patient.c.mrn == mrn)
        ).first()
        return _patient(row) if row else None

    def update(self, facility_id: int, patient_id: int, values: dict[str, Any]) -> None:
        if "name" in values:
            values = {**values, "name_search": search_key(values["name"])}
        self.conn.execute(
            update(t.patient)
            .where(t.patient.c.facility_id == facility_id, t.patient.c.id == patient_id)
            .values(**values)
        )

    def search(
        self,
        facility_id: int,
        *,
        mrn: str | None,
        name: str | None,
        phone: str | None,
        page: Page,
    ) -> tuple[list[Patient], int]:
        p = t.patient
        conditions = [p.c.facility_id == facility_id]
        if mrn:
            conditions.append(p.c.mrn == mrn)
        if name:
            conditions.append(p.c.name_search.like(_like(search_key(name)), escape="\\"))
        if phone:
            conditions.append(p.c.phone == phone)
        where = and_(*conditions)
        total = self.conn.execute(select(func.count()).select_from(p).where(where)).scalar_one()
        rows = self.conn.execute(
            select(p)
            .where(where)
            .order_by(p.c.name_search, p.c.id)
            .limit(page.size)
            .offset(page.offset)
        )
        return [_patient(r) for r in rows], int(total)


def _patient_values(p: Patient) -> dict[str, Any]:
    return {
        "facility_id": p.facility_id,
        "mrn": p.mrn,
        "name": p.name,
        "name_search": search_key(p.name),
        "birth_date": p.birth_date,
        "sex": p.sex.value,
        "phone": p.phone,
        "address": p.address,
        "nik": p.nik,
        "bpjs_number": p.bpjs_number,
        "created_at": p.created_at,
    }


def _patient(row: Row[Any]) -> Patient:
    return Patient(
        id=row.id,
        facility_id=row.facility_id,
        mrn=row.mrn,
        name=row.name,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        phone=row.phone,
        address=row.address,
        nik=row.nik,
        bpjs_number=row.bpjs_number,
        created_at=row.created_at,
    )


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
    values = list(row)
    values[11] = AppointmentStatus(values[11])
    return Appointment(*values)


class SqlAppointments(_Repo):
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
        stmt = q.INSERT_APPOINTMENT[self.conn.dialect.name]
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

    def get_by_code(self, facility_id: int, code: str) -> Appointment | None:
        a = t.appointment
        row = self.conn.execute(
            select(*_APPOINTMENT_COLUMNS).where(a.c.facility_id == facility_id, a.c.code == code)
        ).first()
        return _appointment(row) if row else None

    def save(self, appointment: Appointment) -> None:
        a = appointment
        self.conn.execute(
            update(t.appointment)
            .where(t.appointment.c.id == a.id)
            .values(
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

    def find(
        self, facility_id: int, flt: AppointmentFilter, page: Page
    ) -> tuple[list[Appointment], int]:
        a = t.appointment
        conditions = [a.c.facility_id == facility_id]
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
        where = and_(*conditions)
        total = self.conn.execute(select(func.count()).select_from(a).where(where)).scalar_one()
        rows = self.conn.execute(
            select(*_APPOINTMENT_COLUMNS)
            .where(where)
            .order_by(a.c.start_at, a.c.id)
            .limit(page.size)
            .offset(page.offset)
        )
        return [_appointment(r) for r in rows], int(total)

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
        return self.conn.execute(q.COUNT_DAY, params).first() is not None

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
    ) -> None:
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

    def open_conflicts(self, facility_id: int) -> list[Conflict]:
        b, a = t.booking_conflict, t.appointment
        rows = self.conn.execute(
            select(b.c.id, b.c.appointment_id, a.c.code, b.c.slot_id, b.c.reason, b.c.detected_at)
            .join(a, a.c.id == b.c.appointment_id)
            .where(b.c.facility_id == facility_id, b.c.resolved_at.is_(None))
            .order_by(b.c.detected_at, b.c.id)
        )
        return [Conflict(*row) for row in rows]

    def resolve_conflicts(self, appointment_id: int, at: datetime) -> None:
        b = t.booking_conflict
        self.conn.execute(
            update(b)
            .where(b.c.appointment_id == appointment_id, b.c.resolved_at.is_(None))
            .values(resolved_at=at)
        )


__all__ = ["SqlAppointments", "SqlPatients", "SqlSlots"]

"""SQL storage of the catalog: clinics with their opening hours and counters, services, doctors."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from antrean.domain.catalog import Clinic, Doctor, OpeningHours, Service
from antrean.persistence import tables as t
from antrean.persistence.rows import Repository
from antrean.services.ports import UniqueViolation


class SqlCatalog(Repository):
    def list_clinics(self, facility_id: int) -> list[Clinic]:
        rows = self.conn.execute(
            select(t.clinic).where(t.clinic.c.facility_id == facility_id).order_by(t.clinic.c.id)
        ).all()
        hours = self.opening_hours(facility_id)
        return [_clinic(r, hours.get(r.id, [])) for r in rows]

    def get_clinic(self, facility_id: int, clinic_id: int) -> Clinic | None:
        row = self.conn.execute(
            select(t.clinic).where(
                t.clinic.c.facility_id == facility_id, t.clinic.c.id == clinic_id
            )
        ).first()
        if row is None:
            return None
        hours = self.conn.execute(
            select(t.clinic_hours)
            .where(t.clinic_hours.c.clinic_id == clinic_id)
            .order_by(t.clinic_hours.c.weekday, t.clinic_hours.c.opens_at)
        ).all()
        return _clinic(row, [_hours(h) for h in hours])

    def add_clinic(self, clinic: Clinic, created_at: datetime) -> int:
        return self.insert_id(
            insert(t.clinic).values(
                facility_id=clinic.facility_id,
                code=clinic.code,
                name=clinic.name,
                queue_prefix=clinic.queue_prefix,
                is_open=clinic.is_open,
                created_at=created_at,
            )
        )

    def save_clinic(self, clinic: Clinic) -> None:
        try:
            self.conn.execute(
                update(t.clinic)
                .where(t.clinic.c.facility_id == clinic.facility_id, t.clinic.c.id == clinic.id)
                .values(name=clinic.name, queue_prefix=clinic.queue_prefix, is_open=clinic.is_open)
            )
        except IntegrityError as exc:
            raise UniqueViolation(str(exc.orig)) from exc

    def replace_hours(self, facility_id: int, clinic_id: int, hours: list[OpeningHours]) -> None:
        self.conn.execute(delete(t.clinic_hours).where(t.clinic_hours.c.clinic_id == clinic_id))
        if hours:
            self.conn.execute(
                insert(t.clinic_hours),
                [
                    {
                        "facility_id": facility_id,
                        "clinic_id": clinic_id,
                        "weekday": h.weekday,
                        "opens_at": h.opens,
                        "closes_at": h.closes,
                    }
                    for h in hours
                ],
            )

    def opening_hours(self, facility_id: int) -> dict[int, list[OpeningHours]]:
        rows = self.conn.execute(
            select(t.clinic_hours)
            .where(t.clinic_hours.c.facility_id == facility_id)
            .order_by(t.clinic_hours.c.weekday, t.clinic_hours.c.opens_at)
        ).all()
        result: dict[int, list[OpeningHours]] = defaultdict(list)
        for row in rows:
            result[row.clinic_id].append(_hours(row))
        return dict(result)

    def list_services(self, facility_id: int, clinic_id: int | None) -> list[Service]:
        stmt = select(t.service).where(t.service.c.facility_id == facility_id)
        if clinic_id is not None:
            stmt = stmt.where(t.service.c.clinic_id == clinic_id)
        return [_service(r) for r in self.conn.execute(stmt.order_by(t.service.c.id))]

    def get_service(self, facility_id: int, service_id: int) -> Service | None:
        row = self.conn.execute(
            select(t.service).where(
                t.service.c.facility_id == facility_id, t.service.c.id == service_id
            )
        ).first()
        return _service(row) if row else None

    def add_service(self, facility_id: int, row: Service) -> int:
        return self.insert_id(
            insert(t.service).values(
                facility_id=facility_id,
                clinic_id=row.clinic_id,
                name=row.name,
                duration_minutes=row.duration_minutes,
                active=row.active,
            )
        )

    def save_service(self, facility_id: int, service: Service) -> None:
        self.conn.execute(
            update(t.service)
            .where(t.service.c.facility_id == facility_id, t.service.c.id == service.id)
            .values(
                clinic_id=service.clinic_id,
                name=service.name,
                duration_minutes=service.duration_minutes,
                active=service.active,
            )
        )

    def list_counters(self, facility_id: int, clinic_id: int) -> list[str]:
        sp = t.service_point
        rows = self.conn.execute(
            select(sp.c.name)
            .where(sp.c.facility_id == facility_id, sp.c.clinic_id == clinic_id, sp.c.active)
            .order_by(sp.c.id)
        )
        return list(rows.scalars())

    def add_counter(self, facility_id: int, clinic_id: int, name: str) -> None:
        sp = t.service_point
        existing = self.conn.execute(
            select(sp.c.id).where(sp.c.clinic_id == clinic_id, sp.c.name == name)
        ).first()
        if existing is not None:
            if not self.set_counter_active(facility_id, clinic_id, name, True):
                raise UniqueViolation("counter name")
            return
        self.insert_id(insert(sp).values(facility_id=facility_id, clinic_id=clinic_id, name=name))

    def set_counter_active(self, facility_id: int, clinic_id: int, name: str, active: bool) -> bool:
        sp = t.service_point
        result = self.conn.execute(
            update(sp)
            .where(
                sp.c.facility_id == facility_id,
                sp.c.clinic_id == clinic_id,
                sp.c.name == name,
                sp.c.active.is_not(active),
            )
            .values(active=active)
        )
        return result.rowcount == 1

    def list_doctors(self, facility_id: int) -> list[Doctor]:
        rows = self.conn.execute(
            select(t.doctor).where(t.doctor.c.facility_id == facility_id).order_by(t.doctor.c.id)
        )
        return [_doctor(r) for r in rows]

    def get_doctor(self, facility_id: int, doctor_id: int) -> Doctor | None:
        row = self.conn.execute(
            select(t.doctor).where(
                t.doctor.c.facility_id == facility_id, t.doctor.c.id == doctor_id
            )
        ).first()
        return _doctor(row) if row else None

    def add_doctor(self, facility_id: int, row: Doctor) -> int:
        return self.insert_id(
            insert(t.doctor).values(
                facility_id=facility_id, name=row.name, specialty=row.specialty, active=row.active
            )
        )

    def save_doctor(self, facility_id: int, doctor: Doctor) -> None:
        self.conn.execute(
            update(t.doctor)
            .where(t.doctor.c.facility_id == facility_id, t.doctor.c.id == doctor.id)
            .values(name=doctor.name, specialty=doctor.specialty, active=doctor.active)
        )


def _clinic(row: Row[Any], hours: list[OpeningHours]) -> Clinic:
    return Clinic(
        id=row.id,
        facility_id=row.facility_id,
        code=row.code,
        name=row.name,
        queue_prefix=row.queue_prefix,
        is_open=row.is_open,
        hours=hours,
    )


def _hours(row: Row[Any]) -> OpeningHours:
    return OpeningHours(weekday=row.weekday, opens=row.opens_at, closes=row.closes_at)


def _service(row: Row[Any]) -> Service:
    return Service(
        id=row.id,
        clinic_id=row.clinic_id,
        name=row.name,
        duration_minutes=row.duration_minutes,
        active=row.active,
    )


def _doctor(row: Row[Any]) -> Doctor:
    return Doctor(id=row.id, name=row.name, specialty=row.specialty, active=row.active)

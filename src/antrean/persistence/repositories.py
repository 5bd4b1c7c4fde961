"""SQL implementations of the storage ports. Repositories never commit."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from antrean.domain.scheduling import (
    Clinic,
    ExceptionKind,
    OpeningHours,
    Schedule,
    ScheduleException,
)
from antrean.persistence import statements as q
from antrean.persistence import tables as t
from antrean.services.ports import (
    DoctorRow,
    ServiceRow,
    UniqueViolation,
)


class _Repo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _insert_id(self, stmt: Any, params: dict[str, Any] | None = None) -> int:
        try:
            return int(self.conn.execute(stmt, params).inserted_primary_key[0])
        except IntegrityError as exc:
            raise UniqueViolation(str(exc.orig)) from exc

    def _upsert(self, table: Any) -> Any:
        dialect = self.conn.dialect.name
        return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _like(text_value: str) -> str:
    escaped = text_value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_key(name: str) -> str:
    """A case- and space-insensitive form of a name for searching."""
    return " ".join(name.lower().split())


class SqlCatalog(_Repo):
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
        return self._insert_id(
            insert(t.clinic).values(
                facility_id=clinic.facility_id,
                code=clinic.code,
                name=clinic.name,
                queue_prefix=clinic.queue_prefix,
                is_open=clinic.is_open,
                created_at=created_at,
            )
        )

    def update_clinic(self, facility_id: int, clinic_id: int, values: dict[str, Any]) -> None:
        try:
            self.conn.execute(
                update(t.clinic)
                .where(t.clinic.c.facility_id == facility_id, t.clinic.c.id == clinic_id)
                .values(**values)
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

    def list_services(self, facility_id: int, clinic_id: int | None) -> list[ServiceRow]:
        stmt = select(t.service).where(t.service.c.facility_id == facility_id)
        if clinic_id is not None:
            stmt = stmt.where(t.service.c.clinic_id == clinic_id)
        return [_service(r) for r in self.conn.execute(stmt.order_by(t.service.c.id))]

    def get_service(self, facility_id: int, service_id: int) -> ServiceRow | None:
        row = self.conn.execute(
            select(t.service).where(
                t.service.c.facility_id == facility_id, t.service.c.id == service_id
            )
        ).first()
        return _service(row) if row else None

    def add_service(self, facility_id: int, row: ServiceRow) -> int:
        return self._insert_id(
            insert(t.service).values(
                facility_id=facility_id,
                clinic_id=row.clinic_id,
                name=row.name,
                duration_minutes=row.duration_minutes,
                active=row.active,
            )
        )

    def update_service(self, facility_id: int, service_id: int, values: dict[str, Any]) -> None:
        self.conn.execute(
            update(t.service)
            .where(t.service.c.facility_id == facility_id, t.service.c.id == service_id)
            .values(**values)
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
        self._insert_id(insert(sp).values(facility_id=facility_id, clinic_id=clinic_id, name=name))

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

    def list_doctors(self, facility_id: int) -> list[DoctorRow]:
        rows = self.conn.execute(
            select(t.doctor).where(t.doctor.c.facility_id == facility_id).order_by(t.doctor.c.id)
        )
        return [_doctor(r) for r in rows]

    def get_doctor(self, facility_id: int, doctor_id: int) -> DoctorRow | None:
        row = self.conn.execute(
            select(t.doctor).where(
                t.doctor.c.facility_id == facility_id, t.doctor.c.id == doctor_id
            )
        ).first()
        return _doctor(row) if row else None

    def add_doctor(self, facility_id: int, row: DoctorRow) -> int:
        return self._insert_id(
            insert(t.doctor).values(
                facility_id=facility_id, name=row.name, specialty=row.specialty, active=row.active
            )
        )

    def update_doctor(self, facility_id: int, doctor_id: int, values: dict[str, Any]) -> None:
        self.conn.execute(
            update(t.doctor)
            .where(t.doctor.c.facility_id == facility_id, t.doctor.c.id == doctor_id)
            .values(**values)
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


def _service(row: Row[Any]) -> ServiceRow:
    return ServiceRow(
        id=row.id,
        clinic_id=row.clinic_id,
        name=row.name,
        duration_minutes=row.duration_minutes,
        active=row.active,
    )


def _doctor(row: Row[Any]) -> DoctorRow:
    return DoctorRow(id=row.id, name=row.name, specialty=row.specialty, active=row.active)


class SqlSchedules(_Repo):
    def all(
        self, facility_id: int, *, doctor_id: int | None = None, clinic_id: int | None = None
    ) -> list[Schedule]:
        stmt = select(t.schedule).where(t.schedule.c.facility_id == facility_id)
        if doctor_id is not None:
            stmt = stmt.where(t.schedule.c.doctor_id == doctor_id)
        if clinic_id is not None:
            stmt = stmt.where(t.schedule.c.clinic_id == clinic_id)
        stmt = stmt.order_by(t.schedule.c.doctor_id, t.schedule.c.weekday, t.schedule.c.start_time)
        return [_schedule(r) for r in self.conn.execute(stmt)]

    def get(self, facility_id: int, schedule_id: int) -> Schedule | None:
        row = self.conn.execute(
            select(t.schedule).where(
                t.schedule.c.facility_id == facility_id, t.schedule.c.id == schedule_id
            )
        ).first()
        return _schedule(row) if row else None

    def add(self, facility_id: int, schedule: Schedule) -> int:
        return self._insert_id(
            insert(t.schedule).values(facility_id=facility_id, **_schedule_values(schedule))
        )

    def update(self, facility_id: int, schedule: Schedule) -> None:
        self.conn.execute(
            update(t.schedule)
            .where(t.schedule.c.facility_id == facility_id, t.schedule.c.id == schedule.id)
            .values(**_schedule_values(schedule))
        )

    def delete(self, facility_id: int, schedule_id: int) -> None:
        self.conn.execute(
            delete(t.schedule).where(
                t.schedule.c.facility_id == facility_id, t.schedule.c.id == schedule_id
            )
        )

    def list_exceptions(
        self, facility_id: int, first_day: date, last_day: date
    ) -> list[ScheduleException]:
        params = {"facility_id": facility_id, "first_day": first_day, "last_day": last_day}
        return [_exception(r) for r in self.conn.execute(q.EXCEPTIONS_BETWEEN, params)]

    def get_exception(self, facility_id: int, exception_id: int) -> ScheduleException | None:
        e = t.schedule_exception
        row = self.conn.execute(
            select(e).where(e.c.facility_id == facility_id, e.c.id == exception_id)
        ).first()
        return _exception(row) if row else None

    def add_exception(self, facility_id: int, exc: ScheduleException) -> int:
        return self._insert_id(
            insert(t.schedule_exception).values(
                facility_id=facility_id,
                kind=exc.kind.value,
                date_from=exc.date_from,
                date_to=exc.date_to,
                doctor_id=exc.doctor_id,
                clinic_id=exc.clinic_id,
                start_time=exc.start,
                end_time=exc.end,
                reason=exc.reason,
            )
        )

    def delete_exception(self, facility_id: int, exception_id: int) -> None:
        e = t.schedule_exception
        self.conn.execute(delete(e).where(e.c.facility_id == facility_id, e.c.id == exception_id))


def _schedule(row: Row[Any]) -> Schedule:
    return Schedule(
        id=row.id,
        doctor_id=row.doctor_id,
        clinic_id=row.clinic_id,
        weekday=row.weekday,
        start=row.start_time,
        end=row.end_time,
        slot_minutes=row.slot_minutes,
        capacity=row.capacity,
    )


def _schedule_values(s: Schedule) -> dict[str, Any]:
    return {
        "doctor_id": s.doctor_id,
        "clinic_id": s.clinic_id,
        "weekday": s.weekday,
        "start_time": s.start,
        "end_time": s.end,
        "slot_minutes": s.slot_minutes,
        "capacity": s.capacity,
    }


def _exception(row: Row[Any]) -> ScheduleException:
    return ScheduleException(
        id=row.id,
        kind=ExceptionKind(row.kind),
        date_from=row.date_from,
        date_to=row.date_to,
        doctor_id=row.doctor_id,
        clinic_id=row.clinic_id,
        start=row.start_time,
        end=row.end_time,
        reason=row.reason,
    )

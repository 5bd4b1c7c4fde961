"""SQL storage of weekly schedules and their exceptions (leave, holidays, changed hours)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update

from antrean.domain.scheduling import ExceptionKind, Schedule, ScheduleException
from antrean.persistence import tables as t
from antrean.persistence.rows import Repository

_e = t.schedule_exception

EXCEPTIONS_BETWEEN = (
    select(_e)
    .where(
        _e.c.facility_id == bindparam("facility_id"),
        _e.c.date_to >= bindparam("first_day"),
        _e.c.date_from <= bindparam("last_day"),
    )
    .order_by(_e.c.date_from, _e.c.id)
)


class SqlSchedules(Repository):
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
        return self.insert_id(
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
        return [_exception(r) for r in self.conn.execute(EXCEPTIONS_BETWEEN, params)]

    def get_exception(self, facility_id: int, exception_id: int) -> ScheduleException | None:
        e = t.schedule_exception
        row = self.conn.execute(
            select(e).where(e.c.facility_id == facility_id, e.c.id == exception_id)
        ).first()
        return _exception(row) if row else None

    def add_exception(self, facility_id: int, exc: ScheduleException) -> int:
        return self.insert_id(
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

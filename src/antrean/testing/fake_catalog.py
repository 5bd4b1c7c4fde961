"""In-memory catalog and schedules, with the contract of the SQL stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from antrean.domain.catalog import Clinic, Doctor, OpeningHours, Service
from antrean.domain.scheduling import Schedule, ScheduleException
from antrean.services.ports import (
    UniqueViolation,
)
from antrean.testing.memory_store import StorePart


class FakeCatalog(StorePart):
    def list_clinics(self, facility_id: int) -> list[Clinic]:
        return [
            replace(c, hours=list(c.hours))
            for c in self.s.clinics.values()
            if c.facility_id == facility_id
        ]

    def get_clinic(self, facility_id: int, clinic_id: int) -> Clinic | None:
        c = self.s.clinics.get(clinic_id)
        return replace(c, hours=list(c.hours)) if c and c.facility_id == facility_id else None

    def add_clinic(self, clinic: Clinic, created_at: datetime) -> int:
        if any(
            c.code == clinic.code and c.facility_id == clinic.facility_id
            for c in self.s.clinics.values()
        ):
            raise UniqueViolation("clinic code")
        new = replace(clinic, id=self.s.next_id("clinic"), hours=[])
        self.s.clinics[new.id] = new
        return new.id

    def save_clinic(self, clinic: Clinic) -> None:
        stored = self.s.clinics[clinic.id]
        self.s.clinics[clinic.id] = replace(
            stored, name=clinic.name, queue_prefix=clinic.queue_prefix, is_open=clinic.is_open
        )

    def replace_hours(self, facility_id: int, clinic_id: int, hours: list[OpeningHours]) -> None:
        self.s.clinics[clinic_id].hours = list(hours)

    def opening_hours(self, facility_id: int) -> dict[int, list[OpeningHours]]:
        return {c.id: list(c.hours) for c in self.list_clinics(facility_id) if c.hours}

    def list_services(self, facility_id: int, clinic_id: int | None) -> list[Service]:
        return [
            s
            for s in self.s.services.values()
            if clinic_id in (None, s.clinic_id) and self.s.owned("service", s.id, facility_id)
        ]

    def get_service(self, facility_id: int, service_id: int) -> Service | None:
        found = self.s.services.get(service_id)
        return found if found and self.s.owned("service", found.id, facility_id) else None

    def add_service(self, facility_id: int, row: Service) -> int:
        new = replace(row, id=self.s.own("service", self.s.next_id("service"), facility_id))
        self.s.services[new.id] = new
        return new.id

    def save_service(self, facility_id: int, service: Service) -> None:
        self.s.services[service.id] = service

    def list_counters(self, facility_id: int, clinic_id: int) -> list[str]:
        return [
            name for (cid, name), on in self.s.service_points.items() if cid == clinic_id and on
        ]

    def add_counter(self, facility_id: int, clinic_id: int, name: str) -> None:
        if self.s.service_points.get((clinic_id, name)):
            raise UniqueViolation("counter name")
        self.s.service_points[(clinic_id, name)] = True

    def set_counter_active(self, facility_id: int, clinic_id: int, name: str, active: bool) -> bool:
        if self.s.service_points.get((clinic_id, name)) in (None, active):
            return False
        self.s.service_points[(clinic_id, name)] = active
        return True

    def list_doctors(self, facility_id: int) -> list[Doctor]:
        return [d for d in self.s.doctors.values() if self.s.owned("doctor", d.id, facility_id)]

    def get_doctor(self, facility_id: int, doctor_id: int) -> Doctor | None:
        found = self.s.doctors.get(doctor_id)
        return found if found and self.s.owned("doctor", found.id, facility_id) else None

    def add_doctor(self, facility_id: int, row: Doctor) -> int:
        new = replace(row, id=self.s.own("doctor", self.s.next_id("doctor"), facility_id))
        self.s.doctors[new.id] = new
        return new.id

    def save_doctor(self, facility_id: int, doctor: Doctor) -> None:
        self.s.doctors[doctor.id] = doctor


class FakeSchedules(StorePart):
    def all(
        self, facility_id: int, *, doctor_id: int | None = None, clinic_id: int | None = None
    ) -> list[Schedule]:
        found = [
            replace(s)
            for s in self.s.schedules.values()
            if doctor_id in (None, s.doctor_id)
            and clinic_id in (None, s.clinic_id)
            and self.s.owned("schedule", s.id, facility_id)
        ]
        return sorted(found, key=lambda s: (s.doctor_id, s.weekday, s.start))

    def get(self, facility_id: int, schedule_id: int) -> Schedule | None:
        found = self.s.schedules.get(schedule_id)
        return replace(found) if found and self.s.owned("schedule", found.id, facility_id) else None

    def add(self, facility_id: int, schedule: Schedule) -> int:
        new = replace(schedule, id=self.s.own("schedule", self.s.next_id("schedule"), facility_id))
        self.s.schedules[new.id] = new
        return new.id

    def update(self, facility_id: int, schedule: Schedule) -> None:
        self.s.schedules[schedule.id] = schedule

    def delete(self, facility_id: int, schedule_id: int) -> None:
        self.s.schedules.pop(schedule_id, None)

    def list_exceptions(
        self, facility_id: int, first_day: date, last_day: date
    ) -> list[ScheduleException]:
        found = [
            replace(e)
            for e in self.s.exceptions.values()
            if e.date_to >= first_day
            and e.date_from <= last_day
            and self.s.owned("exception", e.id, facility_id)
        ]
        return sorted(found, key=lambda e: (e.date_from, e.id))

    def get_exception(self, facility_id: int, exception_id: int) -> ScheduleException | None:
        found = self.s.exceptions.get(exception_id)
        if found is None or not self.s.owned("exception", found.id, facility_id):
            return None
        return replace(found)

    def add_exception(self, facility_id: int, exc: ScheduleException) -> int:
        new = replace(exc, id=self.s.own("exception", self.s.next_id("exception"), facility_id))
        self.s.exceptions[new.id] = new
        return new.id

    def delete_exception(self, facility_id: int, exception_id: int) -> None:
        self.s.exceptions.pop(exception_id, None)

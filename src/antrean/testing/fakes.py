"""In-memory storage with the same ports as the SQL repositories, and a unit of work over it.

A transaction works on a copy of the store; `commit()` makes the copy the store, leaving the
block without committing throws the copy away. Enough to test services without a database.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from antrean.domain.booking import ACTIVE_STATUSES, Appointment, SlotView
from antrean.domain.catalog import Clinic, Doctor, OpeningHours, Service
from antrean.domain.common import Clock, Page
from antrean.domain.eta import EwmaServiceTime
from antrean.domain.events import DomainEvent
from antrean.domain.identity import Role, User
from antrean.domain.patients import Patient
from antrean.domain.queue import Ticket, TicketState, queue_order
from antrean.domain.scheduling import ExistingSlot, Schedule, ScheduleException, SlotSpec
from antrean.services.ports import (
    AppointmentFilter,
    ClinicQueueFacts,
    Conflict,
    FreeSlot,
    Named,
    RefreshTokenRow,
    TicketEventRow,
    UniqueViolation,
)


@dataclass
class _Slot:
    id: int
    facility_id: int
    doctor_id: int
    clinic_id: int
    day: date
    start_at: datetime
    end_at: datetime
    capacity: int
    booked: int = 0
    active: bool = True


@dataclass
class Store:
    ids: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    facilities: dict[int, Named] = field(default_factory=dict)
    clinics: dict[int, Clinic] = field(default_factory=dict)
    services: dict[int, Service] = field(default_factory=dict)
    doctors: dict[int, Doctor] = field(default_factory=dict)
    schedules: dict[int, Schedule] = field(default_factory=dict)
    exceptions: dict[int, ScheduleException] = field(default_factory=dict)
    slots: dict[int, _Slot] = field(default_factory=dict)
    patients: dict[int, Patient] = field(default_factory=dict)
    appointments: dict[int, Appointment] = field(default_factory=dict)
    day_counts: dict[tuple[int, int, date], int] = field(default_factory=dict)
    conflicts: dict[int, tuple[int, int, str, datetime, datetime | None]] = field(
        default_factory=dict
    )
    users: dict[int, User] = field(default_factory=dict)
    refresh: dict[str, RefreshTokenRow] = field(default_factory=dict)
    idempotency: dict[tuple[int, str], list[Any]] = field(default_factory=dict)
    sequences: dict[tuple[int, str], int] = field(default_factory=dict)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    service_points: dict[tuple[int, str], bool] = field(default_factory=dict)
    ticket_events: list[tuple[int, datetime, TicketEventRow]] = field(default_factory=list)
    service_times: dict[int, EwmaServiceTime] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list)
    # The facility of rows whose domain type does not carry it (services, doctors, ...).
    owners: dict[tuple[str, int], int] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]

    def own(self, kind: str, row_id: int, facility_id: int) -> int:
        self.owners[(kind, row_id)] = facility_id
        return row_id

    def owned(self, kind: str, row_id: int, facility_id: int) -> bool:
        return self.owners.get((kind, row_id)) == facility_id


class _Part:
    def __init__(self, store: Store) -> None:
        self.s = store


class FakeCatalog(_Part):
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


class FakeSchedules(_Part):
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


class FakeSlots(_Part):
    def existing(self, facility_id: int, first_day: date, last_day: date) -> list[ExistingSlot]:
        return [
            ExistingSlot(
                s.id, s.doctor_id, s.start_at, s.end_at, s.clinic_id, s.capacity, s.booked, s.active
            )
            for s in self.s.slots.values()
            if first_day <= s.day <= last_day and s.facility_id == facility_id
        ]

    def insert(self, facility_id: int, specs: list[SlotSpec]) -> None:
        for spec in specs:
            if any(
                s.doctor_id == spec.doctor_id and s.start_at == spec.start_at
                for s in self.s.slots.values()
            ):
                raise UniqueViolation("slot doctor/start")
            slot_id = self.s.next_id("slot")
            self.s.slots[slot_id] = _Slot(
                slot_id,
                facility_id,
                spec.doctor_id,
                spec.clinic_id,
                spec.day,
                spec.start_at,
                spec.end_at,
                spec.capacity,
            )

    def set_capacity(self, slot_id: int, capacity: int) -> None:
        self.s.slots[slot_id].capacity = capacity

    def set_active(self, slot_ids: list[int], active: bool) -> None:
        for slot_id in slot_ids:
            self.s.slots[slot_id].active = active

    def delete(self, slot_ids: list[int]) -> None:
        for slot_id in slot_ids:
            if self.s.slots[slot_id].booked == 0:
                del self.s.slots[slot_id]
                for a in self.s.appointments.values():
                    if a.slot_id == slot_id:
                        a.slot_id = None

    def view(self, facility_id: int, slot_id: int) -> SlotView | None:
        s = self.s.slots.get(slot_id)
        if s is None or s.facility_id != facility_id:
            return None
        return SlotView(
            s.id,
            s.facility_id,
            s.doctor_id,
            s.clinic_id,
            s.day,
            s.start_at,
            s.end_at,
            s.capacity,
            s.booked,
            s.active,
            self.s.clinics[s.clinic_id].is_open,
        )

    def view_with_patient(
        self, facility_id: int, slot_id: int, patient_id: int
    ) -> tuple[SlotView | None, bool]:
        patient = self.s.patients.get(patient_id)
        known = patient is not None and patient.facility_id == facility_id
        return self.view(facility_id, slot_id), known

    def try_take(self, slot_id: int) -> bool:
        s = self.s.slots[slot_id]
        if s.booked >= s.capacity or not s.active:
            return False
        s.booked += 1
        return True

    def release(self, slot_id: int) -> None:
        s = self.s.slots.get(slot_id)
        if s is not None and s.booked > 0:
            s.booked -= 1

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
        found = [
            FreeSlot(
                s.id,
                s.doctor_id,
                self.s.doctors[s.doctor_id].name,
                s.clinic_id,
                self.s.clinics[s.clinic_id].name,
                s.day,
                s.start_at,
                s.end_at,
                s.capacity,
                s.booked,
            )
            for s in self.s.slots.values()
            if s.facility_id == facility_id
            and first_day <= s.day <= last_day
            and s.start_at >= not_before
            and s.active
            and self.s.doctors[s.doctor_id].active
            and clinic_id in (None, s.clinic_id)
            and doctor_id in (None, s.doctor_id)
            and (not only_free or s.booked < s.capacity)
        ]
        return sorted(found, key=lambda f: (f.start_at, f.doctor_id))


class FakePatients(_Part):
    def add(self, patient: Patient) -> int:
        if any(
            p.mrn == patient.mrn and p.facility_id == patient.facility_id
            for p in self.s.patients.values()
        ):
            raise UniqueViolation("mrn")
        new = replace(patient, id=self.s.next_id("patient"))
        self.s.patients[new.id] = new
        return new.id

    def get(self, facility_id: int, patient_id: int) -> Patient | None:
        p = self.s.patients.get(patient_id)
        return replace(p) if p and p.facility_id == facility_id else None

    def get_many(self, facility_id: int, patient_ids: list[int]) -> dict[int, Patient]:
        return {
            i: p
            for i, p in self.s.patients.items()
            if i in patient_ids and p.facility_id == facility_id
        }

    def get_by_mrn(self, facility_id: int, mrn: str) -> Patient | None:
        found = next(
            (p for p in self.s.patients.values() if p.mrn == mrn and p.facility_id == facility_id),
            None,
        )
        return replace(found) if found else None

    def save(self, patient: Patient) -> None:
        mrn = self.s.patients[patient.id].mrn
        self.s.patients[patient.id] = replace(patient, mrn=mrn)

    def search(
        self, facility_id: int, *, mrn: str | None, name: str | None, phone: str | None, page: Page
    ) -> tuple[list[Patient], int]:
        key = " ".join((name or "").lower().split())
        found = [
            replace(p)
            for p in self.s.patients.values()
            if p.facility_id == facility_id
            and (not mrn or p.mrn == mrn)
            and (not key or key in " ".join(p.name.lower().split()))
            and (not phone or p.phone == phone)
        ]
        found.sort(key=lambda p: (" ".join(p.name.lower().split()), p.id))
        return found[page.offset : page.offset + page.size], len(found)


class FakeAppointments(_Part):
    def add(self, appointment: Appointment, created_by: int | None) -> int | None:
        if any(
            a.code == appointment.code and a.facility_id == appointment.facility_id
            for a in self.s.appointments.values()
        ):
            return None
        new = replace(appointment, id=self.s.next_id("appointment"))
        self.s.appointments[new.id] = new
        return new.id

    def get(self, facility_id: int, appointment_id: int) -> Appointment | None:
        a = self.s.appointments.get(appointment_id)
        return replace(a) if a and a.facility_id == facility_id else None

    def get_by_code(self, facility_id: int, code: str) -> Appointment | None:
        a = next(
            (
                a
                for a in self.s.appointments.values()
                if a.code == code and a.facility_id == facility_id
            ),
            None,
        )
        return replace(a) if a else None

    def save(self, appointment: Appointment) -> None:
        self.s.appointments[appointment.id] = replace(appointment)

    def find(
        self, facility_id: int, flt: AppointmentFilter, page: Page
    ) -> tuple[list[Appointment], int]:
        found = [
            replace(a)
            for a in self.s.appointments.values()
            if a.facility_id == facility_id
            and flt.patient_id in (None, a.patient_id)
            and flt.clinic_id in (None, a.clinic_id)
            and flt.doctor_id in (None, a.doctor_id)
            and flt.status in (None, a.status)
            and (flt.day_from is None or a.day >= flt.day_from)
            and (flt.day_to is None or a.day <= flt.day_to)
        ]
        found.sort(key=lambda a: (a.start_at, a.id))
        return found[page.offset : page.offset + page.size], len(found)

    def active_in_slots(self, slot_ids: list[int]) -> list[Appointment]:
        return [
            a
            for a in self.s.appointments.values()
            if a.slot_id in slot_ids and a.status in ACTIVE_STATUSES
        ]

    def try_count_day(
        self, facility_id: int, patient_id: int, clinic_id: int, day: date, limit: int
    ) -> bool:
        key = (patient_id, clinic_id, day)
        if self.s.day_counts.get(key, 0) >= limit:
            return False
        self.s.day_counts[key] = self.s.day_counts.get(key, 0) + 1
        return True

    def uncount_day(self, patient_id: int, clinic_id: int, day: date) -> None:
        key = (patient_id, clinic_id, day)
        if self.s.day_counts.get(key, 0) > 0:
            self.s.day_counts[key] -= 1

    def add_conflict(
        self, facility_id: int, appointment_id: int, slot_id: int, reason: str, at: datetime
    ) -> bool:
        if any(
            c[0] == appointment_id and c[2] == reason and c[4] is None
            for c in self.s.conflicts.values()
        ):
            return False
        self.s.conflicts[self.s.next_id("conflict")] = (appointment_id, slot_id, reason, at, None)
        return True

    def close_conflict(self, facility_id: int, conflict_id: int, at: datetime) -> Conflict | None:
        found = self.s.conflicts.get(conflict_id)
        if found is None or found[4] is not None:
            return None
        a_id, slot_id, reason, detected, _ = found
        if self.s.appointments[a_id].facility_id != facility_id:
            return None
        self.s.conflicts[conflict_id] = (a_id, slot_id, reason, detected, at)
        return Conflict(
            conflict_id, a_id, self.s.appointments[a_id].code, slot_id, reason, detected
        )

    def open_conflicts(self, facility_id: int) -> list[Conflict]:
        found = [
            Conflict(cid, a_id, self.s.appointments[a_id].code, slot_id, reason, at)
            for cid, (a_id, slot_id, reason, at, resolved) in self.s.conflicts.items()
            if resolved is None and self.s.appointments[a_id].facility_id == facility_id
        ]
        return sorted(found, key=lambda c: (c.detected_at, c.id))

    def resolve_conflicts(self, appointment_id: int, at: datetime) -> None:
        for cid, c in list(self.s.conflicts.items()):
            if c[0] == appointment_id and c[4] is None:
                self.s.conflicts[cid] = (*c[:4], at)


class FakeUsers(_Part):
    def add(self, user: User, created_at: datetime) -> int:
        if any(u.username == user.username for u in self.s.users.values()):
            raise UniqueViolation("username")
        new = replace(user, id=self.s.next_id("user"))
        self.s.users[new.id] = new
        return new.id

    def get(self, user_id: int) -> User | None:
        found = self.s.users.get(user_id)
        return replace(found) if found else None

    def get_by_username(self, username: str) -> User | None:
        found = next((u for u in self.s.users.values() if u.username == username), None)
        return replace(found) if found else None

    def list(self, facility_id: int, page: Page) -> tuple[list[User], int]:
        found = sorted(
            (replace(u) for u in self.s.users.values() if u.facility_id == facility_id),
            key=lambda u: u.username,
        )
        return found[page.offset : page.offset + page.size], len(found)

    def save(self, user: User) -> None:
        stored = self.s.users[user.id]
        self.s.users[user.id] = replace(user, username=stored.username)

    def count_active_admins(self, facility_id: int) -> int:
        return sum(
            1
            for u in self.s.users.values()
            if u.facility_id == facility_id and u.active and Role.ADMIN in u.roles
        )

    def revoke_all_refresh_tokens(self, user_id: int, at: datetime) -> None:
        for key, row in self.s.refresh.items():
            if row.user_id == user_id and row.revoked_at is None:
                self.s.refresh[key] = replace(row, revoked_at=at)

    def add_refresh_token(
        self, facility_id: int, user_id: int, token_hash: str, expires_at: datetime, at: datetime
    ) -> None:
        self.s.refresh[token_hash] = RefreshTokenRow(
            self.s.next_id("refresh"), user_id, expires_at, None
        )

    def get_refresh_token(self, token_hash: str) -> RefreshTokenRow | None:
        return self.s.refresh.get(token_hash)

    def revoke_refresh_token(self, token_id: int, at: datetime) -> bool:
        for key, row in self.s.refresh.items():
            if row.id == token_id and row.revoked_at is None:
                self.s.refresh[key] = replace(row, revoked_at=at)
                return True
        return False


class FakeIdempotency(_Part):
    def claim(
        self, facility_id: int, user_id: int, key: str, request_hash: str, at: datetime
    ) -> None:
        if (user_id, key) in self.s.idempotency:
            raise UniqueViolation("idempotency key")
        self.s.idempotency[(user_id, key)] = [request_hash, None]

    def get(self, user_id: int, key: str) -> tuple[str, int | None] | None:
        row = self.s.idempotency.get((user_id, key))
        return (row[0], row[1]) if row else None

    def set_resource(self, user_id: int, key: str, resource_id: int) -> None:
        self.s.idempotency[(user_id, key)][1] = resource_id


class FakeSequences(_Part):
    def next_mrn(self, facility_id: int) -> int:
        return self.next(facility_id, "mrn")

    def next(self, facility_id: int, name: str) -> int:
        key = (facility_id, name)
        self.s.sequences[key] = self.s.sequences.get(key, 0) + 1
        return self.s.sequences[key]


class FakeTickets(_Part):
    def add(self, ticket: Ticket, appointment_id: int | None) -> int:
        if any(
            (k.clinic_id, k.day, k.number) == (ticket.clinic_id, ticket.day, ticket.number)
            for k in self.s.tickets.values()
        ):
            raise UniqueViolation("ticket number")
        new = replace(ticket, id=self.s.next_id("ticket"))
        self.s.tickets[new.id] = new
        return new.id

    def add_event(
        self,
        facility_id: int,
        ticket_id: int,
        *,
        at: datetime,
        actor_user_id: int | None,
        from_state: str | None,
        to_state: str,
        action: str,
        counter: str | None = None,
    ) -> int:
        self.s.ticket_events.append(
            (ticket_id, at, TicketEventRow(from_state, to_state, counter, action))
        )
        return len(self.s.ticket_events)

    def get(self, facility_id: int, ticket_id: int) -> Ticket | None:
        k = self.s.tickets.get(ticket_id)
        return replace(k) if k and k.facility_id == facility_id else None

    def get_by_status_code(self, status_code: str) -> Ticket | None:
        return next((k for k in self.s.tickets.values() if k.status_code == status_code), None)

    def with_clinic_facts(self, status_code: str) -> tuple[Ticket, ClinicQueueFacts] | None:
        ticket = self.get_by_status_code(status_code)
        if ticket is None:
            return None
        return replace(ticket), self._facts(ticket.facility_id, ticket.clinic_id, ticket.day)

    def queue_clinic(
        self, facility_id: int, clinic_id: int, day: date
    ) -> tuple[Clinic, ClinicQueueFacts] | None:
        clinic = self.s.clinics.get(clinic_id)
        if clinic is None or clinic.facility_id != facility_id:
            return None
        return replace(clinic, hours=list(clinic.hours)), self._facts(facility_id, clinic_id, day)

    def _facts(self, facility_id: int, clinic_id: int, day: date) -> ClinicQueueFacts:
        durations = [
            v.duration_minutes
            for v in self.s.services.values()
            if v.clinic_id == clinic_id and v.active
        ]
        counters = sum(
            1 for (cid, _), on in self.s.service_points.items() if cid == clinic_id and on
        )
        busy = {TicketState.CALLED, TicketState.SERVING}
        serving = {
            k.counter
            for k in self.list_day(facility_id, clinic_id, day)
            if k.state in busy and k.counter
        }
        stored = self.s.service_times.get(clinic_id)
        return ClinicQueueFacts(
            clinic_id,
            self.s.clinics[clinic_id].name,
            counters,
            min(durations) if durations else None,
            len(serving),
            replace(stored) if stored and stored.observations else None,
        )

    def save_service_time(
        self, facility_id: int, clinic_id: int, estimate: EwmaServiceTime, at: datetime
    ) -> None:
        self.s.service_times[clinic_id] = replace(estimate)

    def list_day(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]:
        found = [
            replace(k)
            for k in self.s.tickets.values()
            if (k.facility_id, k.clinic_id, k.day) == (facility_id, clinic_id, day)
        ]
        return sorted(found, key=lambda k: k.number)

    def waiting(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]:
        return [
            replace(k)
            for k in self.list_day(facility_id, clinic_id, day)
            if k.state is TicketState.WAITING
        ]

    def count_ahead(self, ticket: Ticket, *, now: datetime, aging: timedelta) -> int:
        others = [
            k
            for k in self.waiting(ticket.facility_id, ticket.clinic_id, ticket.day)
            if k.id != ticket.id
        ]
        me = replace(ticket, state=TicketState.WAITING)
        return [k.id for k in queue_order([*others, me], now, aging)].index(ticket.id)

    def move(
        self,
        ticket_id: int,
        *,
        from_state: str,
        to_state: str,
        counter: str | None,
        recall: bool = False,
        sort_at: datetime | None = None,
    ) -> bool:
        k = self.s.tickets[ticket_id]
        if k.state.value != from_state:
            return False
        k.state, k.counter = TicketState(to_state), counter
        k.recalls += 1 if recall else 0
        k.sort_at = sort_at or k.sort_at
        return True

    def last_event(self, ticket_id: int) -> TicketEventRow | None:
        rows = [e[2] for e in self.s.ticket_events if e[0] == ticket_id]
        return rows[-1] if rows else None

    def called_at(self, ticket_ids: list[int]) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for ticket_id, at, event in self.s.ticket_events:
            if ticket_id in ticket_ids and event.action == "call":
                found[ticket_id] = min(at, found.get(ticket_id, at))
        return found

    def recent_service_times(
        self, facility_id: int, clinic_id: int, since: datetime, limit: int = 50
    ) -> list[timedelta]:
        starts: dict[int, datetime] = {}
        finishes: dict[int, datetime] = {}
        for ticket_id, at, event in self.s.ticket_events:
            if event.action == "start":
                starts[ticket_id] = max(at, starts.get(ticket_id, at))
            elif event.action == "finish":
                finishes[ticket_id] = max(at, finishes.get(ticket_id, at))
        found = sorted(
            (finished, finished - starts[ticket_id])
            for ticket_id, finished in finishes.items()
            if ticket_id in starts
            and finished >= since
            and self.s.tickets[ticket_id].clinic_id == clinic_id
            and self.s.tickets[ticket_id].state is TicketState.DONE
        )
        return [d for _, d in found[-limit:] if d >= timedelta(0)]

    def open_before(self, facility_id: int, day: date) -> list[Ticket]:
        active = {TicketState.WAITING, TicketState.CALLED, TicketState.SERVING}
        return [replace(k) for k in self.s.tickets.values() if k.day < day and k.state in active]


class FakeEvents(_Part):
    def add(self, event: DomainEvent) -> DomainEvent:
        stored = event.stored_as(len(self.s.events) + 1)
        self.s.events.append(stored)
        return stored

    def _stream(
        self, facility_id: int, clinic_id: int | None, status_code: str | None
    ) -> list[DomainEvent]:
        ticket_ids = {k.id for k in self.s.tickets.values() if k.status_code == status_code}
        return [
            e
            for e in self.s.events
            if e.facility_id == facility_id
            and (clinic_id is None or (e.clinic_id == clinic_id and e.kind.is_queue))
            and (status_code is None or e.ticket_id in ticket_ids)
        ]

    def since(
        self,
        facility_id: int,
        *,
        after_id: int,
        clinic_id: int | None = None,
        status_code: str | None = None,
        limit: int = 500,
    ) -> list[DomainEvent]:
        found = [e for e in self._stream(facility_id, clinic_id, status_code) if e.id > after_id]
        return found[:limit]

    def latest_ids(
        self,
        facility_id: int,
        *,
        clinic_id: int | None = None,
        status_code: str | None = None,
        limit: int = 200,
    ) -> list[int]:
        found = self._stream(facility_id, clinic_id, status_code)
        return [e.id for e in reversed(found)][:limit]


class FakeFacilities(_Part):
    def ensure(
        self, *, facility_id: int, code: str, name: str, time_zone: str, at: datetime
    ) -> None:
        self.s.facilities.setdefault(facility_id, Named(facility_id, name))


class FakeUnitOfWork:
    """Reusable like the SQL one: `with uow(write=True): ...; uow.commit()`."""

    def __init__(self, clock: Clock, store: Store | None = None) -> None:
        self.clock = clock
        self.store = store or Store()
        self.commits = 0
        self._work: Store | None = None
        self.published: list[DomainEvent] = []  # events of committed transactions
        self._pending: list[DomainEvent] = []

    def __call__(self, *, write: bool = False) -> FakeUnitOfWork:
        return self

    def __enter__(self) -> FakeUnitOfWork:
        self._work = copy.deepcopy(self.store)
        w = self._work
        self.catalog = FakeCatalog(w)
        self.schedules = FakeSchedules(w)
        self.slots = FakeSlots(w)
        self.patients = FakePatients(w)
        self.appointments = FakeAppointments(w)
        self.users = FakeUsers(w)
        self.idempotency = FakeIdempotency(w)
        self.sequences = FakeSequences(w)
        self.facilities = FakeFacilities(w)
        self.tickets = FakeTickets(w)
        self.events = FakeEvents(w)
        return self

    def publish(self, event: DomainEvent) -> DomainEvent:
        stored = self.events.add(event)
        self._pending.append(stored)
        return stored

    def commit(self) -> None:
        assert self._work is not None, "commit outside a transaction"
        self.store = self._work
        self.commits += 1
        self.published += self._pending
        self._pending = []

    def __exit__(self, *args: object) -> None:
        self._work = None
        self._pending = []

"""In-memory slots, patients and appointments, with the contract of the SQL stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from antrean.domain.booking import ACTIVE_STATUSES, Appointment, SlotHold, SlotView
from antrean.domain.common import Page
from antrean.domain.patients import Patient, name_matches, name_words
from antrean.domain.scheduling import ExistingSlot, SlotSpec
from antrean.services.ports import (
    AppointmentFilter,
    BookingRow,
    Conflict,
    FreePlaces,
    FreeSlot,
    SlotQuery,
    UniqueViolation,
)
from antrean.testing.memory_store import SlotRow, StorePart


class FakeSlots(StorePart):
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
            self.s.slots[slot_id] = SlotRow(
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
            any(
                e.date_from <= s.day <= e.date_to
                for e in self.s.exceptions.values()
                if self.s.owned("exception", e.id, facility_id)
            ),
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
        closed_too: bool = False,
    ) -> list[FreeSlot]:
        found = [
            self._view(s)
            for s in self.s.slots.values()
            if s.facility_id == facility_id
            and first_day <= s.day <= last_day
            and s.start_at >= not_before
            and (s.active or closed_too)
            and self.s.doctors[s.doctor_id].active
            and clinic_id in (None, s.clinic_id)
            and doctor_id in (None, s.doctor_id)
            and (not only_free or s.booked < s.capacity)
        ]
        return sorted(found, key=lambda f: (f.start_at, f.doctor_id))

    def page(self, facility_id: int, query: SlotQuery, page: Page) -> tuple[list[FreeSlot], int]:
        q = query
        found = [
            f
            for f in self.search(
                facility_id,
                first_day=q.first_day,
                last_day=q.last_day,
                not_before=q.not_before,
                clinic_id=q.clinic_id,
                doctor_id=q.doctor_id,
                only_free=q.places == "free",
                closed_too=q.places in ("any", "unavailable"),
            )
            if (q.before is None or f.start_at < q.before)
            and (q.doctor_ids is None or f.doctor_id in q.doctor_ids)
            and (q.places != "full" or f.booked >= f.capacity)
            and (q.places != "unavailable" or not f.active)
        ]
        return found[page.offset : page.offset + page.size], len(found)

    def _view(self, s: SlotRow) -> FreeSlot:
        return FreeSlot(
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
            s.active,
        )

    def one(self, facility_id: int, slot_id: int) -> FreeSlot | None:
        s = self.s.slots.get(slot_id)
        if s is None or s.facility_id != facility_id or not self.s.doctors[s.doctor_id].active:
            return None
        return self._view(s)

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
        totals: dict[tuple[date, int], int] = {}
        for slot in self.search(
            facility_id,
            first_day=first_day,
            last_day=last_day,
            not_before=not_before,
            clinic_id=clinic_id,
            doctor_id=doctor_id,
            only_free=True,
        ):
            key = (slot.day, slot.doctor_id)
            totals[key] = totals.get(key, 0) + slot.available
        return [
            FreePlaces(day, doc, self.s.doctors[doc].name, n)
            for (day, doc), n in sorted(totals.items())
        ]


class FakePatients(StorePart):
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
        self,
        facility_id: int,
        *,
        mrn: str | None,
        name: str | None,
        phone: str | None,
        page: Page,
        nik: str | None = None,
    ) -> tuple[list[Patient], int]:
        found = [
            replace(p)
            for p in self.s.patients.values()
            if p.facility_id == facility_id
            and (not mrn or p.mrn == mrn)
            and (not nik or p.nik == nik)
            and (not name or name_matches(name, p.name))
            and (not phone or p.phone == phone)
        ]
        found.sort(key=lambda p: (name_words(p.name), p.id))
        return found[page.offset : page.offset + page.size], len(found)


class FakeAppointments(StorePart):
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

    def get_many(self, facility_id: int, appointment_ids: list[int]) -> dict[int, Appointment]:
        found = (self.get(facility_id, i) for i in set(appointment_ids))
        return {a.id: a for a in found if a is not None}

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

    def save(self, appointment: Appointment, expected: datetime | None = None) -> bool:
        stored = self.s.appointments.get(appointment.id)
        if stored is None or (expected is not None and stored.updated_at != expected):
            return False
        self.s.appointments[appointment.id] = replace(appointment)
        return True

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
            and (flt.starts_from is None or a.start_at >= flt.starts_from)
            and (flt.starts_before is None or a.start_at < flt.starts_before)
        ]
        found.sort(key=lambda a: (a.start_at, a.id))
        return found[page.offset : page.offset + page.size], len(found)

    def table(
        self, facility_id: int, flt: AppointmentFilter, search: str | None, order: str, page: Page
    ) -> tuple[list[BookingRow], int]:
        everything, _ = self.find(facility_id, flt, Page(1, 10**9))
        rows = []
        for a in everything:
            p = self.s.patients[a.patient_id]
            if search and not (
                a.code == search.upper() or name_matches(search, p.name) or p.phone == search
            ):
                continue
            rows.append(BookingRow(a, p.name, p.mrn, p.phone))
        key = {
            "start": lambda r: r.appointment.start_at,
            "created": lambda r: r.appointment.created_at,
            "patient": lambda r: name_words(r.patient_name),
            "status": lambda r: r.appointment.status.value,
        }[order.lstrip("-")]
        rows.sort(key=lambda r: r.appointment.id)
        rows.sort(key=key, reverse=order.startswith("-"))
        return rows[page.offset : page.offset + page.size], len(rows)

    def day_summary(self, facility_id: int, day: date) -> dict[tuple[int, str], int]:
        counts: dict[tuple[int, str], int] = {}
        for a in self.s.appointments.values():
            if a.facility_id == facility_id and a.day == day:
                key = (a.clinic_id, a.status.value)
                counts[key] = counts.get(key, 0) + 1
        return counts

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


class FakeHolds(StorePart):
    def add(self, hold: SlotHold) -> int:
        new = replace(hold, id=self.s.next_id("slot_hold"))
        self.s.holds[new.id] = new
        return new.id

    def get(self, facility_id: int, hold_id: int) -> SlotHold | None:
        h = self.s.holds.get(hold_id)
        return h if h and h.facility_id == facility_id else None

    def take(self, facility_id: int, hold_id: int, now: datetime) -> SlotHold | None:
        h = self.get(facility_id, hold_id)
        if h is None or h.expires_at <= now:
            return None
        return self.s.holds.pop(hold_id)

    def count_active(self, facility_id: int, account_id: int, now: datetime) -> int:
        return sum(
            1
            for h in self.s.holds.values()
            if h.facility_id == facility_id and h.account_id == account_id and h.expires_at > now
        )

    def release_expired(self, now: datetime, slot_id: int | None = None) -> int:
        gone = [
            h for h in self.s.holds.values() if h.expires_at <= now and slot_id in (None, h.slot_id)
        ]
        for h in gone:
            del self.s.holds[h.id]
            slot = self.s.slots.get(h.slot_id)
            if slot is not None and slot.booked > 0:
                slot.booked -= 1
        return len(gone)

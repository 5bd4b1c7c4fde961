"""The storage ports' contract: each test runs on the fake, SQLite and PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest

from antrean.domain.booking import Appointment, AppointmentStatus, appointment_event
from antrean.domain.catalog import Clinic, Doctor, OpeningHours, Service
from antrean.domain.common import Page
from antrean.domain.events import DomainEvent, EventKind
from antrean.domain.identity import Role, Throttle, User, account_key
from antrean.domain.patients import Patient, Sex
from antrean.domain.queue import (
    Priority,
    Ticket,
    TicketSource,
    TicketState,
    queue_order,
    ticket_event,
)
from antrean.domain.scheduling import ExceptionKind, ScheduleException, SlotSpec
from antrean.services.ports import AppointmentFilter, SlotQuery, UniqueViolation
from tests.integration.conftest import FROZEN_AT

NOW = FROZEN_AT
MONDAY = date(2026, 11, 23)


def _clinic(uow, facility_id=1, code="UMUM", prefix="A") -> int:
    return uow.catalog.add_clinic(Clinic(0, facility_id, code, f"Poli {code}", prefix), NOW)


def _patient(uow, facility_id=1, mrn="00-00-01", name="Siti Aminah", phone=None) -> int:
    return uow.patients.add(
        Patient(
            0, facility_id, mrn, name, date(1990, 5, 17), Sex.FEMALE, phone, None, None, None, NOW
        )
    )


# --- catalog -------------------------------------------------------------------------------


def test_clinics_are_kept_per_facility(uow):
    with uow(write=True):
        a = _clinic(uow, 1, "UMUM")
        b = _clinic(uow, 2, "UMUM")  # the same code in another facility
        uow.commit()
    with uow(write=True), pytest.raises(UniqueViolation):  # the transaction is then lost
        _clinic(uow, 1, "UMUM")
    with uow(write=True):
        assert [c.id for c in uow.catalog.list_clinics(1)] == [a]
        assert uow.catalog.get_clinic(2, a) is None and uow.catalog.get_clinic(2, b).id == b
        clinic = uow.catalog.get_clinic(1, a)
        clinic.name, clinic.queue_prefix, clinic.is_open = "Poli Umum Baru", "B", False
        uow.catalog.save_clinic(clinic)
        hours = [OpeningHours(0, time(7), time(12)), OpeningHours(0, time(13), time(16))]
        uow.catalog.replace_hours(1, a, hours)
        uow.commit()
    with uow():
        saved = uow.catalog.get_clinic(1, a)
        assert (saved.name, saved.queue_prefix, saved.is_open) == ("Poli Umum Baru", "B", False)
        assert saved.hours == hours
        assert uow.catalog.opening_hours(1) == {a: hours}
        assert uow.catalog.opening_hours(2) == {}


def test_services_doctors_and_counters(uow):
    with uow(write=True):
        clinic = _clinic(uow)
        other = _clinic(uow, 2, "GIGI", "B")
        service = uow.catalog.add_service(1, Service(0, clinic, "Pemeriksaan", 15, True))
        uow.catalog.add_service(2, Service(0, other, "Cabut gigi", 30, True))
        doctor = uow.catalog.add_doctor(1, Doctor(0, "dr. Andi", "Umum", True))
        uow.catalog.add_counter(1, clinic, "Loket 1")
        uow.catalog.add_counter(1, clinic, "Loket 2")
        uow.commit()
    with uow(write=True), pytest.raises(UniqueViolation):
        uow.catalog.add_counter(1, clinic, "Loket 1")
    with uow(write=True):
        assert [s.id for s in uow.catalog.list_services(1, None)] == [service]
        assert uow.catalog.list_services(1, other) == []
        assert uow.catalog.get_service(2, service) is None
        uow.catalog.save_service(1, Service(service, clinic, "Pemeriksaan umum", 20, False))
        assert [d.id for d in uow.catalog.list_doctors(1)] == [doctor]
        assert uow.catalog.list_doctors(2) == [] and uow.catalog.get_doctor(2, doctor) is None
        uow.catalog.save_doctor(1, Doctor(doctor, "dr. Andi W.", "", False))
        assert uow.catalog.list_counters(1, clinic) == ["Loket 1", "Loket 2"]
        assert uow.catalog.set_counter_active(1, clinic, "Loket 1", False)
        assert not uow.catalog.set_counter_active(1, clinic, "Loket 1", False)
        assert not uow.catalog.set_counter_active(1, clinic, "Loket 9", False)
        uow.commit()
    with uow(write=True):
        assert uow.catalog.get_service(1, service) == Service(
            service, clinic, "Pemeriksaan umum", 20, False
        )
        assert uow.catalog.get_doctor(1, doctor) == Doctor(doctor, "dr. Andi W.", "", False)
        assert uow.catalog.list_counters(1, clinic) == ["Loket 2"]
        uow.catalog.add_counter(1, clinic, "Loket 1")  # back in use
        assert sorted(uow.catalog.list_counters(1, clinic)) == ["Loket 1", "Loket 2"]


# --- patients ------------------------------------------------------------------------------


def test_patients_are_kept_per_facility_and_their_mrn_never_changes(uow):
    with uow(write=True):
        a = _patient(uow, 1, "00-00-01", "Siti Aminah", "+6281211112222")
        b = _patient(uow, 1, "00-00-02", "Budi Santoso")
        c = _patient(uow, 2, "00-00-01", "Siti Lain")  # the same MRN in another facility
        uow.commit()
    with uow(write=True), pytest.raises(UniqueViolation):
        _patient(uow, 1, "00-00-01", "Dup")
    with uow(write=True):
        assert uow.patients.get(2, a) is None and uow.patients.get(2, c).name == "Siti Lain"
        assert uow.patients.get_by_mrn(1, "00-00-01").id == a
        assert uow.patients.get_by_mrn(2, "00-00-02") is None
        assert set(uow.patients.get_many(1, [a, b, c])) == {a, b}
        patient = uow.patients.get(1, b)
        patient.name, patient.mrn, patient.address = "Budi S.", "99-99-99", "Jl. Merdeka 1"
        uow.patients.save(patient)
        uow.commit()
    with uow():
        saved = uow.patients.get(1, b)
        assert (saved.name, saved.mrn, saved.address) == ("Budi S.", "00-00-02", "Jl. Merdeka 1")
        found, total = uow.patients.search(1, mrn=None, name="SITI", phone=None, page=Page(1, 10))
        assert [p.id for p in found] == [a] and total == 1
        found, _ = uow.patients.search(1, mrn=None, name=None, phone="+6281211112222", page=Page())
        assert [p.id for p in found] == [a]
        found, total = uow.patients.search(1, mrn=None, name=None, phone=None, page=Page(2, 1))
        assert total == 2 and len(found) == 1
        found, _ = uow.patients.search(1, mrn=None, name="100%_", phone=None, page=Page())
        assert found == [], "LIKE wildcards in a name are plain characters"


# --- sequences, users, idempotency ---------------------------------------------------------


def test_sequences_count_from_one_per_name_and_facility(uow):
    with uow(write=True):
        assert [uow.sequences.next(1, "queue:1:2026-11-23") for _ in range(3)] == [1, 2, 3]
        assert uow.sequences.next(1, "queue:2:2026-11-23") == 1
        assert uow.sequences.next(2, "queue:1:2026-11-23") == 1
        mrns = [uow.sequences.next_mrn(1) for _ in range(3)]
        assert mrns == sorted(set(mrns))
        uow.commit()


def _user(facility_id=1, username="ani", roles=frozenset({Role.OPERATOR}), active=True) -> User:
    return User(0, facility_id, username, "Ani", roles, None, None, active, "hash")


def test_users_and_refresh_tokens(uow):
    with uow(write=True):
        ani = uow.users.add(_user(1, "ani"), NOW)
        admin = uow.users.add(_user(1, "root", frozenset({Role.ADMIN})), NOW)
        uow.users.add(_user(2, "other", frozenset({Role.ADMIN})), NOW)
        uow.users.add_refresh_token(1, ani, "h1", NOW + timedelta(days=1), NOW, "fam-a")
        uow.users.add_refresh_token(1, ani, "h2", NOW + timedelta(days=1), NOW, "fam-b")
        uow.users.add_refresh_token(1, ani, "h3", NOW + timedelta(days=1), NOW, "fam-a")
        uow.commit()
    with uow(write=True), pytest.raises(UniqueViolation):
        uow.users.add(_user(2, "ani"), NOW)  # usernames are unique across facilities
    with uow(write=True):
        assert uow.users.get_by_username("ani").id == ani
        users, total = uow.users.list(1, Page(1, 10))
        assert [u.username for u in users] == ["ani", "root"] and total == 2
        assert uow.users.count_active_admins(1) == 1 and uow.users.count_active_admins(2) == 1
        root = uow.users.get(admin)
        root.active, root.full_name, root.username = False, "Root", "renamed"
        uow.users.save(root)
        token = uow.users.get_refresh_token("h1")
        assert token.user_id == ani and token.revoked_at is None and token.family == "fam-a"
        assert uow.users.revoke_refresh_token(token.id, NOW, "rotated")
        assert not uow.users.revoke_refresh_token(token.id, NOW, "logout"), "revoked once"
        assert uow.users.get_refresh_token("h1").revoked_reason == "rotated"
        assert uow.users.revoke_family("fam-a", NOW, "reused") == 1  # h3; h1 was already
        assert uow.users.get_refresh_token("h3").revoked_reason == "reused"
        assert uow.users.get_refresh_token("h2").revoked_at is None  # another family
        uow.users.revoke_all_refresh_tokens(ani, NOW, "ended")
        uow.commit()
    with uow():
        assert uow.users.count_active_admins(1) == 0
        assert (uow.users.get(admin).username, uow.users.get(admin).full_name) == ("root", "Root")
        assert uow.users.get_refresh_token("h2").revoked_at == NOW
        assert uow.users.get_refresh_token("h2").revoked_reason == "ended"
        assert uow.users.get_refresh_token("nope") is None


def test_sign_in_throttles(uow):
    key, other = account_key("ani"), "address:10.0.0.1"
    with uow(write=True):
        assert uow.sign_ins.get_many(1, [key, other]) == {}
        first = uow.sign_ins.record_failure(
            1, key, lambda found: Throttle(1 if found is None else found.failures + 1, NOW)
        )
        second = uow.sign_ins.record_failure(
            1, key, lambda found: Throttle(found.failures + 1, NOW, locked_at=NOW)
        )
        uow.sign_ins.record_failure(1, other, lambda found: Throttle(7, NOW))
        uow.sign_ins.record_failure(2, key, lambda found: Throttle(3, NOW))  # another facility
        uow.commit()
    assert (first.failures, second.failures) == (1, 2)
    with uow(write=True):
        stored = uow.sign_ins.get_many(1, [key, other, "address:nobody"])
        assert stored == {key: Throttle(2, NOW, NOW), other: Throttle(7, NOW)}
        assert uow.sign_ins.locked(1, "account:") == {key: NOW}
        assert uow.sign_ins.locked(1, "address:") == {}
        uow.sign_ins.clear(1, key)
        uow.commit()
    with uow():
        assert uow.sign_ins.get_many(1, [key]) == {}
        assert uow.sign_ins.get_many(2, [key]) == {key: Throttle(3, NOW)}


def test_two_factor_rows(uow):
    with uow(write=True):
        ani = uow.users.add(_user(1, "ani"), NOW)
        assert uow.two_factors.get(ani) is None
        uow.two_factors.start(ani, "SECRETONE", NOW)
        uow.two_factors.start(ani, "SECRETTWO", NOW)  # not confirmed: replaced
        uow.commit()
    with uow(write=True):
        row = uow.two_factors.get(ani)
        assert (row.secret, row.confirmed_at, row.last_step) == ("SECRETTWO", None, 0)
        uow.two_factors.confirm(ani, NOW)
        assert uow.two_factors.use_step(ani, 100)
        assert not uow.two_factors.use_step(ani, 100), "a code works once"
        assert not uow.two_factors.use_step(ani, 99), "nor an older one after it"
        uow.two_factors.set_recovery_codes(ani, ["d1", "d2"])
        assert uow.two_factors.use_recovery_code(ani, "d1", NOW)
        assert not uow.two_factors.use_recovery_code(ani, "d1", NOW)
        assert not uow.two_factors.use_recovery_code(ani, "nope", NOW)
        assert uow.two_factors.recovery_codes_left(ani) == 1
        uow.commit()
    with uow(write=True):
        assert uow.two_factors.get(ani).confirmed_at == NOW
        uow.two_factors.remove(ani)
        uow.commit()
    with uow():
        assert uow.two_factors.get(ani) is None
        assert uow.two_factors.recovery_codes_left(ani) == 0


def test_idempotency_keys(uow):
    with uow(write=True):
        uow.idempotency.claim(1, 7, "key-1", "hash-a", NOW)
        uow.commit()
    with uow(write=True), pytest.raises(UniqueViolation):
        uow.idempotency.claim(1, 7, "key-1", "hash-b", NOW)
    with uow(write=True):
        uow.idempotency.claim(1, 8, "key-1", "hash-b", NOW)  # another user's key
        uow.idempotency.set_resource(7, "key-1", 42)
        uow.commit()
    with uow():
        assert uow.idempotency.get(7, "key-1") == ("hash-a", 42)
        assert uow.idempotency.get(8, "key-1") == ("hash-b", None)
        assert uow.idempotency.get(9, "key-1") is None


# --- slots and appointments ----------------------------------------------------------------


def _slots(uow, clinic: int, doctor: int, capacity: int = 2) -> list[int]:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=NOW.tzinfo).astimezone(NOW.tzinfo)
    specs = [
        SlotSpec(
            doctor,
            clinic,
            MONDAY,
            start + timedelta(minutes=30 * n),
            start + timedelta(minutes=30 * (n + 1)),
            capacity,
            1,
        )
        for n in range(3)
    ]
    uow.slots.insert(1, specs)
    return [s.id for s in sorted(uow.slots.existing(1, MONDAY, MONDAY), key=lambda s: s.start_at)]


def _appointment(facility_id, code, slot_id, patient_id, clinic, doctor) -> Appointment:
    return Appointment(
        0,
        facility_id,
        code,
        slot_id,
        patient_id,
        clinic,
        doctor,
        None,
        MONDAY,
        NOW,
        NOW + timedelta(minutes=30),
        AppointmentStatus.BOOKED,
        "",
        None,
        NOW,
        NOW,
    )


def test_slots_take_places_up_to_capacity_and_are_found(uow):
    with uow(write=True):
        clinic = _clinic(uow)
        doctor = uow.catalog.add_doctor(1, Doctor(0, "dr. Andi", "", True))
        first, second, third = _slots(uow, clinic, doctor)
        patient = _patient(uow)
        assert [uow.slots.try_take(first) for _ in range(3)] == [True, True, False]
        uow.slots.release(first)
        uow.slots.set_active([third], False)
        uow.slots.set_capacity(second, 5)
        uow.commit()
    with uow(write=True):
        view = uow.slots.view(1, first)
        assert (view.booked, view.capacity, view.active, view.clinic_is_open) == (1, 2, True, True)
        assert view.exceptions_that_day is False
        uow.schedules.add_exception(
            2, ScheduleException(0, ExceptionKind.HOLIDAY, MONDAY, MONDAY, reason="elsewhere")
        )
        assert uow.slots.view(1, first).exceptions_that_day is False, "another facility's"
        uow.schedules.add_exception(
            1, ScheduleException(0, ExceptionKind.LEAVE, MONDAY, MONDAY, doctor_id=doctor)
        )
        assert uow.slots.view(1, first).exceptions_that_day is True
        assert uow.slots.view(2, first) is None
        assert uow.slots.view_with_patient(1, first, patient)[1] is True
        assert uow.slots.view_with_patient(1, first, 10**6)[1] is False
        found = uow.slots.search(
            1,
            first_day=MONDAY,
            last_day=MONDAY,
            not_before=NOW - timedelta(days=1),
            clinic_id=clinic,
            doctor_id=None,
            only_free=True,
        )
        assert [(s.id, s.available) for s in found] == [(first, 1), (second, 5)]
        window = {"first_day": MONDAY, "last_day": MONDAY, "not_before": NOW - timedelta(days=1)}
        places = uow.slots.free_places(1, **window, clinic_id=clinic, doctor_id=None)
        assert [(p.day, p.doctor_id, p.doctor_name, p.places) for p in places] == [
            (MONDAY, doctor, "dr. Andi", 6)  # 1 + 5; the inactive slot does not count
        ]
        assert uow.slots.free_places(1, **window, clinic_id=None, doctor_id=doctor + 1) == []
        assert uow.slots.free_places(2, **window, clinic_id=None, doctor_id=None) == []
        later = {**window, "not_before": NOW + timedelta(days=30)}
        assert uow.slots.free_places(1, **later, clinic_id=None, doctor_id=None) == []
        assert (
            uow.slots.search(
                2,
                first_day=MONDAY,
                last_day=MONDAY,
                not_before=NOW - timedelta(days=1),
                clinic_id=None,
                doctor_id=None,
                only_free=False,
            )
            == []
        )
        # A page of them, with how many there are, by places left and by start.
        day = {"first_day": MONDAY, "last_day": MONDAY, "not_before": NOW - timedelta(days=1)}
        every = SlotQuery(**day, places="any")  # the inactive one too
        assert uow.slots.page(1, every, Page(1, 1)) == ([found[0]], 3)
        assert [s.id for s in uow.slots.page(1, every, Page(2, 1))[0]] == [second]
        closed = uow.slots.page(1, SlotQuery(**day, places="unavailable"), Page(1, 10))
        assert [(s.id, s.active, s.available) for s in closed[0]] == [(third, False, 0)]
        assert closed[1] == 1
        one = uow.slots.one(1, third)
        assert one is not None and (one.id, one.active, one.doctor_name) == (
            third,
            False,
            "dr. Andi",
        )
        assert uow.slots.one(2, third) is None and uow.slots.one(1, 999_999) is None
        assert uow.slots.page(1, SlotQuery(**day, places="full"), Page(1, 10)) == ([], 0)
        before_second = SlotQuery(**day, before=found[1].start_at, places="free")
        assert [s.id for s in uow.slots.page(1, before_second, Page(1, 10))[0]] == [first]
        assert uow.slots.page(2, every, Page(1, 10)) == ([], 0)
        uow.slots.delete([third, first])  # only unbooked slots go
        uow.commit()
    with uow():
        assert {s.id for s in uow.slots.existing(1, MONDAY, MONDAY)} == {first, second}


def test_appointments_codes_day_limits_and_conflicts(uow):
    with uow(write=True):
        clinic = _clinic(uow)
        doctor = uow.catalog.add_doctor(1, Doctor(0, "dr. Andi", "", True))
        slot = _slots(uow, clinic, doctor)[0]
        patient = _patient(uow)
        a = uow.appointments.add(_appointment(1, "ABC234", slot, patient, clinic, doctor), None)
        assert (
            uow.appointments.add(_appointment(1, "ABC234", slot, patient, clinic, doctor), 1)
            is None
        )
        assert uow.appointments.try_count_day(1, patient, clinic, MONDAY, 1)
        assert not uow.appointments.try_count_day(1, patient, clinic, MONDAY, 1)
        uow.appointments.uncount_day(patient, clinic, MONDAY)
        assert uow.appointments.try_count_day(1, patient, clinic, MONDAY, 1)
        assert uow.appointments.add_conflict(1, a, slot, "schedule_changed", NOW)
        assert not uow.appointments.add_conflict(1, a, slot, "schedule_changed", NOW)
        uow.commit()
    with uow(write=True):
        assert uow.appointments.get_by_code(1, "ABC234").id == a
        assert (
            uow.appointments.get_by_code(2, "ABC234") is None and uow.appointments.get(2, a) is None
        )
        found, total = uow.appointments.find(1, AppointmentFilter(patient_id=patient), Page())
        assert [x.id for x in found] == [a] and total == 1
        assert uow.appointments.find(2, AppointmentFilter(), Page()) == ([], 0)
        assert [x.id for x in uow.appointments.active_in_slots([slot])] == [a]
        conflict = uow.appointments.open_conflicts(1)[0]
        assert (conflict.appointment_code, conflict.reason) == ("ABC234", "schedule_changed")
        assert uow.appointments.open_conflicts(2) == []
        assert uow.appointments.close_conflict(2, conflict.id, NOW) is None
        assert uow.appointments.close_conflict(1, conflict.id, NOW).id == conflict.id
        assert uow.appointments.close_conflict(1, conflict.id, NOW) is None
        moved = uow.appointments.get(1, a)
        moved.status, moved.cancel_reason = AppointmentStatus.CANCELLED, "Sembuh"
        uow.appointments.save(moved)
        uow.commit()
    with uow():
        saved = uow.appointments.get(1, a)
        assert (saved.status, saved.cancel_reason) == (AppointmentStatus.CANCELLED, "Sembuh")
        assert uow.appointments.active_in_slots([slot]) == []
        assert uow.appointments.open_conflicts(1) == []


def test_the_bookings_table_searches_sorts_and_counts(uow):
    with uow(write=True):
        clinic = _clinic(uow)
        doctor = uow.catalog.add_doctor(1, Doctor(0, "dr. Andi", "", True))
        slots = _slots(uow, clinic, doctor)
        siti = _patient(uow, phone="+6281234567890")
        budi = _patient(uow, mrn="00-00-02", name="Budi 100%_Santoso")
        first = _appointment(1, "AAA234", slots[0], siti, clinic, doctor)
        second = replace(
            _appointment(1, "BBB234", slots[1], budi, clinic, doctor),
            start_at=NOW + timedelta(hours=1),
            status=AppointmentStatus.CANCELLED,
        )
        a = uow.appointments.add(first, None)
        b = uow.appointments.add(second, None)
        uow.events.add(
            appointment_event(
                EventKind.APPOINTMENT_BOOKED, replace(first, id=a), at=NOW, actor_user_id=None
            )
        )
        uow.commit()
    with uow():

        def ids(search=None, order="start", flt=AppointmentFilter(), page=Page()):
            rows, total = uow.appointments.table(1, flt, search, order, page)
            return [r.appointment.id for r in rows], total

        assert ids() == ([a, b], 2)
        assert ids(order="-start") == ([b, a], 2)
        assert ids(order="patient") == ([b, a], 2)  # Budi before Siti
        assert ids(search="bbb234") == ([b], 1)
        assert ids(search="SITI") == ([a], 1)
        assert ids(search="100%_") == ([b], 1)  # LIKE wildcards are plain characters
        assert ids(search="zz%") == ([], 0)
        assert ids(search="+6281234567890") == ([a], 1)
        assert ids(flt=AppointmentFilter(status=AppointmentStatus.CANCELLED)) == ([b], 1)
        assert ids(page=Page(2, 1)) == ([b], 2)
        rows, _ = uow.appointments.table(1, AppointmentFilter(), "siti", "start", Page())
        assert (rows[0].patient_name, rows[0].patient_mrn) == ("Siti Aminah", "00-00-01")
        assert rows[0].patient_phone == "+6281234567890"
        assert uow.appointments.table(2, AppointmentFilter(), None, "start", Page()) == ([], 0)
        assert uow.appointments.day_summary(1, MONDAY) == {
            (clinic, "booked"): 1,
            (clinic, "cancelled"): 1,
        }
        assert uow.appointments.day_summary(2, MONDAY) == {}
        history = uow.events.for_appointment(1, a)
        assert [e.kind for e in history] == [EventKind.APPOINTMENT_BOOKED]
        assert uow.events.for_appointment(1, b) == [] and uow.events.for_appointment(2, a) == []


# --- tickets and events --------------------------------------------------------------------


def _ticket(clinic, number, priority=Priority.NORMAL, sort_at=NOW, patient=1, facility=1) -> Ticket:
    return Ticket(
        0,
        facility,
        clinic,
        MONDAY,
        number,
        f"A-{number:03d}",
        f"code-{clinic}-{number}",
        patient,
        TicketSource.WALK_IN,
        priority,
        "",
        TicketState.WAITING,
        sort_at,
        sort_at,
    )


def test_people_ahead_are_counted_in_queue_order(uow):
    rng = random.Random(7)
    aging = timedelta(minutes=60)
    with uow(write=True):
        clinic = _clinic(uow)
        patient = _patient(uow)
        tickets = []
        for n in range(1, 31):
            k = _ticket(
                clinic,
                n,
                rng.choice(list(Priority)),
                NOW - timedelta(minutes=rng.randrange(120)),
                patient,
            )
            k.id = uow.tickets.add(k, None)
            tickets.append(k)
        uow.commit()
    with uow(write=True), pytest.raises(UniqueViolation):
        uow.tickets.add(_ticket(clinic, 1, patient=patient), None)
    order = queue_order(tickets, NOW, aging)
    with uow():
        for place, k in enumerate(order):
            assert uow.tickets.count_ahead(k, now=NOW, aging=aging) == place


def test_tickets_move_only_from_the_state_they_are_in(uow):
    with uow(write=True):
        clinic = _clinic(uow)
        patient = _patient(uow)
        k = _ticket(clinic, 1, patient=patient)
        k.id = uow.tickets.add(k, None)
        uow.events.add(ticket_event(k, "issue", at=NOW, actor_user_id=None))
        assert uow.tickets.move(k.id, from_state="waiting", to_state="called", counter="Loket 1")
        assert not uow.tickets.move(k.id, from_state="waiting", to_state="called", counter="L2")
        called = replace(k, state=TicketState.CALLED, counter="Loket 1")
        uow.events.add(
            ticket_event(
                called,
                "call",
                at=NOW + timedelta(minutes=5),
                actor_user_id=3,
                from_state=TicketState.WAITING,
            )
        )
        assert uow.tickets.move(
            k.id, from_state="called", to_state="called", counter="Loket 1", recall=True
        )
        uow.events.add(
            ticket_event(
                replace(called, recalls=1),
                "recall",
                at=NOW + timedelta(minutes=7),
                actor_user_id=3,
                from_state=TicketState.CALLED,
            )
        )
        uow.commit()
    with uow():
        assert uow.tickets.last_called_at([k.id]) == {k.id: NOW + timedelta(minutes=7)}
        assert uow.tickets.last_called_at([]) == {}
        assert [t.id for t in uow.tickets.for_patient(1, patient, MONDAY)] == [k.id]
        assert uow.tickets.for_patient(1, patient, MONDAY + timedelta(days=1)) == []
        assert uow.tickets.for_patient(2, patient, MONDAY) == []
        stored = uow.tickets.get(1, k.id)
        assert (stored.state, stored.counter, stored.recalls) == (TicketState.CALLED, "Loket 1", 1)
        assert uow.tickets.get(2, k.id) is None
        last = uow.tickets.last_event(k.id)
        assert (last.action, last.from_state, last.to_state) == ("recall", "called", "called")
        assert uow.tickets.called_at([k.id]) == {k.id: NOW + timedelta(minutes=5)}
        assert [t.id for t in uow.tickets.list_day(1, clinic, MONDAY)] == [k.id]
        assert uow.tickets.waiting(1, clinic, MONDAY) == []
        assert [t.id for t in uow.tickets.open_before(1, MONDAY + timedelta(days=1))] == [k.id]
        assert uow.tickets.open_before(1, MONDAY) == []


def test_visits_are_timed_from_the_timeline(uow):
    with uow(write=True):
        clinic = _clinic(uow)
        patient = _patient(uow)
        for n, minutes in ((1, 10), (2, 20)):
            k = _ticket(clinic, n, patient=patient)
            k.id = uow.tickets.add(k, None)
            start = NOW + timedelta(minutes=30 * n)
            for action, at in (("start", start), ("finish", start + timedelta(minutes=minutes))):
                uow.events.add(ticket_event(k, action, at=at, actor_user_id=None))
            uow.tickets.move(k.id, from_state="waiting", to_state="done", counter=None)
        uow.commit()
    with uow():
        times = uow.tickets.recent_service_times(1, clinic, since=NOW)
        assert times == [timedelta(minutes=10), timedelta(minutes=20)]
        found = uow.tickets.queue_clinic(1, clinic, MONDAY)
        assert found is not None and found[1].clinic_id == clinic and found[1].service_time is None
        assert uow.tickets.queue_clinic(2, clinic, MONDAY) is None


def test_events_are_ordered_and_read_by_stream(uow):
    with uow(write=True):
        clinic = _clinic(uow)
        patient = _patient(uow)
        k = _ticket(clinic, 1, patient=patient)
        k.id = uow.tickets.add(k, None)
        data = {"label": k.label, "status_code": k.status_code, "state": "waiting"}
        issued = uow.events.add(
            DomainEvent(EventKind.TICKET_ISSUED, 1, NOW, clinic, k.id, data=data)
        )
        booked = uow.events.add(DomainEvent(EventKind.APPOINTMENT_BOOKED, 1, NOW, clinic))
        other = uow.events.add(DomainEvent(EventKind.TICKET_CALLED, 2, NOW, clinic))
        uow.commit()
    assert issued.id < booked.id < other.id
    with uow():
        assert [e.id for e in uow.events.since(1, after_id=0)] == [issued.id, booked.id]
        assert [e.id for e in uow.events.since(1, after_id=0, clinic_id=clinic)] == [issued.id]
        by_ticket = uow.events.since(1, after_id=0, status_code=k.status_code)
        assert [(e.id, e.kind, e.data["label"]) for e in by_ticket] == [
            (issued.id, EventKind.TICKET_ISSUED, "A-001")
        ]
        assert uow.events.since(1, after_id=issued.id, status_code=k.status_code) == []
        assert uow.events.latest_ids(1, clinic_id=clinic) == [issued.id]
        assert uow.events.latest_ids(1, limit=1) == [booked.id]


def test_the_facility_profile_is_read_and_changed(uow):
    with uow(write=True):
        facility = uow.facilities.get(1)
        assert facility is not None and facility.id == 1
        uow.facilities.save(replace(facility, name="Klinik Baru", address="Jl. A 1", phone="021"))
        uow.commit()
    with uow():
        changed = uow.facilities.get(1)
        assert (changed.name, changed.address, changed.phone) == ("Klinik Baru", "Jl. A 1", "021")
        assert changed.code == facility.code and changed.time_zone == facility.time_zone
        assert uow.facilities.get(99) is None

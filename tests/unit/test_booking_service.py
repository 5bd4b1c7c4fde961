from datetime import date, timedelta

import pytest

from antrean.domain.booking import AppointmentStatus, BookingDraft
from antrean.domain.catalog import ClinicPatch, DoctorDraft
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role
from antrean.domain.scheduling import ExceptionKind, Schedule, ScheduleException
from antrean.services import booking, catalog, scheduling

MONDAY = date(2026, 11, 23)


def _book(world, slot_id, patient_index=0, note="", idempotency_key=None):
    return booking.book_appointment(
        world.uow,
        actor=world.admin,
        policy=world.policy,
        draft=BookingDraft(slot_id=slot_id, patient_id=world.patient_ids[patient_index], note=note),
        idempotency_key=idempotency_key,
    )


def _code(exc_info) -> str:
    return exc_info.value.code


def test_booking_takes_a_place_and_gives_a_readable_code(world):
    slot = world.slots(MONDAY)[0]
    appt = _book(world, slot.id)
    assert appt.status is AppointmentStatus.BOOKED
    assert len(appt.code) == 6 and not set(appt.code) & set("01OIL")
    assert world.slots(MONDAY, only_free=False)[0].booked == 1


def test_a_full_slot_is_refused(world):
    slot = world.slots(MONDAY)[0]
    _book(world, slot.id, 0)
    _book(world, slot.id, 1)
    with pytest.raises(AntreanError) as err:
        _book(world, slot.id, 2)
    assert _code(err) == "slot_full"
    assert world.slots(MONDAY, only_free=False)[0].booked == 2


def test_one_active_appointment_per_patient_per_clinic_per_day(world):
    first, second = world.slots(MONDAY)[:2]
    _book(world, first.id)
    with pytest.raises(AntreanError) as err:
        _book(world, second.id)
    assert _code(err) == "duplicate_appointment"
    assert world.slots(MONDAY, only_free=False)[1].booked == 0, "refusal must not keep a place"


def test_cancel_frees_the_place_and_the_day(world):
    first, second = world.slots(MONDAY)[:2]
    appt = _book(world, first.id)
    cancelled = booking.cancel_appointment(
        world.uow, actor=world.admin, code=appt.code, reason="Sakit"
    )
    assert cancelled.status is AppointmentStatus.CANCELLED and cancelled.cancel_reason == "Sakit"
    assert world.slots(MONDAY, only_free=False)[0].booked == 0
    _book(world, second.id)  # the day limit is free again
    with pytest.raises(AntreanError) as err:
        booking.cancel_appointment(world.uow, actor=world.admin, code=appt.code, reason="again")
    assert _code(err) == "appointment_not_active"


def test_reschedule_moves_the_place(world):
    first, second = world.slots(MONDAY)[:2]
    appt = _book(world, first.id)
    moved = booking.reschedule_appointment(
        world.uow, actor=world.admin, policy=world.policy, code=appt.code, new_slot_id=second.id
    )
    assert moved.slot_id == second.id and moved.start_at == second.start_at
    booked = {s.id: s.booked for s in world.slots(MONDAY, only_free=False)}
    assert booked[first.id] == 0 and booked[second.id] == 1


def test_reschedule_into_a_full_slot_changes_nothing(world):
    first, second = world.slots(MONDAY)[:2]
    appt = _book(world, first.id, 0)
    _book(world, second.id, 1)
    _book(world, second.id, 2)
    with pytest.raises(AntreanError) as err:
        booking.reschedule_appointment(
            world.uow, actor=world.admin, policy=world.policy, code=appt.code, new_slot_id=second.id
        )
    assert _code(err) == "slot_full"
    booked = {s.id: s.booked for s in world.slots(MONDAY, only_free=False)}
    assert booked[first.id] == 1 and booked[second.id] == 2
    same = booking.get_appointment(world.uow, actor=world.admin, code=appt.code)
    assert same.slot_id == first.id


def test_reschedule_to_another_day_moves_the_day_limit(world):
    monday, other_monday = world.slots(MONDAY)[:2]
    tuesday = world.slots(MONDAY + timedelta(days=1))[0]
    appt = _book(world, monday.id)
    with pytest.raises(AntreanError) as err:
        _book(world, other_monday.id)
    assert _code(err) == "duplicate_appointment"
    moved = booking.reschedule_appointment(
        world.uow, actor=world.admin, policy=world.policy, code=appt.code, new_slot_id=tuesday.id
    )
    assert moved.day == MONDAY + timedelta(days=1)
    again = _book(world, other_monday.id)  # Monday is free for this patient again
    assert again.day == MONDAY and again.status is AppointmentStatus.BOOKED
    assert again.patient_id == appt.patient_id


def test_no_booking_in_the_past_or_after_the_cutoff(world):
    slot = world.slots(MONDAY)[0]  # 08:00 Monday
    world.clock.set(slot.start_at - timedelta(minutes=30))
    with pytest.raises(AntreanError) as err:
        _book(world, slot.id)
    assert _code(err) == "booking_cutoff_passed"
    world.clock.set(slot.start_at + timedelta(minutes=1))
    with pytest.raises(AntreanError) as err:
        _book(world, slot.id)
    assert _code(err) == "slot_in_past"


def test_no_booking_beyond_the_horizon(world):
    far = MONDAY + timedelta(days=28)
    slot = world.slots(far)[0]
    world.policy = type(world.policy)(time_zone=world.policy.time_zone, horizon_days=7)
    with pytest.raises(AntreanError) as err:
        _book(world, slot.id)
    assert _code(err) == "outside_booking_window"
    assert "7" in err.value.message("id") and "7" in err.value.message("en")


def test_no_booking_when_the_clinic_is_switched_off(world):
    slot = world.slots(MONDAY)[0]
    catalog.update_clinic(
        world.uow,
        actor=world.admin,
        policy=world.policy,
        clinic_id=world.clinic_id,
        patch=ClinicPatch(is_open=False),
    )
    with pytest.raises(AntreanError) as err:
        _book(world, slot.id)
    assert _code(err) == "clinic_closed"


def test_leave_removes_free_slots_and_reports_booked_ones(world):
    booked_slot = world.slots(MONDAY)[0]
    appt = _book(world, booked_slot.id)
    _, report = scheduling.add_exception(
        world.uow,
        actor=world.admin,
        policy=world.policy,
        exception=ScheduleException(
            0, ExceptionKind.LEAVE, MONDAY, MONDAY, doctor_id=world.doctor_id, reason="Cuti"
        ),
    )
    assert report.deactivated == 1 and report.conflicts == 1 and report.removed == 7
    assert world.slots(MONDAY) == []
    still = booking.get_appointment(world.uow, actor=world.admin, code=appt.code)
    assert still.status is AppointmentStatus.BOOKED, "a booking is never silently dropped"
    conflicts = scheduling.list_conflicts(world.uow, actor=world.admin)
    assert [c.appointment_code for c in conflicts] == [appt.code]
    booking.cancel_appointment(world.uow, actor=world.admin, code=appt.code, reason="Dokter cuti")
    assert scheduling.list_conflicts(world.uow, actor=world.admin) == []


def test_overlapping_schedule_is_refused(world):
    with pytest.raises(AntreanError) as err:
        scheduling.save_schedule(
            world.uow,
            actor=world.admin,
            policy=world.policy,
            schedule=Schedule(
                0,
                world.doctor_id,
                world.clinic_id,
                0,
                world.slots(MONDAY)[0].start_at.astimezone(world.policy.time_zone).time(),
                world.slots(MONDAY)[-1].end_at.astimezone(world.policy.time_zone).time(),
                15,
                1,
            ),
        )
    assert _code(err) == "schedule_overlap"


def test_idempotent_retry_returns_the_first_booking(world):
    slot = world.slots(MONDAY)[0]
    first = _book(world, slot.id, note="Kontrol", idempotency_key="k1")
    again = _book(world, slot.id, note="Kontrol", idempotency_key="k1")
    assert again.id == first.id
    assert world.slots(MONDAY, only_free=False)[0].booked == 1
    with pytest.raises(AntreanError) as err:
        _book(world, slot.id, note="Another request", idempotency_key="k1")
    assert _code(err) == "idempotency_key_reused"


def test_patients_book_only_for_themselves_and_see_only_their_own(world):
    slot = world.slots(MONDAY)[0]
    me = world.patient_actor(0)
    appt = booking.book_appointment(
        world.uow, actor=me, policy=world.policy, draft=BookingDraft(slot_id=slot.id)
    )
    assert appt.patient_id == world.patient_ids[0]
    with pytest.raises(AntreanError) as err:
        booking.book_appointment(
            world.uow,
            actor=me,
            policy=world.policy,
            draft=BookingDraft(slot_id=slot.id, patient_id=world.patient_ids[1]),
        )
    assert _code(err) == "forbidden"
    with pytest.raises(AntreanError) as err:
        booking.get_appointment(world.uow, actor=world.patient_actor(1), code=appt.code)
    assert _code(err) == "appointment_not_found"
    with pytest.raises(AntreanError) as err:
        booking.list_appointments(
            world.uow, actor=me, flt=booking.AppointmentFilter(), page=booking.Page()
        )
    assert _code(err) == "forbidden"


def test_only_admins_change_the_catalog(world):
    operator = Actor(user_id=9, facility_id=1, roles=frozenset({Role.OPERATOR}))
    with pytest.raises(AntreanError) as err:
        catalog.create_doctor(world.uow, actor=operator, draft=DoctorDraft(name="dr. X"))
    assert _code(err) == "forbidden"

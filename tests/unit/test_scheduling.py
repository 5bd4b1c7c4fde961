import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from antrean.domain.catalog import OpeningHours
from antrean.domain.common import UTC
from antrean.domain.scheduling import (
    ExceptionKind,
    ExistingSlot,
    Schedule,
    ScheduleException,
    SlotSpec,
    find_schedule_overlap,
    generate_slots,
    plan_slot_sync,
)

JKT = ZoneInfo("Asia/Jakarta")
MONDAY = date(2026, 11, 23)
ALL_WEEK = {1: [OpeningHours(d, time(7), time(21)) for d in range(7)]}


def _schedule(**kw):
    base = dict(
        id=1,
        doctor_id=1,
        clinic_id=1,
        weekday=0,
        start=time(8),
        end=time(10),
        slot_minutes=30,
        capacity=2,
    )
    base.update(kw)
    return Schedule(**base)


def _gen(schedules, exceptions=(), hours=None, first=MONDAY, last=MONDAY, tz=JKT):
    return generate_slots(
        schedules=schedules,
        exceptions=exceptions,
        opening_hours=ALL_WEEK if hours is None else hours,
        first_day=first,
        last_day=last,
        tz=tz,
    )


def test_a_session_is_cut_into_slots_stored_in_utc():
    slots = _gen([_schedule()])
    assert [s.start_at for s in slots] == [
        datetime(2026, 11, 23, h, m, tzinfo=UTC) for h, m in ((1, 0), (1, 30), (2, 0), (2, 30))
    ]
    assert all(s.day == MONDAY and s.capacity == 2 for s in slots)


def test_a_partial_slot_at_the_end_of_a_session_is_not_made():
    assert len(_gen([_schedule(end=time(9, 50))])) == 3


def test_only_the_schedules_weekday_gets_slots():
    slots = _gen([_schedule(weekday=2)], first=MONDAY, last=MONDAY + timedelta(days=6))
    assert {s.day for s in slots} == {MONDAY + timedelta(days=2)}


def test_slots_outside_opening_hours_are_dropped():
    hours = {1: [OpeningHours(0, time(8, 30), time(9, 30))]}
    slots = _gen([_schedule()], hours=hours)
    assert [s.start_at.astimezone(JKT).time() for s in slots] == [time(8, 30), time(9)]


def test_a_closed_weekday_gets_no_slots():
    assert _gen([_schedule()], hours={1: []}) == []


def test_holiday_for_the_facility_blocks_every_doctor():
    holiday = ScheduleException(1, ExceptionKind.HOLIDAY, MONDAY, MONDAY, reason="Maulid")
    assert _gen([_schedule(), _schedule(id=2, doctor_id=2)], [holiday]) == []


def test_holiday_for_one_clinic_leaves_the_other():
    holiday = ScheduleException(1, ExceptionKind.HOLIDAY, MONDAY, MONDAY, clinic_id=2)
    hours = {1: ALL_WEEK[1], 2: ALL_WEEK[1]}
    slots = _gen([_schedule(), _schedule(id=2, doctor_id=2, clinic_id=2)], [holiday], hours=hours)
    assert {s.clinic_id for s in slots} == {1}


def test_leave_blocks_only_that_doctor_and_only_those_days():
    leave = ScheduleException(1, ExceptionKind.LEAVE, MONDAY, MONDAY, doctor_id=1)
    slots = _gen(
        [_schedule(), _schedule(id=2, doctor_id=2)], [leave], last=MONDAY + timedelta(days=7)
    )
    assert {(s.doctor_id, s.day) for s in slots} == {
        (2, MONDAY),
        (1, MONDAY + timedelta(days=7)),
        (2, MONDAY + timedelta(days=7)),
    }


def test_changed_hours_replace_the_session():
    changed = ScheduleException(
        1, ExceptionKind.CHANGED_HOURS, MONDAY, MONDAY, doctor_id=1, start=time(13), end=time(14)
    )
    slots = _gen([_schedule()], [changed])
    assert [s.start_at.astimezone(JKT).time() for s in slots] == [time(13), time(13, 30)]


def test_overlapping_sessions_of_one_doctor_never_give_overlapping_slots():
    a = _schedule(start=time(8), end=time(10), slot_minutes=30)
    b = _schedule(id=2, clinic_id=1, start=time(9, 15), end=time(11), slot_minutes=45)
    slots = _gen([a, b])
    ordered = sorted(slots, key=lambda s: s.start_at)
    assert all(x.end_at <= y.start_at for x, y in itertools.pairwise(ordered))


def test_daylight_saving_gap_skips_the_missing_wall_clock_slot():
    berlin = ZoneInfo("Europe/Berlin")
    sunday = date(2026, 3, 29)  # clocks go from 02:00 to 03:00
    slots = _gen(
        [_schedule(weekday=6, start=time(1), end=time(4), slot_minutes=60)],
        hours={1: [OpeningHours(6, time(0), time(23, 59))]},
        first=sunday,
        last=sunday,
        tz=berlin,
    )
    local = [s.start_at.astimezone(berlin).time() for s in slots]
    assert time(2) not in local
    assert time(1) in local and time(3) in local
    assert all(s.end_at > s.start_at for s in slots)


def test_schedule_overlap_is_found_only_for_same_doctor_and_weekday():
    existing = [_schedule(id=5)]
    assert find_schedule_overlap(_schedule(id=0, start=time(9), end=time(11)), existing) is not None
    assert find_schedule_overlap(_schedule(id=0, start=time(10), end=time(11)), existing) is None
    assert find_schedule_overlap(_schedule(id=0, doctor_id=2), existing) is None
    assert find_schedule_overlap(_schedule(id=0, weekday=1), existing) is None


def _existing(spec: SlotSpec, slot_id: int, booked: int = 0, active: bool = True, capacity=None):
    return ExistingSlot(
        slot_id,
        spec.doctor_id,
        spec.start_at,
        spec.end_at,
        spec.clinic_id,
        capacity or spec.capacity,
        booked,
        active,
    )


def test_sync_never_drops_a_booked_slot_and_reports_it():
    specs = _gen([_schedule()])
    stored = [_existing(specs[0], 1, booked=1), _existing(specs[1], 2)]
    plan = plan_slot_sync([], stored)
    assert plan.orphan == [1]
    assert plan.delete == [2]
    assert plan.create == []


def test_sync_creates_missing_and_keeps_capacity_above_bookings():
    specs = _gen([_schedule(capacity=1)])
    stored = [_existing(specs[0], 1, booked=2, capacity=3)]
    plan = plan_slot_sync(specs, stored)
    assert plan.update_capacity == [(1, 2)]
    assert plan.over_capacity == [1]
    assert [s.key for s in plan.create] == [s.key for s in specs[1:]]


def test_sync_reactivates_a_slot_that_is_wanted_again():
    specs = _gen([_schedule()])
    plan = plan_slot_sync(specs[:1], [_existing(specs[0], 7, booked=1, active=False)])
    assert plan.reactivate == [7]
    assert plan.create == []


# --- property: slots never overlap for one doctor, avoid exceptions, respect opening hours ---


def _half_hour(n: int) -> time:
    return time(n // 2, 30 * (n % 2))


@st.composite
def time_ranges(draw):
    """A start and a later end, on the half hour."""
    first = draw(st.integers(min_value=0, max_value=46))
    last = draw(st.integers(min_value=first + 1, max_value=47))
    return _half_hour(first), _half_hour(last)


@st.composite
def schedules(draw):
    start, end = draw(time_ranges())
    return Schedule(
        id=draw(st.integers(1, 10_000)),
        doctor_id=draw(st.integers(1, 3)),
        clinic_id=draw(st.integers(1, 2)),
        weekday=draw(st.integers(0, 6)),
        start=start,
        end=end,
        slot_minutes=draw(st.sampled_from([10, 15, 20, 25, 30, 45, 60])),
        capacity=draw(st.integers(1, 5)),
    )


@st.composite
def exceptions(draw, base: date):
    kind = draw(st.sampled_from(list(ExceptionKind)))
    first = base + timedelta(days=draw(st.integers(0, 13)))
    last = first + timedelta(days=draw(st.integers(0, 3)))
    doctor = (
        draw(st.none() | st.integers(1, 3))
        if kind is ExceptionKind.HOLIDAY
        else draw(st.integers(1, 3))
    )
    start, end = draw(time_ranges())
    return ScheduleException(
        id=0,
        kind=kind,
        date_from=first,
        date_to=last,
        doctor_id=doctor,
        clinic_id=draw(st.none() | st.integers(1, 2)),
        start=start if kind is ExceptionKind.CHANGED_HOURS else None,
        end=end if kind is ExceptionKind.CHANGED_HOURS else None,
    )


@st.composite
def opening(draw):
    result = {}
    for clinic in (1, 2):
        windows = []
        for weekday in range(7):
            if draw(st.booleans()):
                opens, closes = draw(time_ranges())
                windows.append(OpeningHours(weekday, opens, closes))
        result[clinic] = windows
    return result


# Fortnights that hold the 2026 DST changes in Europe and North America, and one with none.
FORTNIGHTS = [date(2026, 3, 2), date(2026, 3, 23), date(2026, 10, 19), MONDAY]


@settings(max_examples=200, deadline=None)
@given(
    st.data(),
    st.lists(schedules(), max_size=6),
    opening(),
    st.sampled_from(["Asia/Jakarta", "Asia/Makassar", "Europe/Berlin", "America/New_York"]),
    st.sampled_from(FORTNIGHTS),
)
def test_generated_slots_respect_every_rule(data, scheds, hours, zone, first):
    tz = ZoneInfo(zone)
    excs = data.draw(st.lists(exceptions(first), max_size=4))
    slots = _gen(scheds, excs, hours=hours, first=first, last=first + timedelta(days=13), tz=tz)
    by_doctor: dict[int, list[SlotSpec]] = {}
    for s in slots:
        by_doctor.setdefault(s.doctor_id, []).append(s)
    for doctor_slots in by_doctor.values():
        doctor_slots.sort(key=lambda s: s.start_at)
        for a, b in itertools.pairwise(doctor_slots):
            assert a.end_at <= b.start_at, "slots of one doctor overlap"
    for s in slots:
        local_start = s.start_at.astimezone(tz)
        assert local_start.date() == s.day
        windows = [w for w in hours.get(s.clinic_id, []) if w.weekday == s.day.weekday()]
        wall_end = (local_start.replace(tzinfo=None) + (s.end_at - s.start_at)).time()
        assert any(w.opens <= local_start.time() and wall_end <= w.closes for w in windows), (
            "slot outside opening hours"
        )
        assert s.end_at > s.start_at
        for e in excs:
            if e.kind is ExceptionKind.CHANGED_HOURS or not e.covers(s.day):
                continue
            if e.kind is ExceptionKind.HOLIDAY and e.doctor_id is None:
                assert e.clinic_id not in (None, s.clinic_id), "slot on a holiday"
            else:
                assert not e.applies_to(doctor_id=s.doctor_id, clinic_id=s.clinic_id), (
                    "slot during leave"
                )

"""Clinics, doctors, schedules, exceptions and the slots they make."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from antrean.domain.catalog import OpeningHours
from antrean.domain.common import daterange, local_to_utc
from antrean.domain.errors import AntreanError
from antrean.domain.fields import (
    check_date,
    check_id,
    check_optional_id,
    check_range,
    clean_text,
    local_time,
)


@dataclass(slots=True)
class Schedule:
    """A doctor's recurring weekly session at one clinic."""

    id: int
    doctor_id: int
    clinic_id: int
    weekday: int
    start: time
    end: time
    slot_minutes: int
    capacity: int


class ExceptionKind(StrEnum):
    LEAVE = "leave"  # one doctor away
    HOLIDAY = "holiday"  # nobody works (whole facility, or one clinic)
    CHANGED_HOURS = "changed_hours"  # a doctor's sessions run at other hours


@dataclass(slots=True)
class ScheduleException:
    id: int
    kind: ExceptionKind
    date_from: date
    date_to: date
    doctor_id: int | None = None
    clinic_id: int | None = None
    start: time | None = None
    end: time | None = None
    reason: str = ""

    def covers(self, day: date) -> bool:
        return self.date_from <= day <= self.date_to

    def applies_to(self, *, doctor_id: int, clinic_id: int) -> bool:
        if self.doctor_id is not None and self.doctor_id != doctor_id:
            return False
        return self.clinic_id is None or self.clinic_id == clinic_id


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """A slot as the schedules say it should be."""

    doctor_id: int
    clinic_id: int
    day: date  # the facility's local day
    start_at: datetime  # UTC
    end_at: datetime  # UTC
    capacity: int
    schedule_id: int

    @property
    def key(self) -> tuple[int, datetime]:
        return (self.doctor_id, self.start_at)


MIN_SLOT_MINUTES, MAX_SLOT_MINUTES = 5, 480
MAX_CAPACITY = 500
MAX_EXCEPTION_DAYS = 366  # leave, a holiday or changed hours span at most a year


def validate_time_range(start: time, end: time) -> None:
    if start >= end:
        raise AntreanError("invalid_time_range")


def validate_schedule(schedule: Schedule) -> Schedule:
    """A weekly session as it may be stored: known kinds of values, local times in order."""
    check_id(schedule.doctor_id, "doctor_id")
    check_id(schedule.clinic_id, "clinic_id")
    check_range(schedule.weekday, "weekday", 0, 6)
    validate_time_range(local_time(schedule.start, "start"), local_time(schedule.end, "end"))
    check_range(schedule.slot_minutes, "slot_minutes", MIN_SLOT_MINUTES, MAX_SLOT_MINUTES)
    check_range(schedule.capacity, "capacity", 1, MAX_CAPACITY)
    return schedule


def validate_exception(exc: ScheduleException) -> ScheduleException:
    """Leave, a holiday or changed hours, checked; the reason is cleaned."""
    if not isinstance(exc.kind, ExceptionKind):
        raise AntreanError("field_invalid", field="kind")
    check_optional_id(exc.doctor_id, "doctor_id")
    check_optional_id(exc.clinic_id, "clinic_id")
    for value, name in ((exc.start, "start"), (exc.end, "end")):
        if value is not None:
            local_time(value, name)
    check_date(exc.date_from, "date_from")
    check_date(exc.date_to, "date_to")
    if exc.date_from > exc.date_to:
        raise AntreanError("invalid_date_range")
    if (exc.date_to - exc.date_from).days >= MAX_EXCEPTION_DAYS:
        raise AntreanError("date_range_too_long", max_days=MAX_EXCEPTION_DAYS)
    if exc.kind is ExceptionKind.LEAVE and exc.doctor_id is None:
        raise AntreanError(
            "exception_incomplete",
            detail_id="Cuti harus menyebut dokternya.",
            detail_en="A leave must name the doctor.",
        )
    if exc.kind is ExceptionKind.CHANGED_HOURS:
        if exc.doctor_id is None or exc.start is None or exc.end is None:
            raise AntreanError(
                "exception_incomplete",
                detail_id="Perubahan jam harus menyebut dokter, jam mulai dan jam selesai.",
                detail_en="Changed hours must name the doctor, a start time and an end time.",
            )
        validate_time_range(exc.start, exc.end)
    reason = clean_text(exc.reason, "reason", max_length=200, required=False)
    return ScheduleException(
        id=exc.id,
        kind=exc.kind,
        date_from=exc.date_from,
        date_to=exc.date_to,
        doctor_id=exc.doctor_id,
        clinic_id=exc.clinic_id,
        start=exc.start,
        end=exc.end,
        reason=reason,
    )


def find_schedule_overlap(candidate: Schedule, existing: Iterable[Schedule]) -> Schedule | None:
    """Another schedule of the same doctor on the same weekday whose hours intersect, if any."""
    for other in existing:
        if other.id == candidate.id or other.doctor_id != candidate.doctor_id:
            continue
        if other.weekday != candidate.weekday:
            continue
        if candidate.start < other.end and other.start < candidate.end:
            return other
    return None


def _blocking_exception(
    exceptions: list[ScheduleException], *, day: date, doctor_id: int, clinic_id: int
) -> ScheduleException | None:
    for exc in exceptions:
        if exc.kind is ExceptionKind.CHANGED_HOURS or not exc.covers(day):
            continue
        if exc.kind is ExceptionKind.HOLIDAY and exc.doctor_id is None:
            if exc.clinic_id is None or exc.clinic_id == clinic_id:
                return exc
        elif exc.applies_to(doctor_id=doctor_id, clinic_id=clinic_id):
            return exc
    return None


def blocking_exception(
    exceptions: list[ScheduleException], *, day: date, doctor_id: int, clinic_id: int
) -> ScheduleException | None:
    """The holiday or leave that keeps this doctor from working at this clinic on this day."""
    return _blocking_exception(exceptions, day=day, doctor_id=doctor_id, clinic_id=clinic_id)


def _session_hours(
    schedule: Schedule, exceptions: list[ScheduleException], day: date
) -> tuple[time, time]:
    for exc in exceptions:
        if (
            exc.kind is ExceptionKind.CHANGED_HOURS
            and exc.covers(day)
            and exc.applies_to(doctor_id=schedule.doctor_id, clinic_id=schedule.clinic_id)
            and exc.start is not None
            and exc.end is not None
        ):
            return exc.start, exc.end
    return schedule.start, schedule.end


def _within_hours(start: time, end: time, windows: list[OpeningHours]) -> bool:
    return any(w.opens <= start and end <= w.closes for w in windows)


def _session_slots(
    schedule: Schedule, day: date, start: time, end: time, tz: ZoneInfo
) -> Iterable[tuple[time, time]]:
    step = timedelta(minutes=schedule.slot_minutes)
    cursor = datetime.combine(day, start)
    limit = datetime.combine(day, end)
    while cursor + step <= limit:
        yield cursor.time(), (cursor + step).time()
        cursor += step


def generate_slots(
    *,
    schedules: Iterable[Schedule],
    exceptions: Iterable[ScheduleException],
    opening_hours: dict[int, list[OpeningHours]],
    first_day: date,
    last_day: date,
    tz: ZoneInfo,
) -> list[SlotSpec]:
    """Every slot the schedules make between two local days, both included.

    A slot lies wholly inside its clinic's opening hours for that weekday, never on a holiday
    or a doctor's leave, and never overlaps another slot of the same doctor (where two sessions
    of a doctor would overlap, the earlier-starting slot wins).
    """
    exc_list = list(exceptions)
    by_weekday: dict[int, list[Schedule]] = defaultdict(list)
    for schedule in schedules:
        by_weekday[schedule.weekday].append(schedule)
    specs: list[SlotSpec] = []
    for day in daterange(first_day, last_day):
        for schedule in by_weekday.get(day.weekday(), []):
            specs.extend(_slots_for_day(schedule, exc_list, opening_hours, day, tz))
    return _drop_overlaps(specs)


def _slots_for_day(
    schedule: Schedule,
    exceptions: list[ScheduleException],
    opening_hours: dict[int, list[OpeningHours]],
    day: date,
    tz: ZoneInfo,
) -> Iterable[SlotSpec]:
    if _blocking_exception(
        exceptions, day=day, doctor_id=schedule.doctor_id, clinic_id=schedule.clinic_id
    ):
        return
    windows = [w for w in opening_hours.get(schedule.clinic_id, []) if w.weekday == day.weekday()]
    start, end = _session_hours(schedule, exceptions, day)
    for slot_start, slot_end in _session_slots(schedule, day, start, end, tz):
        if not _within_hours(slot_start, slot_end, windows):
            continue
        start_at = local_to_utc(day, slot_start, tz)
        if start_at is None:
            continue  # this wall-clock time does not exist that day (clocks sprang forward)
        # A slot lasts its length in real time, even across a DST change.
        end_at = start_at + timedelta(minutes=schedule.slot_minutes)
        yield SlotSpec(
            doctor_id=schedule.doctor_id,
            clinic_id=schedule.clinic_id,
            day=day,
            start_at=start_at,
            end_at=end_at,
            capacity=schedule.capacity,
            schedule_id=schedule.id,
        )


def _drop_overlaps(specs: list[SlotSpec]) -> list[SlotSpec]:
    kept: list[SlotSpec] = []
    last_end: dict[int, datetime] = {}
    for spec in sorted(specs, key=lambda s: (s.doctor_id, s.start_at, s.end_at)):
        previous_end = last_end.get(spec.doctor_id)
        if previous_end is not None and spec.start_at < previous_end:
            continue
        kept.append(spec)
        last_end[spec.doctor_id] = spec.end_at
    return kept


@dataclass(frozen=True, slots=True)
class ExistingSlot:
    id: int
    doctor_id: int
    start_at: datetime
    end_at: datetime
    clinic_id: int
    capacity: int
    booked: int
    active: bool


@dataclass(slots=True)
class SlotPlan:
    """What to do to bring stored slots in step with the schedules."""

    create: list[SlotSpec] = field(default_factory=list)
    update_capacity: list[tuple[int, int]] = field(default_factory=list)  # (slot id, capacity)
    reactivate: list[int] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)  # unbooked slots no longer wanted
    orphan: list[int] = field(default_factory=list)  # booked slots no longer wanted: keep, report
    over_capacity: list[int] = field(default_factory=list)  # booked beyond a lowered capacity


def plan_slot_sync(desired: Iterable[SlotSpec], existing: Iterable[ExistingSlot]) -> SlotPlan:
    """Compare the slots the schedules want with those stored.

    Never drops a booking: a slot that holds bookings but is no longer wanted is deactivated
    (no new bookings) and reported; a capacity is never lowered below what is already booked.
    """
    plan = SlotPlan()
    wanted = {spec.key: spec for spec in desired}
    seen: set[tuple[int, datetime]] = set()
    for slot in existing:
        key = (slot.doctor_id, slot.start_at)
        spec = wanted.get(key)
        if spec is None or spec.end_at != slot.end_at or spec.clinic_id != slot.clinic_id:
            if slot.booked > 0:
                seen.add(key)  # the booked slot keeps its place; staff resolve the conflict
                if slot.active:
                    plan.orphan.append(slot.id)
            else:
                plan.delete.append(slot.id)
            continue
        seen.add(key)
        if not slot.active:
            plan.reactivate.append(slot.id)
        capacity = max(spec.capacity, slot.booked)
        if capacity != slot.capacity:
            plan.update_capacity.append((slot.id, capacity))
        if slot.booked > spec.capacity:
            plan.over_capacity.append(slot.id)
    plan.create = [spec for key, spec in wanted.items() if key not in seen]
    return plan

"""Use cases for doctors' weekly schedules, exceptions (leave, holidays, changed hours), the
slots they make, and the bookings that a change left without a place."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from antrean.domain.booking import Appointment, BookingPolicy, appointment_event
from antrean.domain.catalog import Clinic, Doctor, Service
from antrean.domain.common import Page, checked_page
from antrean.domain.errors import AntreanError
from antrean.domain.events import EventKind
from antrean.domain.fields import check_date, check_id, check_optional_id
from antrean.domain.identity import Actor, Role
from antrean.domain.scheduling import (
    MAX_EXCEPTION_DAYS,
    Schedule,
    ScheduleException,
    find_schedule_overlap,
    validate_exception,
    validate_schedule,
)
from antrean.services.access import allow
from antrean.services.catalog import find_clinic, find_doctor, find_service
from antrean.services.ports import Conflict, FreePlaces, FreeSlot, SlotQuery, UnitOfWork
from antrean.services.slot_sync import SlotSyncReport, plan_sync, sync_slots

MAX_SEARCH_DAYS = 31
MAX_SLOT_PAGE = 500


@allow(Role.ADMIN)
def generate_facility_slots(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy
) -> SlotSyncReport:
    """Bring the slots in step with the schedules over the booking horizon (daily, and at
    start: the horizon moves a day each day)."""
    with uow(write=True):
        report = sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        uow.commit()
    return report


# --- schedules -----------------------------------------------------------------------------


@allow(public=True)
def list_schedules(
    uow: UnitOfWork, *, actor: Actor, doctor_id: int | None = None, clinic_id: int | None = None
) -> list[Schedule]:
    check_optional_id(doctor_id, "doctor_id")
    check_optional_id(clinic_id, "clinic_id")
    with uow():
        return uow.schedules.all(actor.facility_id, doctor_id=doctor_id, clinic_id=clinic_id)


def _check_schedule(uow: UnitOfWork, facility_id: int, schedule: Schedule) -> None:
    find_doctor(uow, facility_id, schedule.doctor_id)
    find_clinic(uow, facility_id, schedule.clinic_id)
    clash = find_schedule_overlap(
        schedule, uow.schedules.all(facility_id, doctor_id=schedule.doctor_id)
    )
    if clash is not None:
        raise AntreanError("schedule_overlap", weekday=schedule.weekday)


@allow(Role.ADMIN)
def save_schedule(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, schedule: Schedule
) -> tuple[Schedule, SlotSyncReport]:
    """Create (id 0) or replace a weekly schedule, then bring the slots in step."""
    validate_schedule(schedule)
    if schedule.id:
        check_id(schedule.id, "schedule_id")
    with uow(write=True):
        if schedule.id and uow.schedules.get(actor.facility_id, schedule.id) is None:
            raise AntreanError("not_found", entity="Schedule")
        _check_schedule(uow, actor.facility_id, schedule)
        if schedule.id:
            uow.schedules.update(actor.facility_id, schedule)
        else:
            schedule = replace(schedule, id=uow.schedules.add(actor.facility_id, schedule))
        report = sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        uow.commit()
    return schedule, report


@allow(Role.ADMIN)
def delete_schedule(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, schedule_id: int
) -> SlotSyncReport:
    check_id(schedule_id, "schedule_id")
    with uow(write=True):
        if uow.schedules.get(actor.facility_id, schedule_id) is None:
            raise AntreanError("not_found", entity="Schedule")
        uow.schedules.delete(actor.facility_id, schedule_id)
        report = sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        uow.commit()
    return report


# --- exceptions ----------------------------------------------------------------------------


@allow(public=True)
def list_exceptions(
    uow: UnitOfWork, *, actor: Actor, first_day: date, last_day: date
) -> list[ScheduleException]:
    check_date(first_day, "date_from")
    check_date(last_day, "date_to")
    if first_day > last_day:
        raise AntreanError("invalid_date_range")
    if (last_day - first_day).days >= MAX_EXCEPTION_DAYS:
        raise AntreanError("date_range_too_long", max_days=MAX_EXCEPTION_DAYS)
    with uow():
        return uow.schedules.list_exceptions(actor.facility_id, first_day, last_day)


@allow(Role.ADMIN)
def add_exception(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, exception: ScheduleException
) -> tuple[ScheduleException, SlotSyncReport]:
    """Record leave, a holiday or changed hours; affected bookings are reported, never dropped."""
    exception = validate_exception(exception)
    with uow(write=True):
        if exception.doctor_id is not None:
            find_doctor(uow, actor.facility_id, exception.doctor_id)
        if exception.clinic_id is not None:
            find_clinic(uow, actor.facility_id, exception.clinic_id)
        exception = replace(exception, id=uow.schedules.add_exception(actor.facility_id, exception))
        report = sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        uow.commit()
    return exception, report


@allow(Role.ADMIN)
def preview_exception(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, exception: ScheduleException
) -> list[Appointment]:
    """The bookings that leave, a holiday or changed hours would touch, before it is saved:
    those in slots it takes away (they stay booked and are reported for staff to move)."""
    exception = validate_exception(exception)
    with uow():
        if exception.doctor_id is not None:
            find_doctor(uow, actor.facility_id, exception.doctor_id)
        if exception.clinic_id is not None:
            find_clinic(uow, actor.facility_id, exception.clinic_id)
        plan = plan_sync(
            uow, facility_id=actor.facility_id, policy=policy, more_exceptions=(exception,)
        )
        touched = uow.appointments.active_in_slots(plan.orphan + plan.over_capacity)
    return sorted(touched, key=lambda a: (a.start_at, a.id))


@allow(Role.ADMIN)
def delete_exception(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, exception_id: int
) -> SlotSyncReport:
    check_id(exception_id, "exception_id")
    with uow(write=True):
        if uow.schedules.get_exception(actor.facility_id, exception_id) is None:
            raise AntreanError("not_found", entity="Schedule exception")
        uow.schedules.delete_exception(actor.facility_id, exception_id)
        report = sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        uow.commit()
    return report


# --- slots ---------------------------------------------------------------------------------


@allow(public=True)
def search_slots(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    date_from: date,
    date_to: date | None = None,
    clinic_id: int | None = None,
    service_id: int | None = None,
    doctor_id: int | None = None,
    only_free: bool = True,
) -> list[FreeSlot]:
    """Bookable slots from one day to another (the same day when no end is given; at most 31
    days), soonest first. A service narrows the search to its clinic."""
    with uow():
        window = _search_window(uow, actor, date_from, date_to, clinic_id, service_id)
        not_before = uow.clock.now()
        if only_free:
            not_before += timedelta(minutes=policy.cutoff_minutes)
        return uow.slots.search(
            actor.facility_id,
            first_day=window.first,
            last_day=window.last,
            not_before=not_before,
            clinic_id=window.clinic_id,
            doctor_id=check_optional_id(doctor_id, "doctor_id"),
            only_free=only_free,
        )


@allow(public=True)
def slot_page(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    date_from: date,
    date_to: date,
    page: Page,
    clinic_id: int | None = None,
    service_id: int | None = None,
    doctor_id: int | None = None,
    starts_from: datetime | None = None,
    starts_before: datetime | None = None,
    places: str = "free",
    doctor_ids: tuple[int, ...] | None = None,
) -> tuple[list[FreeSlot], int]:
    """One page of the slots from one day to another (at most 31 days), soonest first, and
    how many there are: with free places (bookable: not past the booking cutoff), full, or
    any ("unavailable": those closed to new bookings, kept for the bookings they hold).
    `starts_from` and `starts_before` narrow the times within those days; `doctor_ids` to
    those doctors."""
    if places not in ("free", "full", "unavailable", "any"):
        raise AntreanError("field_invalid", field="places")
    page = checked_page(page, MAX_SLOT_PAGE)
    with uow():
        window = _search_window(uow, actor, date_from, date_to, clinic_id, service_id)
        not_before = uow.clock.now()
        if places == "free":
            not_before += timedelta(minutes=policy.cutoff_minutes)
        if starts_from is not None:
            not_before = max(not_before, starts_from)
        query = SlotQuery(
            first_day=window.first,
            last_day=window.last,
            not_before=not_before,
            before=starts_before,
            clinic_id=window.clinic_id,
            doctor_id=check_optional_id(doctor_id, "doctor_id"),
            places=places,
            doctor_ids=doctor_ids,
        )
        return uow.slots.page(actor.facility_id, query, page)


@allow(public=True)
def get_slot(uow: UnitOfWork, *, actor: Actor, slot_id: int) -> FreeSlot:
    """One slot of an active doctor, open or closed to bookings (`slot_not_found` else)."""
    slot_id = check_id(slot_id, "slot_id")
    with uow():
        found = uow.slots.one(actor.facility_id, slot_id)
    if found is None:
        raise AntreanError("slot_not_found")
    return found


@dataclass(frozen=True, slots=True)
class _Window:
    first: date
    last: date
    clinic_id: int | None


def _search_window(
    uow: UnitOfWork,
    actor: Actor,
    date_from: date,
    date_to: date | None,
    clinic_id: int | None,
    service_id: int | None,
) -> _Window:
    """The days and clinic of a search, checked, in the caller's transaction."""
    last = check_date(date_to or date_from, "date_to")
    check_date(date_from, "date_from")
    if date_from > last:
        raise AntreanError("invalid_date_range")
    if (last - date_from).days >= MAX_SEARCH_DAYS:
        raise AntreanError("date_range_too_long", max_days=MAX_SEARCH_DAYS)
    check_optional_id(clinic_id, "clinic_id")
    if service_id is not None:
        service = find_service(uow, actor.facility_id, service_id)
        if clinic_id is not None and clinic_id != service.clinic_id:
            raise AntreanError("service_not_in_clinic")
        clinic_id = service.clinic_id
    return _Window(date_from, last, clinic_id)


@allow(public=True)
def free_places(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    date_from: date,
    date_to: date | None = None,
    clinic_id: int | None = None,
    service_id: int | None = None,
    doctor_id: int | None = None,
) -> list[FreePlaces]:
    """How many places are still bookable on each day with each doctor: what a patient
    choosing a doctor or a day needs, counted in the database instead of slot by slot."""
    with uow():
        window = _search_window(uow, actor, date_from, date_to, clinic_id, service_id)
        return uow.slots.free_places(
            actor.facility_id,
            first_day=window.first,
            last_day=window.last,
            not_before=uow.clock.now() + timedelta(minutes=policy.cutoff_minutes),
            clinic_id=window.clinic_id,
            doctor_id=check_optional_id(doctor_id, "doctor_id"),
        )


@allow(Role.OPERATOR, Role.DOCTOR)
def list_conflicts(uow: UnitOfWork, *, actor: Actor) -> list[Conflict]:
    """Bookings whose slot a schedule change or an exception took away, for staff to resolve."""
    with uow():
        return uow.appointments.open_conflicts(actor.facility_id)


@allow(Role.OPERATOR, Role.DOCTOR)
def resolve_conflict(uow: UnitOfWork, *, actor: Actor, conflict_id: int) -> Conflict:
    """Close a conflict and keep the booking as it is (the patient was told, or the doctor sees
    them all the same). Rescheduling or cancelling the appointment closes its conflicts by
    itself."""
    check_id(conflict_id, "conflict_id")
    with uow(write=True):
        now = uow.clock.now()
        conflict = uow.appointments.close_conflict(actor.facility_id, conflict_id, now)
        if conflict is None:
            raise AntreanError("not_found", entity="Booking conflict")
        appointment = uow.appointments.get(actor.facility_id, conflict.appointment_id)
        if appointment is not None:
            uow.publish(
                appointment_event(
                    EventKind.CONFLICT_RESOLVED,
                    appointment,
                    at=now,
                    actor_user_id=actor.account_id,
                    reason=conflict.reason,
                )
            )
        uow.commit()
    return conflict


BOOKING_WINDOW_DAYS = 30  # what the booking pages look at ahead, within the booking horizon


@dataclass(frozen=True, slots=True)
class BookingChoices:
    """What the booking pages offer for the choices made so far, read in one transaction:
    the clinics taking bookings; the chosen clinic's services; the free places per day and
    doctor over the coming weeks (all doctors, to choose one; then the chosen one); the free
    slots of a chosen day (then no places are counted). A choice that is not (or no longer)
    valid is None."""

    today: date
    last_day: date
    clinics: list[Clinic]
    clinic: Clinic | None = None
    services: list[Service] = field(default_factory=list)
    service: Service | None = None
    doctor: Doctor | None = None
    places: list[FreePlaces] = field(default_factory=list)
    slots: list[FreeSlot] = field(default_factory=list)


@allow(public=True)
def booking_choices(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    clinic_id: int | None = None,
    service_id: int | None = None,
    doctor_id: int | None = None,
    day: date | None = None,
) -> BookingChoices:
    with uow():
        now = uow.clock.now()
        today = now.astimezone(policy.time_zone).date()
        last = today + timedelta(days=min(policy.horizon_days, BOOKING_WINDOW_DAYS))
        clinics = [k for k in uow.catalog.list_clinics(actor.facility_id) if k.is_open]
        clinic = next((k for k in clinics if k.id == clinic_id), None)
        if clinic is None:
            return BookingChoices(today, last, clinics)
        services = [s for s in uow.catalog.list_services(actor.facility_id, clinic.id) if s.active]
        service = next((s for s in services if s.id == service_id), None)
        if service is None:
            return BookingChoices(today, last, clinics, clinic, services)
        not_before = now + timedelta(minutes=policy.cutoff_minutes)
        doctor = None
        if doctor_id is not None:
            doctor = uow.catalog.get_doctor(actor.facility_id, check_id(doctor_id, "doctor_id"))
        places: list[FreePlaces] = []
        slots: list[FreeSlot] = []
        if day is not None and today <= day <= last and (doctor_id is None or doctor):
            slots = uow.slots.search(  # a day is chosen: its times only
                actor.facility_id,
                first_day=day,
                last_day=day,
                not_before=not_before,
                clinic_id=clinic.id,
                doctor_id=doctor_id,
                only_free=True,
            )
        else:  # choosing a doctor or a day: free places per day and doctor
            places = uow.slots.free_places(
                actor.facility_id,
                first_day=today,
                last_day=last,
                not_before=not_before,
                clinic_id=clinic.id,
                doctor_id=None,
            )
    return BookingChoices(today, last, clinics, clinic, services, service, doctor, places, slots)

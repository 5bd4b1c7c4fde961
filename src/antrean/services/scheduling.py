"""Use cases for clinics, services, doctors, schedules, exceptions and slots."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from antrean.domain.booking import BookingPolicy
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role
from antrean.domain.scheduling import (
    Clinic,
    OpeningHours,
    Schedule,
    ScheduleException,
    find_schedule_overlap,
    generate_slots,
    plan_slot_sync,
    validate_exception,
    validate_time_range,
)
from antrean.services.ports import DoctorRow, FreeSlot, ServiceRow, UniqueViolation, UnitOfWork

MAX_SEARCH_DAYS = 31


@dataclass(frozen=True, slots=True)
class SlotSyncReport:
    created: int = 0
    removed: int = 0
    deactivated: int = 0
    reactivated: int = 0
    resized: int = 0
    conflicts: int = 0


def sync_slots(uow: UnitOfWork, *, facility_id: int, policy: BookingPolicy) -> SlotSyncReport:
    """Bring stored slots in step with schedules and exceptions over the booking horizon.

    Runs inside the caller's transaction. Bookings are never dropped: a booked slot that the
    schedules no longer want is deactivated and its appointments reported as conflicts.
    """
    now = uow.clock.now()
    first_day = now.astimezone(policy.time_zone).date()
    last_day = policy.last_bookable_day(first_day)
    desired = generate_slots(
        schedules=uow.schedules.all(facility_id),
        exceptions=uow.schedules.list_exceptions(facility_id, first_day, last_day),
        opening_hours=uow.catalog.opening_hours(facility_id),
        first_day=first_day,
        last_day=last_day,
        tz=policy.time_zone,
    )
    plan = plan_slot_sync(desired, uow.slots.existing(facility_id, first_day, last_day))
    uow.slots.delete(plan.delete)
    uow.slots.set_active(plan.orphan, False)
    uow.slots.set_active(plan.reactivate, True)
    for slot_id, capacity in plan.update_capacity:
        uow.slots.set_capacity(slot_id, capacity)
    uow.slots.insert(facility_id, plan.create)
    conflicts = 0
    for reason, slot_ids in (
        ("schedule_changed", plan.orphan),
        ("over_capacity", plan.over_capacity),
    ):
        for appointment in uow.appointments.active_in_slots(slot_ids):
            uow.appointments.add_conflict(
                facility_id, appointment.id, appointment.slot_id or 0, reason, now
            )
            conflicts += 1
    return SlotSyncReport(
        created=len(plan.create),
        removed=len(plan.delete),
        deactivated=len(plan.orphan),
        reactivated=len(plan.reactivate),
        resized=len(plan.update_capacity),
        conflicts=conflicts,
    )


def generate_facility_slots(
    uow: UnitOfWork, *, facility_id: int, policy: BookingPolicy
) -> SlotSyncReport:
    with uow(write=True):
        report = sync_slots(uow, facility_id=facility_id, policy=policy)
        uow.commit()
    return report


# --- clinics -------------------------------------------------------------------------------


def list_clinics(uow: UnitOfWork, *, facility_id: int) -> list[Clinic]:
    with uow():
        return uow.catalog.list_clinics(facility_id)


def get_clinic(uow: UnitOfWork, *, facility_id: int, clinic_id: int) -> Clinic:
    with uow():
        return _clinic_or_404(uow, facility_id, clinic_id)


def _clinic_or_404(uow: UnitOfWork, facility_id: int, clinic_id: int) -> Clinic:
    clinic = uow.catalog.get_clinic(facility_id, clinic_id)
    if clinic is None:
        raise AntreanError("not_found", entity="Clinic")
    return clinic


def _validate_hours(hours: list[OpeningHours]) -> None:
    for window in hours:
        validate_time_range(window.opens, window.closes)


def create_clinic(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    code: str,
    name: str,
    queue_prefix: str,
    is_open: bool = True,
    hours: list[OpeningHours] | None = None,
) -> Clinic:
    actor.require(Role.ADMIN)
    _validate_hours(hours or [])
    clinic = Clinic(
        0, actor.facility_id, code.strip().upper(), name.strip(), queue_prefix.upper(), is_open
    )
    with uow(write=True):
        try:
            clinic.id = uow.catalog.add_clinic(clinic, uow.clock.now())
        except UniqueViolation:
            raise AntreanError("already_exists", entity="clinic", field="code") from None
        uow.catalog.replace_hours(actor.facility_id, clinic.id, hours or [])
        sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        created = _clinic_or_404(uow, actor.facility_id, clinic.id)
        uow.commit()
    return created


def update_clinic(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    clinic_id: int,
    changes: dict[str, Any],
    hours: list[OpeningHours] | None = None,
) -> Clinic:
    """Change a clinic's fields, its open/closed switch, or its opening hours (slots follow)."""
    actor.require(Role.ADMIN)
    _validate_hours(hours or [])
    with uow(write=True):
        _clinic_or_404(uow, actor.facility_id, clinic_id)
        if changes:
            try:
                uow.catalog.update_clinic(actor.facility_id, clinic_id, changes)
            except UniqueViolation:
                raise AntreanError("already_exists", entity="clinic", field="code") from None
        if hours is not None:
            uow.catalog.replace_hours(actor.facility_id, clinic_id, hours)
            sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        updated = _clinic_or_404(uow, actor.facility_id, clinic_id)
        uow.commit()
    return updated


# --- services and doctors ------------------------------------------------------------------


def list_services(uow: UnitOfWork, *, facility_id: int, clinic_id: int | None) -> list[ServiceRow]:
    with uow():
        return uow.catalog.list_services(facility_id, clinic_id)


def create_service(
    uow: UnitOfWork, *, actor: Actor, clinic_id: int, name: str, duration_minutes: int
) -> ServiceRow:
    actor.require(Role.ADMIN)
    with uow(write=True):
        _clinic_or_404(uow, actor.facility_id, clinic_id)
        row = ServiceRow(0, clinic_id, name.strip(), duration_minutes, True)
        service_id = uow.catalog.add_service(actor.facility_id, row)
        uow.commit()
    return replace(row, id=service_id)


def update_service(
    uow: UnitOfWork, *, actor: Actor, service_id: int, changes: dict[str, Any]
) -> ServiceRow:
    actor.require(Role.ADMIN)
    with uow(write=True):
        if uow.catalog.get_service(actor.facility_id, service_id) is None:
            raise AntreanError("not_found", entity="Service")
        if "clinic_id" in changes:
            _clinic_or_404(uow, actor.facility_id, changes["clinic_id"])
        uow.catalog.update_service(actor.facility_id, service_id, changes)
        row = uow.catalog.get_service(actor.facility_id, service_id)
        uow.commit()
    assert row is not None
    return row


def list_doctors(uow: UnitOfWork, *, facility_id: int) -> list[DoctorRow]:
    with uow():
        return uow.catalog.list_doctors(facility_id)


def get_doctor(uow: UnitOfWork, *, facility_id: int, doctor_id: int) -> DoctorRow:
    with uow():
        return _doctor_or_404(uow, facility_id, doctor_id)


def _doctor_or_404(uow: UnitOfWork, facility_id: int, doctor_id: int) -> DoctorRow:
    row = uow.catalog.get_doctor(facility_id, doctor_id)
    if row is None:
        raise AntreanError("not_found", entity="Doctor")
    return row


def create_doctor(uow: UnitOfWork, *, actor: Actor, name: str, specialty: str = "") -> DoctorRow:
    actor.require(Role.ADMIN)
    row = DoctorRow(0, name.strip(), specialty.strip(), True)
    with uow(write=True):
        doctor_id = uow.catalog.add_doctor(actor.facility_id, row)
        uow.commit()
    return replace(row, id=doctor_id)


def update_doctor(
    uow: UnitOfWork, *, actor: Actor, doctor_id: int, changes: dict[str, Any]
) -> DoctorRow:
    actor.require(Role.ADMIN)
    with uow(write=True):
        _doctor_or_404(uow, actor.facility_id, doctor_id)
        uow.catalog.update_doctor(actor.facility_id, doctor_id, changes)
        row = _doctor_or_404(uow, actor.facility_id, doctor_id)
        uow.commit()
    return row


# --- schedules and exceptions ----------------------------------------------------------------


def list_schedules(
    uow: UnitOfWork, *, facility_id: int, doctor_id: int | None, clinic_id: int | None
) -> list[Schedule]:
    with uow():
        return uow.schedules.all(facility_id, doctor_id=doctor_id, clinic_id=clinic_id)


def _check_schedule(uow: UnitOfWork, facility_id: int, schedule: Schedule) -> None:
    validate_time_range(schedule.start, schedule.end)
    _doctor_or_404(uow, facility_id, schedule.doctor_id)
    _clinic_or_404(uow, facility_id, schedule.clinic_id)
    clash = find_schedule_overlap(
        schedule, uow.schedules.all(facility_id, doctor_id=schedule.doctor_id)
    )
    if clash is not None:
        raise AntreanError("schedule_overlap", weekday=schedule.weekday)


def save_schedule(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, schedule: Schedule
) -> tuple[Schedule, SlotSyncReport]:
    """Create (id 0) or replace a weekly schedule, then bring the slots in step."""
    actor.require(Role.ADMIN)
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


def delete_schedule(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, schedule_id: int
) -> SlotSyncReport:
    actor.require(Role.ADMIN)
    with uow(write=True):
        if uow.schedules.get(actor.facility_id, schedule_id) is None:
            raise AntreanError("not_found", entity="Schedule")
        uow.schedules.delete(actor.facility_id, schedule_id)
        report = sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        uow.commit()
    return report


def list_exceptions(
    uow: UnitOfWork, *, facility_id: int, first_day: date, last_day: date
) -> list[ScheduleException]:
    if first_day > last_day:
        raise AntreanError("invalid_date_range")
    with uow():
        return uow.schedules.list_exceptions(facility_id, first_day, last_day)


def add_exception(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, exception: ScheduleException
) -> tuple[ScheduleException, SlotSyncReport]:
    """Record leave, a holiday or changed hours; affected bookings are reported, never dropped."""
    actor.require(Role.ADMIN)
    validate_exception(exception)
    with uow(write=True):
        if exception.doctor_id is not None:
            _doctor_or_404(uow, actor.facility_id, exception.doctor_id)
        if exception.clinic_id is not None:
            _clinic_or_404(uow, actor.facility_id, exception.clinic_id)
        exception = replace(exception, id=uow.schedules.add_exception(actor.facility_id, exception))
        report = sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        uow.commit()
    return exception, report


def delete_exception(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, exception_id: int
) -> SlotSyncReport:
    actor.require(Role.ADMIN)
    with uow(write=True):
        if uow.schedules.get_exception(actor.facility_id, exception_id) is None:
            raise AntreanError("not_found", entity="Schedule exception")
        uow.schedules.delete_exception(actor.facility_id, exception_id)
        report = sync_slots(uow, facility_id=actor.facility_id, policy=policy)
        uow.commit()
    return report


# --- slot search ---------------------------------------------------------------------------


def search_slots(
    uow: UnitOfWork,
    *,
    facility_id: int,
    policy: BookingPolicy,
    date_from: date,
    date_to: date,
    clinic_id: int | None = None,
    service_id: int | None = None,
    doctor_id: int | None = None,
    only_free: bool = True,
) -> list[FreeSlot]:
    """Bookable slots in a date range (at most 31 days), soonest first."""
    if date_from > date_to:
        raise AntreanError("invalid_date_range")
    if (date_to - date_from).days >= MAX_SEARCH_DAYS:
        raise AntreanError("date_range_too_long", max_days=MAX_SEARCH_DAYS)
    with uow():
        if service_id is not None:
            service = uow.catalog.get_service(facility_id, service_id)
            if service is None:
                raise AntreanError("not_found", entity="Service")
            if clinic_id is not None and clinic_id != service.clinic_id:
                raise AntreanError("service_not_in_clinic")
            clinic_id = service.clinic_id
        not_before = uow.clock.now()
        if only_free:
            not_before += timedelta(minutes=policy.cutoff_minutes)
        return uow.slots.search(
            facility_id,
            first_day=date_from,
            last_day=date_to,
            not_before=not_before,
            clinic_id=clinic_id,
            doctor_id=doctor_id,
            only_free=only_free,
        )


def list_conflicts(uow: UnitOfWork, *, actor: Actor) -> list[Any]:
    actor.require(Role.OPERATOR, Role.DOCTOR)
    with uow():
        return uow.appointments.open_conflicts(actor.facility_id)

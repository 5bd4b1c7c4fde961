"""Slots follow the schedules: the step every change of schedules, exceptions or opening hours
runs in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from antrean.domain.booking import BookingPolicy, appointment_event
from antrean.domain.events import EventKind
from antrean.domain.scheduling import (
    ScheduleException,
    SlotPlan,
    generate_slots,
    plan_slot_sync,
)
from antrean.services.notifications import announce
from antrean.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class SlotSyncReport:
    created: int = 0
    removed: int = 0
    deactivated: int = 0
    reactivated: int = 0
    resized: int = 0
    conflicts: int = 0


def plan_sync(
    uow: UnitOfWork,
    *,
    facility_id: int,
    policy: BookingPolicy,
    more_exceptions: tuple[ScheduleException, ...] = (),
) -> SlotPlan:
    """What bringing the slots in step would change, without changing anything; with
    `more_exceptions`, as if those were recorded too (to show their effect before saving)."""
    first_day = uow.clock.now().astimezone(policy.time_zone).date()
    last_day = policy.last_bookable_day(first_day)
    desired = generate_slots(
        schedules=uow.schedules.all(facility_id),
        exceptions=[
            *uow.schedules.list_exceptions(facility_id, first_day, last_day),
            *more_exceptions,
        ],
        opening_hours=uow.catalog.opening_hours(facility_id),
        first_day=first_day,
        last_day=last_day,
        tz=policy.time_zone,
    )
    return plan_slot_sync(desired, uow.slots.existing(facility_id, first_day, last_day))


def sync_slots(uow: UnitOfWork, *, facility_id: int, policy: BookingPolicy) -> SlotSyncReport:
    """Bring stored slots in step with schedules and exceptions over the booking horizon.

    Runs inside the caller's transaction. Bookings are never dropped: a booked slot that the
    schedules no longer want is deactivated and its appointments reported as conflicts.
    """
    plan = plan_sync(uow, facility_id=facility_id, policy=policy)
    uow.slots.delete(plan.delete)
    uow.slots.set_active(plan.orphan, False)
    uow.slots.set_active(plan.reactivate, True)
    for slot_id, capacity in plan.update_capacity:
        uow.slots.set_capacity(slot_id, capacity)
    uow.slots.insert(facility_id, plan.create)
    conflicts = _report_conflicts(uow, facility_id, "schedule_changed", plan.orphan)
    conflicts += _report_conflicts(uow, facility_id, "over_capacity", plan.over_capacity)
    return SlotSyncReport(
        created=len(plan.create),
        removed=len(plan.delete),
        deactivated=len(plan.orphan),
        reactivated=len(plan.reactivate),
        resized=len(plan.update_capacity),
        conflicts=conflicts,
    )


def _report_conflicts(uow: UnitOfWork, facility_id: int, reason: str, slot_ids: list[int]) -> int:
    """Record each active booking of these slots as a conflict for staff (and announce it the
    first time); how many bookings are concerned."""
    now = uow.clock.now()
    concerned = uow.appointments.active_in_slots(slot_ids)
    for appointment in concerned:
        slot_id = appointment.slot_id or 0
        if uow.appointments.add_conflict(facility_id, appointment.id, slot_id, reason, now):
            event = appointment_event(
                EventKind.SLOT_CONFLICT, appointment, at=now, actor_user_id=None, reason=reason
            )
            announce(uow, event)
    return len(concerned)

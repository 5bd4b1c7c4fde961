"""Use cases for appointments: book, cancel, reschedule, look up."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from antrean.domain.audit import AuditSubject
from antrean.domain.booking import (
    HOLDS_PER_PATIENT,
    HOLDS_PER_STAFF,
    Appointment,
    AppointmentStatus,
    BookingDraft,
    BookingPolicy,
    SlotHold,
    SlotView,
    appointment_event,
    booking_code,
    cancel_reason,
    changed_at,
    check_can_change,
    check_slot_bookable,
    moved_to,
    new_appointment,
    new_hold,
)
from antrean.domain.booking import idempotency_key as idempotency_key_text
from antrean.domain.common import Page, checked_page, random_code
from antrean.domain.errors import AntreanError
from antrean.domain.events import EventKind
from antrean.domain.fields import check_id, check_optional_id
from antrean.domain.identity import Actor, Role
from antrean.services.access import SIGNED_IN, allow
from antrean.services.notifications import announce
from antrean.services.ports import AppointmentFilter, UniqueViolation, UnitOfWork

MAX_PAGE_SIZE = 500


@allow(*SIGNED_IN)
def book_appointment(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    draft: BookingDraft,
    idempotency_key: str | None = None,
    hold_id: int | None = None,
) -> Appointment:
    """Take one place in a slot for a patient. The database decides who gets the last place.

    With an idempotency key, a retry of the same booking answers with the first one; the same
    key with another booking is `idempotency_key_reused`. With a hold of the caller's on the
    slot (`hold_slot`), the held place is the one booked."""
    draft = draft.validated()
    hold_id = check_optional_id(hold_id, "hold_id")
    key = idempotency_key_text(idempotency_key)
    request_hash = draft.fingerprint() if key is not None else ""
    try:
        return _book(uow, actor, policy, draft, key, request_hash, hold_id)
    except UniqueViolation:
        if key is None:
            raise
    # Another request with the same key committed first: answer as it was answered.
    with uow():
        replay = _replay(uow, actor, key, request_hash)
    if replay is None:
        raise AntreanError("idempotency_key_reused")
    return replay


def _replay(uow: UnitOfWork, actor: Actor, key: str, request_hash: str) -> Appointment | None:
    stored = uow.idempotency.get(actor.user_id, key)
    if stored is None:
        return None
    stored_hash, appointment_id = stored
    if stored_hash != request_hash or appointment_id is None:
        raise AntreanError("idempotency_key_reused")
    return uow.appointments.get(actor.facility_id, appointment_id)


def _book(
    uow: UnitOfWork,
    actor: Actor,
    policy: BookingPolicy,
    draft: BookingDraft,
    key: str | None,
    request_hash: str,
    hold_id: int | None = None,
) -> Appointment:
    patient_id = _patient_for(actor, draft.patient_id)
    slot_id, service_id = draft.slot_id, draft.service_id
    with uow(write=True):
        now = uow.clock.now()
        if key is not None:
            replay = _replay(uow, actor, key, request_hash)
            if replay is not None:
                return replay
            uow.idempotency.claim(actor.facility_id, actor.user_id, key, request_hash, now)
        held = hold_id is not None and _take_hold(uow, actor, hold_id, slot_id, now)
        slot, patient_known = uow.slots.view_with_patient(actor.facility_id, slot_id, patient_id)
        slot = _check_bookable(uow, actor, policy, slot, now, held=held)
        if not patient_known:
            raise AntreanError("not_found", entity="Patient")
        _check_service(uow, actor.facility_id, service_id, slot.clinic_id)
        appointment = new_appointment(slot, patient_id, service_id, draft.note, now)
        appointment.code, appointment.id = _insert_with_new_code(uow, appointment, actor.account_id)
        if key is not None:
            uow.idempotency.set_resource(actor.user_id, key, appointment.id)
        announce(
            uow,
            appointment_event(
                EventKind.APPOINTMENT_BOOKED, appointment, at=now, actor_user_id=actor.account_id
            ),
        )
        # Last, so the contended slot row stays locked only from here to the commit.
        _take_place(uow, actor, policy, slot, patient_id, now, held=held)
        uow.commit()
    return appointment


def _patient_for(actor: Actor, patient_id: int | None) -> int:
    if actor.is_staff:
        if patient_id is None:
            raise AntreanError("patient_required")
        return patient_id
    if actor.patient_id is None:
        raise AntreanError("forbidden")
    if patient_id is not None and patient_id != actor.patient_id:
        raise AntreanError("forbidden")
    return actor.patient_id


def _take_hold(uow: UnitOfWork, actor: Actor, hold_id: int, slot_id: int, now: datetime) -> bool:
    """The caller's unexpired hold on this slot passes its place to the booking; any other
    hold (someone else's, expired, booked already, of another slot) is `hold_not_found`."""
    hold = uow.holds.get(actor.facility_id, hold_id)
    if hold is None or hold.account_id != actor.account_id or hold.slot_id != slot_id:
        raise AntreanError("hold_not_found")
    if uow.holds.take(actor.facility_id, hold_id, now) is None:
        raise AntreanError("hold_not_found")
    return True


def _bookable_slot(
    uow: UnitOfWork, actor: Actor, policy: BookingPolicy, slot_id: int, now: datetime
) -> SlotView:
    return _check_bookable(uow, actor, policy, uow.slots.view(actor.facility_id, slot_id), now)


def _check_bookable(
    uow: UnitOfWork,
    actor: Actor,
    policy: BookingPolicy,
    slot: SlotView | None,
    now: datetime,
    *,
    held: bool = False,
) -> SlotView:
    """The slot, once every booking rule holds for it at `now`. A held place is the
    caller's own; a full slot first gives back the places of expired holds."""
    if slot is None:
        raise AntreanError("slot_not_found")
    if held:
        slot = replace(slot, booked=slot.booked - 1)
    elif slot.booked >= slot.capacity and uow.holds.release_expired(now, slot.id):
        slot = uow.slots.view(actor.facility_id, slot.id) or slot
    exceptions = (
        uow.schedules.list_exceptions(actor.facility_id, slot.day, slot.day)
        if slot.exceptions_that_day
        else []
    )
    check_slot_bookable(slot, now=now, policy=policy, exceptions=exceptions)
    return slot


def _check_service(
    uow: UnitOfWork, facility_id: int, service_id: int | None, clinic_id: int
) -> None:
    if service_id is None:
        return
    service = uow.catalog.get_service(facility_id, service_id)
    if service is None:
        raise AntreanError("not_found", entity="Service")
    if service.clinic_id != clinic_id or not service.active:
        raise AntreanError("service_not_in_clinic")


def _take_place(
    uow: UnitOfWork,
    actor: Actor,
    policy: BookingPolicy,
    slot: SlotView,
    patient_id: int,
    now: datetime,
    *,
    held: bool = False,
) -> None:
    """Both counters are conditional updates: concurrent requests queue on the rows. A held
    place is taken already."""
    if not uow.appointments.try_count_day(
        actor.facility_id, patient_id, slot.clinic_id, slot.day, policy.max_per_patient_clinic_day
    ):
        raise AntreanError("duplicate_appointment")
    if not held:
        _take_slot(uow, slot.id, now)


def _take_slot(uow: UnitOfWork, slot_id: int, now: datetime) -> None:
    """One place of the slot, or `slot_full`; places of expired holds count as free."""
    if uow.slots.try_take(slot_id):
        return
    if not (uow.holds.release_expired(now, slot_id) and uow.slots.try_take(slot_id)):
        raise AntreanError("slot_full")


def _insert_with_new_code(
    uow: UnitOfWork, appointment: Appointment, created_by: int | None
) -> tuple[str, int]:
    """Store the appointment under a fresh random booking code, drawing again on a clash."""
    while True:
        appointment.code = random_code(6)
        new_id = uow.appointments.add(appointment, created_by)
        if new_id is not None:
            return appointment.code, new_id


def check_unchanged(appointment: Appointment, expected: datetime | None) -> None:
    if expected is not None and appointment.updated_at != expected:
        raise AntreanError("appointment_changed")


def save_changed(uow: UnitOfWork, appointment: Appointment, before: Appointment) -> None:
    """Store a change made to `before`: refused when another change was stored meanwhile (two
    cancels at once must not both give the place back)."""
    if not uow.appointments.save(appointment, expected=before.updated_at):
        raise AntreanError("appointment_changed")


def appointment_subject(a: Appointment) -> AuditSubject:
    """An appointment, as the audit log names it."""
    return AuditSubject("appointment", str(a.id), a.patient_id)


def load_appointment(uow: UnitOfWork, actor: Actor, code: str) -> Appointment:
    """An appointment by its booking code, in the caller's transaction: staff see any, a patient
    only their own (another's answers as if it did not exist)."""
    appointment = uow.appointments.get_by_code(actor.facility_id, booking_code(code))
    if appointment is None:
        raise AntreanError("appointment_not_found")
    if not actor.is_staff and appointment.patient_id != actor.patient_id:
        # Do not reveal that someone else's code exists.
        raise AntreanError("appointment_not_found")
    uow.audit(appointment_subject(appointment))
    return appointment


@allow(*SIGNED_IN)
def get_appointment(uow: UnitOfWork, *, actor: Actor, code: str) -> Appointment:
    with uow():
        return load_appointment(uow, actor, code)


@allow(*SIGNED_IN)
def cancel_appointment(
    uow: UnitOfWork,
    *,
    actor: Actor,
    code: str,
    reason: str,
    expected: datetime | None = None,
) -> Appointment:
    """Cancel with a reason; the place goes back to the slot in the same transaction. With
    `expected` (the `updated_at` the caller saw), only if nobody changed it since."""
    reason = cancel_reason(reason)
    with uow(write=True):
        appointment = load_appointment(uow, actor, code)
        check_unchanged(appointment, expected)
        check_can_change(appointment)
        if appointment.slot_id is not None:
            uow.slots.release(appointment.slot_id)
        uow.appointments.uncount_day(appointment.patient_id, appointment.clinic_id, appointment.day)
        now = uow.clock.now()
        before, appointment = (
            appointment,
            replace(
                appointment,
                status=AppointmentStatus.CANCELLED,
                cancel_reason=reason,
                updated_at=changed_at(appointment, now),
            ),
        )
        save_changed(uow, appointment, before)
        uow.appointments.resolve_conflicts(appointment.id, now)
        announce(
            uow,
            appointment_event(
                EventKind.APPOINTMENT_CANCELLED,
                appointment,
                at=now,
                actor_user_id=actor.account_id,
                reason=reason,
            ),
        )
        uow.commit()
    return appointment


@allow(*SIGNED_IN)
def reschedule_appointment(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    code: str,
    new_slot_id: int,
    expected: datetime | None = None,
) -> Appointment:
    """Move to another slot of the same clinic in one transaction: both changes, or neither.
    With `expected`, only if nobody changed it since."""
    check_id(new_slot_id, "slot_id")
    with uow(write=True):
        now = uow.clock.now()
        appointment = load_appointment(uow, actor, code)
        check_unchanged(appointment, expected)
        check_can_change(appointment)
        if appointment.slot_id == new_slot_id:
            raise AntreanError("same_slot")
        slot = _bookable_slot(uow, actor, policy, new_slot_id, now)
        if slot.clinic_id != appointment.clinic_id:
            raise AntreanError("reschedule_other_clinic")
        if slot.day != appointment.day:
            _move_day_count(uow, policy, appointment, slot)
        _swap_places(uow, appointment.slot_id, slot.id, now)
        before, appointment = appointment, moved_to(appointment, slot, now)
        save_changed(uow, appointment, before)
        uow.appointments.resolve_conflicts(appointment.id, now)
        announce(
            uow,
            appointment_event(
                EventKind.APPOINTMENT_RESCHEDULED,
                appointment,
                at=now,
                actor_user_id=actor.account_id,
                from_slot_id=before.slot_id,
                from_start_at=before.start_at.isoformat(),
            ),
        )
        uow.commit()
    return appointment


def _move_day_count(
    uow: UnitOfWork, policy: BookingPolicy, appointment: Appointment, slot: SlotView
) -> None:
    """The patient's booking moves to another day: count it there, within the day limit."""
    uow.appointments.uncount_day(appointment.patient_id, appointment.clinic_id, appointment.day)
    if not uow.appointments.try_count_day(
        appointment.facility_id,
        appointment.patient_id,
        slot.clinic_id,
        slot.day,
        policy.max_per_patient_clinic_day,
    ):
        raise AntreanError("duplicate_appointment")


def _swap_places(uow: UnitOfWork, old_slot_id: int | None, new_slot_id: int, now: datetime) -> None:
    """Free the old place and take the new one, touching the two slot rows in id order.

    A fixed order means two reschedules crossing between the same two slots cannot deadlock;
    if the new slot is full the whole transaction, release included, is rolled back.
    """
    if old_slot_id is not None and old_slot_id < new_slot_id:
        uow.slots.release(old_slot_id)
    _take_slot(uow, new_slot_id, now)
    if old_slot_id is not None and old_slot_id > new_slot_id:
        uow.slots.release(old_slot_id)


@allow(*SIGNED_IN)
def list_my_appointments(
    uow: UnitOfWork, *, actor: Actor, page: Page, status: AppointmentStatus | None = None
) -> tuple[list[Appointment], int]:
    """A patient's own appointments, soonest first."""
    page = checked_page(page, MAX_PAGE_SIZE)
    if actor.patient_id is None:
        raise AntreanError("forbidden")
    with uow():
        return uow.appointments.find(
            actor.facility_id, AppointmentFilter(patient_id=actor.patient_id, status=status), page
        )


@allow(Role.OPERATOR, Role.DOCTOR)
def list_appointments(
    uow: UnitOfWork, *, actor: Actor, flt: AppointmentFilter, page: Page
) -> tuple[list[Appointment], int]:
    """Staff: appointments by dates, clinic, doctor, patient and status."""
    return _find_appointments(uow, actor, flt, page)


def _find_appointments(
    uow: UnitOfWork, actor: Actor, flt: AppointmentFilter, page: Page
) -> tuple[list[Appointment], int]:
    page = checked_page(page, MAX_PAGE_SIZE)
    for value, name in (
        (flt.clinic_id, "clinic_id"),
        (flt.doctor_id, "doctor_id"),
        (flt.patient_id, "patient_id"),
    ):
        check_optional_id(value, name)
    if flt.day_from and flt.day_to and flt.day_from > flt.day_to:
        raise AntreanError("invalid_date_range")
    with uow():
        found, total = uow.appointments.find(actor.facility_id, flt, page)
        uow.audit(*(appointment_subject(a) for a in found))
    return found, total


@allow(*SIGNED_IN)
def get_appointment_by_id(uow: UnitOfWork, *, actor: Actor, appointment_id: int) -> Appointment:
    """An appointment by its id: staff see any, a patient only their own (another's answers
    as if it did not exist). The read is in the audit log."""
    check_id(appointment_id, "appointment_id")
    with uow():
        appointment = uow.appointments.get(actor.facility_id, appointment_id)
        if appointment is None or (
            not actor.is_staff and appointment.patient_id != actor.patient_id
        ):
            raise AntreanError("appointment_not_found")
        uow.audit(appointment_subject(appointment))
        return appointment


@allow(*SIGNED_IN)
def search_appointments(
    uow: UnitOfWork, *, actor: Actor, flt: AppointmentFilter, page: Page
) -> tuple[list[Appointment], int]:
    """Appointments by dates, clinic, doctor, patient and status, soonest first: staff see
    anyone's, a patient their own (a search for another patient finds nothing)."""
    if not actor.is_staff:
        if actor.patient_id is None:
            raise AntreanError("forbidden")
        if flt.patient_id not in (None, actor.patient_id):
            return [], 0
        flt = replace(flt, patient_id=actor.patient_id)
    return _find_appointments(uow, actor, flt, page)


@allow(*SIGNED_IN)
def hold_slot(
    uow: UnitOfWork, *, actor: Actor, policy: BookingPolicy, slot_id: int
) -> tuple[SlotHold, SlotView]:
    """Keep a place in a bookable slot for the caller for `HOLD_MINUTES` (FHIR `$hold`): it is
    taken as a booking takes it, so nobody else gets it, until the caller books it
    (`book_appointment` with the hold) or the hold expires. An account holds a few at most."""
    slot_id = check_id(slot_id, "slot_id")
    account_id = actor.account_id
    if account_id is None or (not actor.is_staff and actor.patient_id is None):
        raise AntreanError("forbidden")
    limit = HOLDS_PER_STAFF if actor.is_staff else HOLDS_PER_PATIENT
    with uow(write=True):
        now = uow.clock.now()
        if uow.holds.count_active(actor.facility_id, account_id, now) >= limit:
            raise AntreanError("too_many_holds", limit=limit)
        slot = _bookable_slot(uow, actor, policy, slot_id, now)
        _take_slot(uow, slot.id, now)
        hold = new_hold(slot, account_id, now)
        hold = replace(hold, id=uow.holds.add(hold))
        uow.commit()
    return hold, slot


@allow()
def release_expired_holds(uow: UnitOfWork, *, actor: Actor) -> int:
    """The hold job: give back the places of every expired hold; how many."""
    with uow(write=True):
        released = uow.holds.release_expired(uow.clock.now())
        uow.commit()
    return released


@allow(*SIGNED_IN)
def held_slot_id(uow: UnitOfWork, *, actor: Actor, hold_id: int) -> int:
    """The slot of one of the caller's unexpired holds (to book it), or `hold_not_found`."""
    hold_id = check_id(hold_id, "hold_id")
    with uow():
        hold = uow.holds.get(actor.facility_id, hold_id)
        if hold is None or hold.account_id != actor.account_id:
            raise AntreanError("hold_not_found")
        if hold.expires_at <= uow.clock.now():
            raise AntreanError("hold_not_found")
        return hold.slot_id

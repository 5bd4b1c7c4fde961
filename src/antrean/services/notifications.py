"""Use cases for messages to patients: queuing them with the change that causes them, the
reminder job, and what staff do with messages (the log, sending again, editing the texts).

Delivery itself (claiming, rendering, calling a channel) is `services.delivery`; answering
patients who write back is `services.conversations`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from antrean.domain.common import Page, checked_page, local_to_utc
from antrean.domain.errors import AntreanError
from antrean.domain.events import DomainEvent
from antrean.domain.identity import Actor, Role
from antrean.domain.notifications import (
    DEFAULT_TEXTS,
    LANGUAGES,
    Medium,
    Message,
    MessageFilter,
    MessageKind,
    MessageState,
    MessageText,
    OutboxDraft,
    QuietHours,
    drafts_for_event,
)
from antrean.domain.queue import Ticket
from antrean.services.access import allow
from antrean.services.ports import UnitOfWork

MAX_LOG_PAGE = 200


def announce(uow: UnitOfWork, event: DomainEvent) -> DomainEvent:
    """Publish a change and queue, in the same transaction, the messages it causes: if the
    change rolls back, so do they; if it commits, they will be sent."""
    return uow.publish(event, drafts_for_event(event))


@dataclass(frozen=True, slots=True)
class TurnNear:
    """When a waiting patient hears "your turn is near": this many people ahead or fewer, or
    called within this many minutes by the estimate (whichever comes first). 0 turns it off."""

    places: int = 3
    minutes: int = 15


def queue_turn_near(
    uow: UnitOfWork,
    facility_id: int,
    waiting_in_order: list[Ticket],
    minutes_per_place: float | None,
    rule: TurnNear,
    now: datetime,
) -> None:
    """After a call: a "turn near" message for each waiting ticket that has come close enough
    (at most one per ticket, whatever happens after)."""
    for ahead, ticket in enumerate(waiting_in_order):
        near_by_places = ahead < rule.places
        near_by_minutes = (
            rule.minutes > 0
            and minutes_per_place is not None
            and ahead * minutes_per_place <= rule.minutes
        )
        if not (near_by_places or near_by_minutes):
            break
        uow.outbox.add(
            OutboxDraft(
                kind=MessageKind.TURN_NEAR,
                facility_id=facility_id,
                due_at=now,
                patient_id=ticket.patient_id,
                ticket_id=ticket.id,
                data={"ahead": ahead},
                dedupe_key=f"turn_near:{ticket.id}",
            ),
            now,
        )


@dataclass(frozen=True, slots=True)
class ReminderRule:
    """Reminders go out the day before the booking from `hour` local time, and never in quiet
    hours. A booking made after that hour (its confirmation has just gone) gets none."""

    hour: int = 17
    quiet: QuietHours | None = None
    every: timedelta = timedelta(minutes=5)  # how often the job looks


@allow()
def run_reminders(uow: UnitOfWork, *, actor: Actor, tz: object, rule: ReminderRule) -> int:
    """The reminder job: queue a reminder for each of tomorrow's bookings that needs one, once
    the reminder hour has come. Runs often; a booking is reminded once. How many it queued."""
    facility_id = actor.facility_id
    with uow(write=True):
        now = uow.clock.now()
        if not uow.jobs.take(f"reminders:{facility_id}", now, now + rule.every):
            return 0
        local = now.astimezone(tz)  # type: ignore[arg-type]
        send_from = local_to_utc(local.date(), time(rule.hour), tz)  # type: ignore[arg-type]
        if send_from is None or now < send_from:
            uow.commit()
            return 0
        due = rule.quiet.next_allowed(now, tz) if rule.quiet else now
        added = uow.outbox.add_reminders(
            facility_id,
            day=local.date() + timedelta(days=1),
            booked_before=send_from,
            due_at=due,
            now=now,
        )
        uow.commit()
    return added


# --- Staff --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageLog:
    messages: list[Message]
    total: int
    page: Page
    counts: dict[MessageState, int]


@allow(Role.OPERATOR)
def message_log(uow: UnitOfWork, *, actor: Actor, flt: MessageFilter, page: Page) -> MessageLog:
    """Messages newest first, with filters, and how many are in each state."""
    page = checked_page(page, MAX_LOG_PAGE)
    search = (flt.search or "").strip()[:100] or None
    flt = replace(flt, search=search)
    with uow():
        found, total = uow.outbox.find(actor.facility_id, flt, page)
        return MessageLog(found, total, page, uow.outbox.counts(actor.facility_id))


@allow(Role.OPERATOR)
def get_message(uow: UnitOfWork, *, actor: Actor, message_id: int) -> Message:
    with uow():
        found = uow.outbox.get(actor.facility_id, message_id)
    if found is None:
        raise AntreanError("message_not_found")
    return found


@allow(Role.OPERATOR)
def send_again(uow: UnitOfWork, *, actor: Actor, message_id: int) -> Message:
    """Put a failed or skipped message back in the queue, with fresh tries."""
    with uow(write=True):
        now = uow.clock.now()
        if uow.outbox.get(actor.facility_id, message_id) is None:
            raise AntreanError("message_not_found")
        if not uow.outbox.send_again(actor.facility_id, message_id, now):
            raise AntreanError("message_not_resendable")
        found = uow.outbox.get(actor.facility_id, message_id)
        uow.commit()
    assert found is not None
    return found


def texts_of(uow: UnitOfWork, facility_id: int) -> dict[tuple[MessageKind, str], MessageText]:
    """Every message text in use: the clinic's where it edited one, the built-in one else."""
    texts = dict(DEFAULT_TEXTS)
    texts.update(uow.message_texts.edited(facility_id))
    return texts


@allow(Role.OPERATOR)
def message_texts(uow: UnitOfWork, *, actor: Actor) -> list[MessageText]:
    with uow():
        texts = texts_of(uow, actor.facility_id)
    return [texts[(kind, lang)] for kind in MessageKind for lang in LANGUAGES]


def _kind(kind: str | MessageKind) -> MessageKind:
    try:
        return MessageKind(kind)
    except ValueError:
        raise AntreanError("not_found", entity="Message text") from None


@allow()
def save_message_text(
    uow: UnitOfWork,
    *,
    actor: Actor,
    kind: str | MessageKind,
    lang: str,
    subject: str,
    body: str,
    whatsapp_template: str | None = None,
) -> MessageText:
    """Admin: change a message's text in one language (checked: only known placeholders)."""
    with uow(write=True):
        text = MessageText(
            _kind(kind), lang, subject, body, whatsapp_template, uow.clock.now()
        ).validated()
        uow.message_texts.save(actor.facility_id, text, actor.account_id)
        uow.commit()
    return text


@allow()
def reset_message_text(
    uow: UnitOfWork, *, actor: Actor, kind: str | MessageKind, lang: str
) -> MessageText:
    """Admin: back to the built-in text."""
    found = _kind(kind)
    if lang not in LANGUAGES:
        raise AntreanError("invalid_language", field="lang")
    with uow(write=True):
        uow.message_texts.reset(actor.facility_id, found, lang)
        uow.commit()
    return DEFAULT_TEXTS[(found, lang)]


# --- Patients ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactChoices:
    phone: str | None
    email: str | None
    language: str | None
    opted_out: frozenset[Medium]


@allow(Role.PATIENT)
def my_contact_choices(uow: UnitOfWork, *, actor: Actor) -> ContactChoices:
    with uow():
        return _choices(uow, actor)


def _choices(uow: UnitOfWork, actor: Actor) -> ContactChoices:
    if actor.patient_id is None:
        raise AntreanError("forbidden")
    patient = uow.patients.get(actor.facility_id, actor.patient_id)
    if patient is None:
        raise AntreanError("not_found", entity="Patient")
    out: set[Medium] = set()
    for address in (patient.phone, patient.email):
        if address:
            out |= uow.contacts.opted_out(actor.facility_id, address)
    return ContactChoices(patient.phone, patient.email, patient.language, frozenset(out))


@allow(Role.PATIENT)
def set_my_opt_out(
    uow: UnitOfWork, *, actor: Actor, medium: Medium | str, out: bool
) -> ContactChoices:
    """A patient turns messages on one medium off (or on again)."""
    try:
        chosen = Medium(medium)
    except ValueError:
        raise AntreanError("field_invalid", field="medium") from None
    with uow(write=True):
        choices = _choices(uow, actor)
        address = choices.email if chosen is Medium.EMAIL else choices.phone
        if address:
            uow.contacts.set_opt_out(actor.facility_id, chosen, address, out, uow.clock.now())
        choices = _choices(uow, actor)
        uow.commit()
    return choices

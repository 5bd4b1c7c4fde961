"""Delivering the outbox: what `antrean worker` (and the worker inside `antrean serve`) runs.

One round: claim a batch of due messages (a lease, see `persistence.outbox_store`), read what
each needs in one transaction (the patient, the booking or ticket, the texts), send them side
by side through the channels, and store every outcome in one transaction.

A message goes to the first medium in the clinic's order (WhatsApp, SMS, e-mail by default)
that has a channel set up, an address on the patient's record and no opt-out. A provider that
refuses it for good (not a WhatsApp number) passes it to the next medium at once; a provider
that fails for now (down, slow, rate-limited) has it tried again later with exponential backoff
and jitter, up to a number of tries, then it is `failed` and staff see it. A channel that keeps
failing is left alone for a while (a circuit breaker): its messages wait without using up their
tries, and the other channels' messages go on meanwhile.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from antrean.domain.booking import Appointment, AppointmentStatus
from antrean.domain.catalog import Facility
from antrean.domain.notifications import (
    Attachment,
    Button,
    Command,
    Medium,
    Message,
    MessageKind,
    MessageState,
    MessageText,
    Outcome,
    OutgoingMessage,
    QuietHours,
    Receipt,
    RetryPolicy,
    SendFailure,
    TemplateCall,
    button_id,
)
from antrean.domain.patients import Patient
from antrean.domain.queue import QueuePolicy, TicketState
from antrean.services.booking_views import AppointmentDetails, details_of
from antrean.services.notifications import texts_of
from antrean.services.ports import UnitOfWork, UnitOfWorkFactory
from antrean.services.queue import status_now

SERVICE_WINDOW = timedelta(hours=24)


class Channel(Protocol):
    """A way to hand a message to a provider (`integrations`)."""

    transport: str
    medium: Medium

    def send(self, message: OutgoingMessage) -> Receipt: ...


class MessageFormats(Protocol):
    """Dates and times as a patient reads them, in their language."""

    def day(self, value: date, lang: str) -> str: ...
    def clock(self, value: datetime, lang: str) -> str:
        """A local time of day."""
        ...


class CalendarFiles(Protocol):
    def for_booking(self, details: AppointmentDetails, lang: str) -> Attachment: ...


class MobileNumbers(Protocol):
    def is_mobile(self, e164: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class DeliveryRules:
    public_url: str
    time_zone: ZoneInfo
    order: tuple[Medium, ...] = (Medium.WHATSAPP, Medium.SMS, Medium.EMAIL)
    order_by_kind: Mapping[MessageKind, tuple[Medium, ...]] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(seconds=90)
    batch: int = 50
    quiet: QuietHours | None = None
    default_lang: str = "id"
    queue: QueuePolicy = field(default_factory=QueuePolicy)
    # The circuit breaker: this many failures in a row leave a channel alone for a while,
    # doubling up to `breaker_max` while it keeps failing.
    breaker_failures: int = 5
    breaker_pause: timedelta = timedelta(seconds=15)
    breaker_max: timedelta = timedelta(minutes=2)


class Breaker:
    """Per channel: failures in a row, and until when the channel is left alone."""

    def __init__(self, failures: int, pause: timedelta, longest: timedelta) -> None:
        self._lock = threading.Lock()
        self._failures = failures
        self._pause = pause
        self._longest = longest
        self._in_a_row: dict[str, int] = {}
        self._open_until: dict[str, datetime] = {}
        self._trips: dict[str, int] = {}

    def open_until(self, transport: str, now: datetime) -> datetime | None:
        with self._lock:
            until = self._open_until.get(transport)
            return until if until is not None and until > now else None

    def succeeded(self, transport: str) -> None:
        with self._lock:
            self._in_a_row.pop(transport, None)
            self._trips.pop(transport, None)
            self._open_until.pop(transport, None)

    def failed(self, transport: str, now: datetime) -> None:
        with self._lock:
            count = self._in_a_row.get(transport, 0) + 1
            self._in_a_row[transport] = count
            if count >= self._failures:
                trips = self._trips.get(transport, 0)
                self._trips[transport] = trips + 1
                pause = min(self._pause * 2**trips, self._longest)
                self._open_until[transport] = now + pause
                self._in_a_row[transport] = 0


@dataclass(frozen=True, slots=True)
class _Plan:
    """A claimed message ready to go: the rendered message for each medium to try, in order."""

    message: Message
    tries: tuple[tuple[Channel, OutgoingMessage], ...]


class Deliverer:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        channels: Sequence[Channel],
        rules: DeliveryRules,
        formats: MessageFormats,
        calendar: CalendarFiles | None = None,
        phones: MobileNumbers | None = None,
        *,
        threads: int = 16,
        rng: random.Random | None = None,
    ) -> None:
        self._uows = uow_factory
        self._clock = uow_factory().clock  # every unit of work shares the one clock
        self.channels = {c.medium: c for c in channels}
        self.rules = rules
        self._formats = formats
        self._calendar = calendar
        self._phones = phones
        self._rng = rng or random.Random()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="antrean-send")
        self.breaker = Breaker(rules.breaker_failures, rules.breaker_pause, rules.breaker_max)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run_once(self) -> int:
        """One round; how many messages it handled (0: nothing was due)."""
        uow = self._uows()
        with uow():
            if not uow.outbox.has_due(uow.clock.now()):
                return 0
        with uow(write=True):
            now = uow.clock.now()
            claimed = uow.outbox.claim(now, now + self.rules.lease, self.rules.batch)
            uow.commit()
        if not claimed:
            return 0
        with uow():
            batch = _Round(uow, claimed)
            prepared = [self._prepare(batch, m, now) for m in claimed]
        outcomes = list(
            self._pool.map(lambda p: p if isinstance(p, Outcome) else self._deliver(p), prepared)
        )
        with uow(write=True):
            uow.outbox.finish(outcomes, uow.clock.now())
            uow.commit()
        return len(claimed)

    # --- preparing ---------------------------------------------------------------------------

    def _prepare(self, batch: _Round, m: Message, now: datetime) -> _Plan | Outcome:
        try:
            return self._plan(batch, m, now)
        except Exception as exc:  # a record gone or damaged: the message cannot be written
            return self._give_up(m, f"cannot_prepare: {type(exc).__name__}: {exc}")

    def _plan(self, batch: _Round, m: Message, now: datetime) -> _Plan | Outcome:
        if m.expires_at is not None and now > m.expires_at:
            return self._skip(m, "expired")
        if self.rules.quiet is not None and not m.kind.is_urgent:
            allowed = self.rules.quiet.next_allowed(now, self.rules.time_zone)
            if allowed > now:  # quiet hours: wait for the morning, no try used
                return Outcome(m.id, _claim(m), MessageState.PENDING, m.tries, allowed)
        facility = batch.facility(m.facility_id)
        if facility is None:
            return self._give_up(m, "unknown_facility")
        patient = batch.patients.get(m.patient_id) if m.patient_id else None
        lang = self._language(batch, m, patient)
        facts = _Facts(self, batch, m, facility, patient, lang, now)
        stale = facts.collect()
        if stale is not None:
            return self._skip(m, stale)
        text = batch.texts(m.facility_id)[(m.kind, lang)]
        routes, reason = self._routes(batch, m, patient)
        if not routes:
            # Where it would have gone, for the log: the patient's number, else e-mail.
            address = m.address or (patient.phone or patient.email if patient else None)
            return self._skip(m, reason, address)
        tries = []
        for medium, address in routes:
            channel = self.channels[medium]
            window = False
            if medium is Medium.WHATSAPP:
                talk = batch.talks.get(address)
                window = talk is not None and now - talk[0] < SERVICE_WINDOW
            tries.append((channel, self._render(m, text, facts, channel, address, lang, window)))
        return _Plan(m, tuple(tries))

    def _language(self, batch: _Round, m: Message, patient: Patient | None) -> str:
        if m.lang:
            return m.lang
        if patient is not None and patient.language:
            return patient.language
        if patient is not None and patient.phone:
            talk = batch.talks.get(patient.phone)
            if talk is not None and talk[1]:
                return talk[1]
        return self.rules.default_lang

    def _routes(
        self, batch: _Round, m: Message, patient: Patient | None
    ) -> tuple[list[tuple[Medium, str]], str]:
        """Where to try, in order, and why nowhere when the list is empty."""
        if m.medium is not None and m.address is not None:  # a reply: where the patient wrote
            if m.medium in self.channels:
                return [(m.medium, m.address)], ""
            return [], "no_channel"
        if patient is None:
            return [], "no_patient"
        routes: list[tuple[Medium, str]] = []
        reason = "no_channel"
        for medium in self.rules.order_by_kind.get(m.kind, self.rules.order):
            if medium not in self.channels:
                continue
            address = patient.email if medium is Medium.EMAIL else patient.phone
            if not address:
                reason = "no_address" if reason == "no_channel" else reason
                continue
            if medium is not Medium.EMAIL and self._phones and not self._phones.is_mobile(address):
                reason = "not_mobile"
                continue
            if medium in batch.opted_out.get(address, ()):
                reason = "opted_out"
                continue
            routes.append((medium, address))
        return routes, reason

    def _render(
        self,
        m: Message,
        text: MessageText,
        facts: _Facts,
        channel: Channel,
        address: str,
        lang: str,
        window: bool,
    ) -> OutgoingMessage:
        subject, body = text.render(facts.values)
        buttons = facts.buttons()
        if buttons and channel.transport != "whatsapp_cloud":
            hint = facts.reply_hint()
            body = f"{body}\n{hint}" if hint else body
            buttons = ()
        template = None
        if text.whatsapp_template:
            template = TemplateCall(
                text.whatsapp_template,
                lang,
                text.template_parameters(facts.values),
                tuple(b.id for b in facts.buttons()),
            )
        attachments: tuple[Attachment, ...] = ()
        if (
            channel.medium is Medium.EMAIL
            and self._calendar is not None
            and facts.details is not None
            and m.kind in (MessageKind.BOOKING_CONFIRMED, MessageKind.BOOKING_RESCHEDULED)
        ):
            attachments = (self._calendar.for_booking(facts.details, lang),)
        return OutgoingMessage(
            id=m.id,
            medium=channel.medium,
            to=address,
            lang=lang,
            subject=subject,
            text=body,
            buttons=buttons,
            template=template,
            attachments=attachments,
            in_service_window=window,
        )

    # --- sending -----------------------------------------------------------------------------

    def _deliver(self, plan: _Plan) -> Outcome:
        m = plan.message
        errors: list[str] = []
        for channel, outgoing in plan.tries:
            now = self._now()
            paused = self.breaker.open_until(channel.transport, now)
            if paused is not None:
                # Left alone for now: the message waits, its tries untouched.
                return Outcome(
                    m.id,
                    _claim(m),
                    MessageState.PENDING,
                    m.tries,
                    paused,
                    medium=channel.medium,
                    transport=channel.transport,
                    address=outgoing.to,
                    lang=outgoing.lang,
                    last_error=f"{channel.transport}: paused after repeated failures",
                )
            try:
                receipt = channel.send(outgoing)
            except SendFailure as failure:
                if failure.permanent:
                    errors.append(f"{channel.transport}: {failure}")
                    continue  # the next medium, at once
                self.breaker.failed(channel.transport, now)
                return self._retry(m, channel, outgoing, f"{channel.transport}: {failure}", failure)
            except Exception as exc:  # a channel's own fault: treated as "failed for now"
                self.breaker.failed(channel.transport, now)
                return self._retry(
                    m, channel, outgoing, f"{channel.transport}: {type(exc).__name__}: {exc}", None
                )
            self.breaker.succeeded(channel.transport)
            return Outcome(
                m.id,
                _claim(m),
                MessageState.SENT,
                m.tries + 1,
                m.due_at,
                medium=channel.medium,
                transport=channel.transport,
                address=outgoing.to,
                lang=outgoing.lang,
                provider_id=receipt.provider_id,
                sent_at=self._now(),
                last_error="; ".join(errors) or None,
            )
        # Refused for good on every medium: the last one tried is recorded, with every reason.
        channel, outgoing = plan.tries[-1]
        return Outcome(
            m.id,
            _claim(m),
            MessageState.FAILED,
            m.tries + 1,
            m.due_at,
            medium=channel.medium,
            transport=channel.transport,
            address=outgoing.to,
            lang=outgoing.lang,
            last_error="; ".join(errors),
        )

    def _retry(
        self,
        m: Message,
        channel: Channel,
        outgoing: OutgoingMessage,
        error: str,
        failure: SendFailure | None,
    ) -> Outcome:
        tries = m.tries + 1
        state, due = MessageState.FAILED, m.due_at
        if not self.rules.retry.gives_up(tries):
            wait = self.rules.retry.delay(tries, self._rng)
            if failure is not None and failure.retry_after is not None:
                wait = max(wait, failure.retry_after)
            state, due = MessageState.PENDING, self._now() + timedelta(seconds=wait)
        return Outcome(
            m.id,
            _claim(m),
            state,
            tries,
            due,
            medium=channel.medium,
            transport=channel.transport,
            address=outgoing.to,
            lang=outgoing.lang,
            last_error=error,
        )

    def _skip(self, m: Message, reason: str, address: str | None = None) -> Outcome:
        return Outcome(
            m.id,
            _claim(m),
            MessageState.SKIPPED,
            m.tries,
            m.due_at,
            address=address,
            last_error=reason,
        )

    def _give_up(self, m: Message, reason: str) -> Outcome:
        return Outcome(
            m.id, _claim(m), MessageState.FAILED, m.tries + 1, m.due_at, last_error=reason
        )

    def _now(self) -> datetime:
        return self._clock.now()


def _claim(m: Message) -> datetime:
    assert m.claimed_until is not None, "a claimed message"
    return m.claimed_until


class _Round:
    """What a batch of messages needs, read in a few queries: the patients, bookings and
    conversations of all of them at once, and the facility, texts and names once each."""

    def __init__(self, uow: UnitOfWork, claimed: list[Message]) -> None:
        self.uow = uow
        self.patients: dict[int, Patient] = {}
        self.appointments: dict[int, Appointment] = {}
        self.talks: dict[str, tuple[datetime, str | None]] = {}
        self.opted_out: dict[str, set[Medium]] = {}
        for facility_id in sorted({m.facility_id for m in claimed}):
            mine = [m for m in claimed if m.facility_id == facility_id]
            patients = uow.patients.get_many(
                facility_id, [m.patient_id for m in mine if m.patient_id]
            )
            self.patients.update(patients)
            self.appointments.update(
                uow.appointments.get_many(
                    facility_id, [m.appointment_id for m in mine if m.appointment_id]
                )
            )
            addresses = sorted(
                {a for p in patients.values() for a in (p.phone, p.email) if a}
                | {m.address for m in mine if m.address}
            )
            self.talks.update(uow.contacts.conversations(facility_id, addresses))
            self.opted_out.update(uow.contacts.opted_out_many(facility_id, addresses))
        self._facilities: dict[int, Facility | None] = {}
        self._texts: dict[int, dict[tuple[MessageKind, str], MessageText]] = {}
        self._details: dict[tuple[int, int, int, int | None], AppointmentDetails] = {}

    def facility(self, facility_id: int) -> Facility | None:
        if facility_id not in self._facilities:
            self._facilities[facility_id] = self.uow.facilities.get(facility_id)
        return self._facilities[facility_id]

    def texts(self, facility_id: int) -> dict[tuple[MessageKind, str], MessageText]:
        if facility_id not in self._texts:
            self._texts[facility_id] = texts_of(self.uow, facility_id)
        return self._texts[facility_id]

    def details(self, facility: Facility, appointment: Appointment) -> AppointmentDetails:
        """The booking with its clinic, doctor and service names (each read once a round)."""
        a = appointment
        key = (a.facility_id, a.clinic_id, a.doctor_id, a.service_id)
        if key not in self._details:
            self._details[key] = details_of(self.uow, facility, appointment)
        return replace(self._details[key], appointment=appointment)


class _Facts:
    """The facts a message's text is filled with, read from the current records."""

    def __init__(
        self,
        deliverer: Deliverer,
        batch: _Round,
        m: Message,
        facility: Facility,
        patient: Patient | None,
        lang: str,
        now: datetime,
    ) -> None:
        self._d = deliverer
        self._batch = batch
        self._uow = batch.uow
        self.m = m
        self.facility = facility
        self.patient = patient
        self.lang = lang
        self.now = now
        self.details: AppointmentDetails | None = None
        self.code = ""
        url = deliverer.rules.public_url.rstrip("/")
        self.url = url
        self.values: dict[str, str] = {
            "facility": facility.name,
            "address": facility.address,
            "patient": patient.name if patient else "",
            "book_link": f"{url}/book",
        }

    def collect(self) -> str | None:
        """Fill the facts; a reason when the message is no longer true (nothing is sent)."""
        m = self.m
        if m.kind is MessageKind.REPLY:
            self.values["text"] = str(m.data.get("text") or "")
            return None
        if m.ticket_id is not None and m.kind in _TICKET_KINDS:
            return self._ticket()
        if m.appointment_id is not None:
            return self._appointment()
        return self._ticket()

    def _appointment(self) -> str | None:
        m = self.m
        assert m.appointment_id is not None
        appointment = self._batch.appointments.get(m.appointment_id)
        if appointment is None:
            return "booking_gone"
        booked = appointment.status is AppointmentStatus.BOOKED
        if m.kind in (MessageKind.REMINDER, MessageKind.BOOKING_AFFECTED) and not booked:
            return "no_longer_booked"
        details = self.details = self._batch.details(self.facility, appointment)
        fmt, tz = self._d._formats, self._d.rules.time_zone
        self.code = appointment.code
        self.values.update(
            code=appointment.code,
            date=fmt.day(appointment.day, self.lang),
            time=fmt.clock(appointment.start_at.astimezone(tz), self.lang),
            clinic=details.clinic_name,
            service=details.service_name or "-",
            doctor=details.doctor_name,
            reason=str(m.data.get("reason") or ""),
            link=f"{self.url}/appointments/{appointment.code}",
        )
        old = m.data.get("from_start_at")
        if old:
            before = datetime.fromisoformat(str(old)).astimezone(tz)
            self.values.update(
                old_date=fmt.day(before.date(), self.lang), old_time=fmt.clock(before, self.lang)
            )
        return None

    def _ticket(self) -> str | None:
        m = self.m
        if m.ticket_id is None:
            return "no_ticket"
        ticket = self._uow.tickets.get(m.facility_id, m.ticket_id)
        if ticket is None:
            return "ticket_gone"
        if m.kind is MessageKind.TURN_NEAR and ticket.state is not TicketState.WAITING:
            return "no_longer_waiting"
        if m.kind is MessageKind.TICKET_CALLED and ticket.state is not TicketState.CALLED:
            return "no_longer_called"
        found = self._uow.tickets.with_clinic_facts(ticket.status_code)
        if found is None:
            return "ticket_gone"
        status = status_now(self._uow, found[0], found[1], self.now, self._d.rules.queue)
        fmt, tz = self._d._formats, self._d.rules.time_zone
        self.values.update(
            ticket=ticket.label,
            clinic=status.clinic_name,
            ahead=str(status.people_ahead),
            eta=fmt.clock(status.estimated_call_at.astimezone(tz), self.lang),
            link=f"{self.url}/t/{ticket.status_code}",
            room=ticket.counter or str(m.data.get("counter") or ""),
            date=fmt.day(ticket.day, self.lang),
            code=self.code,
        )
        return None

    def buttons(self) -> tuple[Button, ...]:
        """A reminder's reply buttons (I will come, cancel, change the time), or an answer's."""
        if self.m.kind is MessageKind.REPLY:
            found = []
            for line in str(self.m.data.get("buttons") or "").splitlines():
                ident, _, title = line.partition("\t")
                if ident and title:
                    found.append(Button(ident, title))
            return tuple(found[:3])
        if self.m.kind is not MessageKind.REMINDER or not self.code:
            return ()
        titles = _BUTTONS[self.lang]
        return (
            Button(button_id(Command.CONFIRM, self.code), titles[0]),
            Button(button_id(Command.CANCEL, self.code), titles[1]),
            Button(button_id(Command.RESCHEDULE, self.code), titles[2]),
        )

    def reply_hint(self) -> str:
        """The same choices for a channel without buttons: words to reply with (an answer
        already says them in its text)."""
        if self.m.kind is MessageKind.REPLY:
            return ""
        if self.lang == "en":
            return (
                f"Reply HADIR {self.code} to confirm, CANCEL {self.code} to cancel, "
                f"or change the time: {self.values.get('link', '')}"
            )
        return (
            f"Balas HADIR {self.code} untuk konfirmasi, BATAL {self.code} untuk membatalkan, "
            f"atau ubah jadwal: {self.values.get('link', '')}"
        )


_TICKET_KINDS = frozenset(
    {
        MessageKind.TICKET_ISSUED,
        MessageKind.TURN_NEAR,
        MessageKind.TICKET_CALLED,
        MessageKind.NO_SHOW,
    }
)
_BUTTONS = {"id": ("Hadir", "Batal", "Ubah jadwal"), "en": ("I will come", "Cancel", "Reschedule")}

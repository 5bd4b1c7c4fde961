"""Messages to patients: which message a change causes, how it is addressed, how it is retried,
and the texts it is written in. Pure rules; the outbox, the worker and the channels that carry
the messages live in persistence, services and integrations."""

from __future__ import annotations

import functools
import random
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum

from antrean.domain.errors import AntreanError
from antrean.domain.events import DomainEvent, EventKind

LANGUAGES = ("id", "en")
# Control characters other than a line break or a tab have no place in a message.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class MessageKind(StrEnum):
    BOOKING_CONFIRMED = "booking_confirmed"
    BOOKING_CANCELLED = "booking_cancelled"
    BOOKING_RESCHEDULED = "booking_rescheduled"
    BOOKING_AFFECTED = "booking_affected"  # the doctor's schedule changed under the booking
    REMINDER = "reminder"
    TICKET_ISSUED = "ticket_issued"
    TURN_NEAR = "turn_near"
    TICKET_CALLED = "ticket_called"
    NO_SHOW = "no_show"
    REPLY = "reply"  # an answer to a patient who wrote to the clinic

    @property
    def is_urgent(self) -> bool:
        """Sent at once, even in quiet hours: the patient is at (or on the way to) the clinic,
        or has just acted."""
        return self not in {MessageKind.REMINDER, MessageKind.BOOKING_AFFECTED, MessageKind.NO_SHOW}

    @property
    def lifetime(self) -> timedelta | None:
        """After this long unsent, the message says something no longer true: not sent."""
        if self in {MessageKind.TURN_NEAR, MessageKind.TICKET_CALLED}:
            return timedelta(minutes=30)
        if self in {MessageKind.TICKET_ISSUED, MessageKind.REPLY}:
            return timedelta(hours=6)
        return None


class Medium(StrEnum):
    """How a patient is reached; what a patient opts out of."""

    WHATSAPP = "whatsapp"
    SMS = "sms"
    EMAIL = "email"


class MessageState(StrEnum):
    PENDING = "pending"  # waiting for its time, or for its next try
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"  # a provider accepted it
    FAILED = "failed"  # every try failed, or the provider refused it for good
    SKIPPED = "skipped"  # nothing to send to, opted out, or no longer true


# Provider delivery statuses, in the order they move (a status never moves back).
DELIVERY_ORDER = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4}
DELIVERY_FAILED = "failed"


def delivery_moves(current: str | None, new: str) -> bool:
    """Whether a provider's status report moves a message's delivery status forward (reports
    come out of order and more than once)."""
    if new not in DELIVERY_ORDER and new != DELIVERY_FAILED:
        return False
    if current is None:
        return True
    if current == DELIVERY_FAILED:
        return False
    if new == DELIVERY_FAILED:
        return True
    return DELIVERY_ORDER[new] > DELIVERY_ORDER.get(current, -1)


@dataclass(frozen=True, slots=True)
class OutboxDraft:
    """A message to send, as the change that causes it writes it: about whom and what, never
    the text (rendered when it is sent, in the patient's language, from the current record)."""

    kind: MessageKind
    facility_id: int
    due_at: datetime
    patient_id: int | None = None
    appointment_id: int | None = None
    ticket_id: int | None = None
    # Set for a reply: where the patient wrote from (otherwise found from the patient record).
    medium: Medium | None = None
    address: str | None = None
    lang: str | None = None
    data: Mapping[str, str | int | None] = field(default_factory=dict)
    # At most one message per key (a reminder per booking, a "turn near" per ticket).
    dedupe_key: str | None = None

    @property
    def order_key(self) -> str:
        """Messages with one key go out in the order they were written."""
        if self.patient_id is not None:
            return f"p{self.patient_id}"
        return f"a:{self.address}"

    @property
    def expires_at(self) -> datetime | None:
        life = self.kind.lifetime
        return self.due_at + life if life is not None else None


def drafts_for_event(event: DomainEvent) -> list[OutboxDraft]:
    """The messages a change causes: the rule of who hears about what."""
    kind = _EVENT_MESSAGES.get(event.kind)
    if kind is None or event.patient_id is None:
        return []
    if event.kind is EventKind.TICKET_ISSUED and event.data.get("action") != "issue":
        return []  # a checked-in booking or a transfer: the patient is at the desk already
    data: dict[str, str | int | None] = {}
    for name in ("from_start_at", "reason", "counter", "label"):
        value = event.data.get(name)
        if value is not None:
            data[name] = str(value)
    return [
        OutboxDraft(
            kind=kind,
            facility_id=event.facility_id,
            due_at=event.at,
            patient_id=event.patient_id,
            appointment_id=event.appointment_id,
            ticket_id=event.ticket_id,
            data=data,
            dedupe_key=f"affected:{event.appointment_id}:{event.id or event.at.isoformat()}"
            if kind is MessageKind.BOOKING_AFFECTED
            else None,
        )
    ]


_EVENT_MESSAGES = {
    EventKind.APPOINTMENT_BOOKED: MessageKind.BOOKING_CONFIRMED,
    EventKind.APPOINTMENT_CANCELLED: MessageKind.BOOKING_CANCELLED,
    EventKind.APPOINTMENT_RESCHEDULED: MessageKind.BOOKING_RESCHEDULED,
    EventKind.APPOINTMENT_NO_SHOW: MessageKind.NO_SHOW,
    EventKind.SLOT_CONFLICT: MessageKind.BOOKING_AFFECTED,
    EventKind.TICKET_ISSUED: MessageKind.TICKET_ISSUED,
    EventKind.TICKET_CALLED: MessageKind.TICKET_CALLED,
    EventKind.TICKET_RECALLED: MessageKind.TICKET_CALLED,
    EventKind.TICKET_NO_SHOW: MessageKind.NO_SHOW,
}


# --- Retries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter. With the defaults the tenth try comes 15 to 31 minutes
    after the first (the waits are 5, 10, 20 ... 600 s, each drawn between half and all of it),
    so a provider down for 10 minutes loses nothing."""

    max_tries: int = 10
    first_delay: float = 5.0
    max_delay: float = 600.0

    def delay(self, tries: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `tries`-th failed try: doubling each time, capped, and
        drawn between half and the whole of it so workers do not retry in step."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** max(tries - 1, 0))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def gives_up(self, tries: int) -> bool:
        return tries >= self.max_tries


# --- Quiet hours ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times between which no reminder is sent (it waits for the end), e.g. 21:00-07:00."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        text = text.strip()
        if not text or text.lower() in {"off", "none"}:
            return None
        match = re.fullmatch(r"(\d{1,2})[:.](\d{2})\s*-\s*(\d{1,2})[:.](\d{2})", text)
        if not match:
            raise ValueError("quiet hours look like 21:00-07:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError("quiet hours look like 21:00-07:00")
        return cls(time(h1, m1), time(h2, m2))

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, instant: datetime, tz: object) -> datetime:
        """The instant itself outside quiet hours, else the end of them (local time `tz`)."""
        local = instant.astimezone(tz)  # type: ignore[arg-type]
        if not self.contains(local.time()):
            return instant
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(instant.tzinfo)


# --- What a channel is given ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    """A reply button: `id` comes back when tapped (max 256 chars), `title` max 20 chars."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class TemplateCall:
    """A pre-approved WhatsApp template: its name, language and body parameters in order."""

    name: str
    language: str
    parameters: tuple[str, ...]
    button_payloads: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message, rendered, for one channel to carry."""

    id: int  # the outbox row: stable across retries
    medium: Medium
    to: str  # E.164 phone number, or an e-mail address
    lang: str
    subject: str
    text: str
    html: str | None = None
    buttons: tuple[Button, ...] = ()
    template: TemplateCall | None = None
    attachments: tuple[Attachment, ...] = ()
    # WhatsApp: the patient wrote within 24 hours, so free text and buttons may be sent.
    in_service_window: bool = False


@dataclass(frozen=True, slots=True)
class Receipt:
    """A provider accepted the message (acceptance, not delivery)."""

    provider_id: str | None
    status: str = "accepted"


class SendFailure(Exception):
    """A channel could not hand the message over.

    `permanent`: trying again will not help (a bad number, not on WhatsApp, refused by policy);
    the message goes to the next channel or fails. Otherwise it is tried again later, not
    before `retry_after` seconds when the provider said so.
    """

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.detail = detail[:500]
        self.permanent = permanent
        self.retry_after = retry_after
        super().__init__(f"{code}: {detail}" if detail else code)


# --- Texts ---------------------------------------------------------------------------------

# The placeholders each message may use. Admins edit the texts; a placeholder not listed here
# is refused when saved, so a typo never reaches a patient as "{dcotor}".
_BOOKING = ("code", "patient", "date", "time", "clinic", "service", "doctor", "facility", "address")
PLACEHOLDERS: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.BOOKING_CONFIRMED: (*_BOOKING, "link"),
    MessageKind.BOOKING_CANCELLED: (*_BOOKING, "reason", "book_link"),
    MessageKind.BOOKING_RESCHEDULED: (*_BOOKING, "old_date", "old_time", "link"),
    MessageKind.BOOKING_AFFECTED: (*_BOOKING, "link"),
    MessageKind.REMINDER: (*_BOOKING, "link"),
    MessageKind.TICKET_ISSUED: (
        "ticket",
        "patient",
        "clinic",
        "ahead",
        "eta",
        "link",
        "facility",
    ),
    MessageKind.TURN_NEAR: ("ticket", "patient", "clinic", "ahead", "eta", "link", "facility"),
    MessageKind.TICKET_CALLED: ("ticket", "patient", "clinic", "room", "facility"),
    MessageKind.NO_SHOW: ("ticket", "code", "patient", "clinic", "date", "facility", "book_link"),
    MessageKind.REPLY: ("text", "facility"),
}


@dataclass(frozen=True, slots=True)
class MessageText:
    kind: MessageKind
    lang: str
    subject: str
    body: str
    # The name of the matching approved WhatsApp template, if the clinic has one; its body
    # parameters are this text's placeholders in the order they appear.
    whatsapp_template: str | None = None
    edited_at: datetime | None = None

    def validated(self) -> MessageText:
        if self.lang not in LANGUAGES:
            raise AntreanError("invalid_language", field="lang")
        if not isinstance(self.body, str) or not isinstance(self.subject, str):
            raise AntreanError("invalid_message_text", field="body")
        subject = self.subject.strip()
        body = self.body.strip()
        if not body or len(body) > 1024 or _CONTROL.search(body):
            raise AntreanError("invalid_message_text", field="body")
        if len(subject) > 120 or _CONTROL.search(subject) or "\n" in subject:
            raise AntreanError("invalid_message_subject", field="subject")
        allowed = set(PLACEHOLDERS[self.kind])
        for text, name in ((body, "body"), (subject, "subject")):
            for used in placeholders_in(text, name):
                if used not in allowed:
                    raise AntreanError(
                        "unknown_placeholder", field=name, name=used, allowed=", ".join(allowed)
                    )
        template = (self.whatsapp_template or "").strip() or None
        if template is not None and not re.fullmatch(r"[a-z0-9_]{1,512}", template):
            raise AntreanError("invalid_template_name", field="whatsapp_template")
        return MessageText(self.kind, self.lang, subject, body, template, self.edited_at)

    def render(self, facts: Mapping[str, str]) -> tuple[str, str]:
        """(subject, body) with the placeholders filled; a fact that is missing is left empty."""
        return fill(self.subject, facts), fill(self.body, facts)

    def template_parameters(self, facts: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(facts.get(name, "") or "-" for name in placeholders_in(self.body, "body"))


def placeholders_in(text: str, field_name: str = "body") -> list[str]:
    """The `{name}` placeholders of a text, in order; a text that is not well formed (a lone
    brace, a format spec) is refused."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise AntreanError("invalid_placeholder", field=field_name) from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise AntreanError("invalid_placeholder", field=field_name)
        names.append(name)
    return names


def fill(text: str, facts: Mapping[str, str]) -> str:
    """The text with each `{name}` replaced by its fact (empty when there is none)."""
    return "".join(part if name is None else facts.get(name, "") for part, name in _parsed(text))


@functools.lru_cache(maxsize=512)
def _parsed(text: str) -> tuple[tuple[str, str | None], ...]:
    """A text as literal parts and placeholder names, in order (parsed once per text)."""
    parts: list[tuple[str, str | None]] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(text):
        if literal:
            parts.append((literal, None))
        if name is not None:
            parts.append(("", name))
    return tuple(parts)


def _t(kind: MessageKind, lang: str, subject: str, body: str) -> MessageText:
    return MessageText(kind, lang, subject, body)


_K = MessageKind
DEFAULT_TEXTS: dict[tuple[MessageKind, str], MessageText] = {
    (t.kind, t.lang): t
    for t in (
        _t(
            _K.BOOKING_CONFIRMED,
            "id",
            "Booking {code} terkonfirmasi",
            "Halo {patient}, booking Anda terkonfirmasi.\n"
            "Kode booking: {code}\nTanggal: {date}\nJam: {time}\nPoli: {clinic}\n"
            "Layanan: {service}\nDokter: {doctor}\n{facility}, {address}\n"
            "Tunjukkan kode ini di kios atau loket saat datang. Detail: {link}",
        ),
        _t(
            _K.BOOKING_CONFIRMED,
            "en",
            "Booking {code} confirmed",
            "Hello {patient}, your booking is confirmed.\n"
            "Booking code: {code}\nDate: {date}\nTime: {time}\nClinic: {clinic}\n"
            "Service: {service}\nDoctor: {doctor}\n{facility}, {address}\n"
            "Show this code at the kiosk or the desk when you arrive. Details: {link}",
        ),
        _t(
            _K.BOOKING_CANCELLED,
            "id",
            "Booking {code} dibatalkan",
            "Halo {patient}, booking {code} ({clinic}, {date} {time}) telah dibatalkan. "
            "Buat booking baru: {book_link}",
        ),
        _t(
            _K.BOOKING_CANCELLED,
            "en",
            "Booking {code} cancelled",
            "Hello {patient}, booking {code} ({clinic}, {date} {time}) has been cancelled. "
            "Book again: {book_link}",
        ),
        _t(
            _K.BOOKING_RESCHEDULED,
            "id",
            "Jadwal booking {code} berubah",
            "Halo {patient}, booking {code} dipindah dari {old_date} {old_time} ke "
            "{date} jam {time}, {clinic}, {doctor}. Detail: {link}",
        ),
        _t(
            _K.BOOKING_RESCHEDULED,
            "en",
            "Booking {code} moved",
            "Hello {patient}, booking {code} has moved from {old_date} {old_time} to "
            "{date} at {time}, {clinic}, {doctor}. Details: {link}",
        ),
        _t(
            _K.BOOKING_AFFECTED,
            "id",
            "Jadwal dokter berubah",
            "Halo {patient}, jadwal {doctor} pada {date} {time} berubah. Booking {code} perlu "
            "dipindah. Pilih jadwal baru: {link}",
        ),
        _t(
            _K.BOOKING_AFFECTED,
            "en",
            "The doctor's schedule changed",
            "Hello {patient}, {doctor}'s schedule on {date} {time} has changed. Booking {code} "
            "needs a new time. Choose one: {link}",
        ),
        _t(
            _K.REMINDER,
            "id",
            "Pengingat: besok {time} di {facility}",
            "Halo {patient}, pengingat booking {code} besok {date} jam {time}, {clinic}, "
            "{doctor}. {facility}, {address}. Apakah Anda akan hadir?",
        ),
        _t(
            _K.REMINDER,
            "en",
            "Reminder: tomorrow {time} at {facility}",
            "Hello {patient}, a reminder of booking {code} tomorrow, {date} at {time}, {clinic}, "
            "{doctor}. {facility}, {address}. Will you come?",
        ),
        _t(
            _K.TICKET_ISSUED,
            "id",
            "Nomor antrean {ticket}",
            "Nomor antrean Anda {ticket} di {clinic}. Di depan Anda: {ahead} orang, "
            "perkiraan dipanggil {eta}. Pantau antrean: {link}",
        ),
        _t(
            _K.TICKET_ISSUED,
            "en",
            "Queue number {ticket}",
            "Your queue number is {ticket} at {clinic}. People ahead of you: {ahead}, "
            "expected call {eta}. Follow the queue: {link}",
        ),
        _t(
            _K.TURN_NEAR,
            "id",
            "Giliran {ticket} sebentar lagi",
            "Giliran Anda ({ticket}, {clinic}) sebentar lagi: {ahead} orang lagi, sekitar {eta}. "
            "Mohon berada di ruang tunggu. {link}",
        ),
        _t(
            _K.TURN_NEAR,
            "en",
            "{ticket}: your turn is near",
            "Your turn ({ticket}, {clinic}) is near: {ahead} more before you, about {eta}. "
            "Please be in the waiting room. {link}",
        ),
        _t(
            _K.TICKET_CALLED,
            "id",
            "{ticket} dipanggil",
            "Nomor {ticket} dipanggil. Silakan menuju {room} ({clinic}).",
        ),
        _t(
            _K.TICKET_CALLED,
            "en",
            "{ticket} is called",
            "Number {ticket} is called. Please come to {room} ({clinic}).",
        ),
        _t(
            _K.NO_SHOW,
            "id",
            "Anda tidak hadir",
            "Halo {patient}, Anda tercatat tidak hadir di {clinic} ({date}). "
            "Jika masih perlu berobat, buat booking baru: {book_link}",
        ),
        _t(
            _K.NO_SHOW,
            "en",
            "You were not there",
            "Hello {patient}, you were marked as not present at {clinic} ({date}). "
            "If you still need care, book again: {book_link}",
        ),
        _t(_K.REPLY, "id", "{facility}", "{text}"),
        _t(_K.REPLY, "en", "{facility}", "{text}"),
    )
}


# --- Patients who write back ---------------------------------------------------------------


class Command(StrEnum):
    STATUS = "status"
    CANCEL = "cancel"
    CANCEL_CONFIRMED = "cancel_confirmed"
    SCHEDULE = "schedule"
    BOOK = "book"
    QUEUE = "queue"
    STOP = "stop"
    START = "start"
    CONFIRM = "confirm"  # "I will come" (a reminder's button)
    RESCHEDULE = "reschedule"  # a reminder's "change" button
    HELP = "help"


@dataclass(frozen=True, slots=True)
class Request:
    """What a patient's message asks for, and in which language it was written."""

    command: Command
    argument: str = ""
    lang: str | None = None


_WORDS: dict[str, tuple[Command, str | None]] = {
    "status": (Command.STATUS, None),
    "cek": (Command.STATUS, "id"),
    "batal": (Command.CANCEL, "id"),
    "batalkan": (Command.CANCEL, "id"),
    "cancel": (Command.CANCEL, "en"),
    "jadwal": (Command.SCHEDULE, "id"),
    "schedule": (Command.SCHEDULE, "en"),
    "daftar": (Command.BOOK, "id"),
    "book": (Command.BOOK, "en"),
    "antre": (Command.QUEUE, "id"),
    "antri": (Command.QUEUE, "id"),
    "antrean": (Command.QUEUE, "id"),
    "antrian": (Command.QUEUE, "id"),
    "queue": (Command.QUEUE, "en"),
    "stop": (Command.STOP, None),
    "berhenti": (Command.STOP, "id"),
    "unsubscribe": (Command.STOP, "en"),
    "mulai": (Command.START, "id"),
    "start": (Command.START, "en"),
    "hadir": (Command.CONFIRM, "id"),
    "help": (Command.HELP, "en"),
    "bantuan": (Command.HELP, "id"),
    "menu": (Command.HELP, None),
}
_YES = {"ya", "yes", "y", "ok", "oke"}


def parse_request(text: str) -> Request:
    """A typed message: the first word is the command (either language, any case), the rest
    its argument. Anything not understood asks for help."""
    words = text.strip().split()
    if not words:
        return Request(Command.HELP)
    head = words[0].lower().strip(".,!?:")
    command, lang = _WORDS.get(head, (Command.HELP, None))
    rest = words[1:]
    if command is Command.CANCEL and len(rest) >= 2 and rest[1].lower() in _YES:
        return Request(Command.CANCEL_CONFIRMED, rest[0].upper(), lang)
    # As written: booking codes are read in any case, a ticket's status code is not.
    return Request(command, " ".join(rest)[:80], lang)


def button_id(command: Command, code: str) -> str:
    return f"{command.value}:{code}"


def parse_button(button: str) -> Request:
    """A tapped reply button (its id) or template quick-reply (its payload)."""
    name, _, argument = button.partition(":")
    try:
        command = Command(name)
    except ValueError:
        return parse_request(button)
    return Request(command, argument[:80])


def guess_language(text: str) -> str | None:
    """The language of a message from its first word, when that word is a command."""
    words = text.strip().split()
    if not words:
        return None
    return _WORDS.get(words[0].lower().strip(".,!?:"), (Command.HELP, None))[1]


# --- What providers tell us ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A patient wrote to the clinic (or tapped a button), as a provider's webhook reports it."""

    transport: str  # which channel received it: "whatsapp_cloud", "waha", "gateway", "sms"
    medium: Medium
    message_id: str  # the provider's id: a repeat of the same id is answered once
    sender: str  # E.164 phone number (or e-mail address)
    text: str
    at: datetime
    button: str | None = None  # the tapped button's id or quick-reply payload
    name: str | None = None  # the sender's profile name, if the provider gives it


MAX_PROVIDER_ID = 200


def is_provider_id(value: object) -> bool:
    """Whether a webhook's message id can be a provider's: printable text of 1 to 200
    characters. Anything else (a NUL, a line break, a page of text) is no provider's id, and
    a database could not store some of it."""
    return isinstance(value, str) and 0 < len(value) <= MAX_PROVIDER_ID and value.isprintable()


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A provider's report on a message it accepted earlier."""

    transport: str
    provider_id: str
    status: str  # accepted, sent, delivered, read, played or failed
    at: datetime
    error_code: str | None = None
    error_title: str | None = None


# --- A message as stored -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """An outbox row: what to send, and what became of it."""

    id: int
    facility_id: int
    kind: MessageKind
    state: MessageState
    patient_id: int | None
    appointment_id: int | None
    ticket_id: int | None
    order_key: str
    medium: Medium | None
    transport: str | None
    address: str | None
    lang: str | None
    data: Mapping[str, str | int | None]
    due_at: datetime
    expires_at: datetime | None
    tries: int
    claimed_until: datetime | None
    last_error: str | None
    provider_id: str | None
    delivery_status: str | None
    delivery_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker's try made of a claimed message: stored only if the claim still holds."""

    id: int
    claimed_until: datetime
    state: MessageState
    tries: int
    due_at: datetime
    medium: Medium | None = None
    transport: str | None = None
    address: str | None = None
    lang: str | None = None
    last_error: str | None = None
    provider_id: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageFilter:
    state: MessageState | None = None
    kind: MessageKind | None = None
    medium: Medium | None = None
    patient_id: int | None = None
    search: str | None = None  # an address, or part of one

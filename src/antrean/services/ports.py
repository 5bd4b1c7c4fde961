"""What the services need from storage, as protocols. SQL and in-memory versions implement them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from antrean.domain.audit import AuditEntry, AuditFilter, AuditSubject, ChainReport
from antrean.domain.booking import Appointment, AppointmentStatus, SlotHold, SlotView
from antrean.domain.catalog import Clinic, Doctor, Facility, OpeningHours, Service
from antrean.domain.common import Clock, Page
from antrean.domain.devices import DeviceLink
from antrean.domain.eta import EwmaServiceTime
from antrean.domain.events import DomainEvent
from antrean.domain.identity import Throttle, User
from antrean.domain.notifications import (
    Medium,
    Message,
    MessageFilter,
    MessageKind,
    MessageState,
    MessageText,
    OutboxDraft,
    Outcome,
)
from antrean.domain.patients import Patient
from antrean.domain.queue import Ticket
from antrean.domain.scheduling import ExistingSlot, Schedule, ScheduleException, SlotSpec


class UniqueViolation(Exception):
    """A unique constraint refused a write; the transaction must be rolled back."""


@dataclass(frozen=True, slots=True)
class Named:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class FreePlaces:
    """How many places are free on a day with a doctor (a summary for choosing a day)."""

    day: date
    doctor_id: int
    doctor_name: str
    places: int


@dataclass(frozen=True, slots=True)
class FreeSlot:
    id: int
    doctor_id: int
    doctor_name: str
    clinic_id: int
    clinic_name: str
    day: date
    start_at: datetime
    end_at: datetime
    capacity: int
    booked: int
    active: bool = True  # false: kept for its bookings, closed to new ones

    @property
    def available(self) -> int:
        """Places still free (none in a slot closed to bookings)."""
        return max(self.capacity - self.booked, 0) if self.active else 0


@dataclass(frozen=True, slots=True)
class SlotQuery:
    """Which slots a paged search wants: days, the earliest start (and, when given, the
    start they must come before), a clinic or doctor, and free, full or any places."""

    first_day: date
    last_day: date
    not_before: datetime
    before: datetime | None = None
    clinic_id: int | None = None
    doctor_id: int | None = None
    places: str = "free"  # "free", "full", "unavailable" (closed) or "any"
    doctor_ids: tuple[int, ...] | None = None  # any of these doctors (none: no match)


@dataclass(frozen=True, slots=True)
class Conflict:
    id: int
    appointment_id: int
    appointment_code: str
    slot_id: int
    reason: str
    detected_at: datetime


@dataclass(frozen=True, slots=True)
class AppointmentFilter:
    day_from: date | None = None
    day_to: date | None = None
    clinic_id: int | None = None
    doctor_id: int | None = None
    patient_id: int | None = None
    status: AppointmentStatus | None = None
    starts_from: datetime | None = None  # inclusive, finer than the days
    starts_before: datetime | None = None  # exclusive


# How the staff's bookings table may be sorted (a leading "-" for descending).
BOOKING_ORDERS = frozenset({"start", "created", "patient", "status"})


@dataclass(frozen=True, slots=True)
class BookingRow:
    """A booking as the staff's table shows it: with who it is for."""

    appointment: Appointment
    patient_name: str
    patient_mrn: str
    patient_phone: str | None


@dataclass(frozen=True, slots=True)
class RefreshTokenRow:
    id: int
    user_id: int
    expires_at: datetime
    revoked_at: datetime | None
    family: str | None = None  # None: made before families existed
    revoked_reason: str | None = None


# Why a refresh token stopped working (`revoked_reason`).
ROTATED, LOGGED_OUT, REUSED, ENDED = "rotated", "logout", "reused", "ended"


class Catalog(Protocol):
    """Clinics, opening hours, services and doctors."""

    def list_clinics(self, facility_id: int) -> list[Clinic]: ...
    def get_clinic(self, facility_id: int, clinic_id: int) -> Clinic | None: ...
    def add_clinic(self, clinic: Clinic, created_at: datetime) -> int: ...
    def save_clinic(self, clinic: Clinic) -> None:
        """Store a clinic's name, queue prefix and open switch (hours: `replace_hours`)."""
        ...

    def replace_hours(
        self, facility_id: int, clinic_id: int, hours: list[OpeningHours]
    ) -> None: ...
    def opening_hours(self, facility_id: int) -> dict[int, list[OpeningHours]]: ...
    def list_services(self, facility_id: int, clinic_id: int | None) -> list[Service]: ...
    def get_service(self, facility_id: int, service_id: int) -> Service | None: ...
    def add_service(self, facility_id: int, row: Service) -> int: ...
    def save_service(self, facility_id: int, service: Service) -> None: ...
    def list_counters(self, facility_id: int, clinic_id: int) -> list[str]:
        """The clinic's active counters or rooms, by name."""
        ...

    def add_counter(self, facility_id: int, clinic_id: int, name: str) -> None: ...
    def set_counter_active(
        self, facility_id: int, clinic_id: int, name: str, active: bool
    ) -> bool: ...
    def list_doctors(self, facility_id: int) -> list[Doctor]: ...
    def get_doctor(self, facility_id: int, doctor_id: int) -> Doctor | None: ...
    def add_doctor(self, facility_id: int, row: Doctor) -> int: ...
    def save_doctor(self, facility_id: int, doctor: Doctor) -> None: ...


class Schedules(Protocol):
    def all(
        self, facility_id: int, *, doctor_id: int | None = None, clinic_id: int | None = None
    ) -> list[Schedule]: ...
    def get(self, facility_id: int, schedule_id: int) -> Schedule | None: ...
    def add(self, facility_id: int, schedule: Schedule) -> int: ...
    def update(self, facility_id: int, schedule: Schedule) -> None: ...
    def delete(self, facility_id: int, schedule_id: int) -> None: ...
    def list_exceptions(
        self, facility_id: int, first_day: date, last_day: date
    ) -> list[ScheduleException]: ...
    def get_exception(self, facility_id: int, exception_id: int) -> ScheduleException | None: ...
    def add_exception(self, facility_id: int, exc: ScheduleException) -> int: ...
    def delete_exception(self, facility_id: int, exception_id: int) -> None: ...


class Slots(Protocol):
    def existing(self, facility_id: int, first_day: date, last_day: date) -> list[ExistingSlot]: ...
    def insert(self, facility_id: int, specs: list[SlotSpec]) -> None: ...
    def set_capacity(self, slot_id: int, capacity: int) -> None: ...
    def set_active(self, slot_ids: list[int], active: bool) -> None: ...
    def delete(self, slot_ids: list[int]) -> None: ...
    def view(self, facility_id: int, slot_id: int) -> SlotView | None: ...
    def view_with_patient(
        self, facility_id: int, slot_id: int, patient_id: int
    ) -> tuple[SlotView | None, bool]:
        """The slot, and whether the patient exists in the facility."""
        ...

    def try_take(self, slot_id: int) -> bool:
        """Take one place if one is free, atomically. False when the slot is full."""
        ...

    def release(self, slot_id: int) -> None: ...
    def search(
        self,
        facility_id: int,
        *,
        first_day: date,
        last_day: date,
        not_before: datetime,
        clinic_id: int | None,
        doctor_id: int | None,
        only_free: bool,
    ) -> list[FreeSlot]: ...
    def page(self, facility_id: int, query: SlotQuery, page: Page) -> tuple[list[FreeSlot], int]:
        """One page of the slots the query wants, soonest first, and how many there are."""
        ...

    def one(self, facility_id: int, slot_id: int) -> FreeSlot | None:
        """A slot of an active doctor, open or closed to bookings."""
        ...

    def free_places(
        self,
        facility_id: int,
        *,
        first_day: date,
        last_day: date,
        not_before: datetime,
        clinic_id: int | None,
        doctor_id: int | None,
    ) -> list[FreePlaces]:
        """Free places per day and doctor, in day then doctor order (the same slots as
        `search` with `only_free`, counted in the database)."""
        ...


class Patients(Protocol):
    def add(self, patient: Patient) -> int: ...
    def get(self, facility_id: int, patient_id: int) -> Patient | None: ...
    def get_by_mrn(self, facility_id: int, mrn: str) -> Patient | None: ...
    def get_many(self, facility_id: int, patient_ids: list[int]) -> dict[int, Patient]: ...
    def save(self, patient: Patient) -> None:
        """Store every field of the record but its MRN, which never changes."""
        ...

    def search(
        self,
        facility_id: int,
        *,
        mrn: str | None,
        name: str | None,
        phone: str | None,
        page: Page,
        nik: str | None = None,
    ) -> tuple[list[Patient], int]: ...


class Appointments(Protocol):
    def add(self, appointment: Appointment, created_by: int | None) -> int | None:
        """The new id, or None when the booking code is already in use."""
        ...

    def get(self, facility_id: int, appointment_id: int) -> Appointment | None: ...
    def get_many(self, facility_id: int, appointment_ids: list[int]) -> dict[int, Appointment]: ...
    def get_by_code(self, facility_id: int, code: str) -> Appointment | None: ...
    def save(self, appointment: Appointment, expected: datetime | None = None) -> bool:
        """Store the changes; with `expected`, only if the stored `updated_at` is still that
        (false when another change came first)."""
        ...

    def find(
        self, facility_id: int, flt: AppointmentFilter, page: Page
    ) -> tuple[list[Appointment], int]: ...
    def table(
        self, facility_id: int, flt: AppointmentFilter, search: str | None, order: str, page: Page
    ) -> tuple[list[BookingRow], int]:
        """The staff's bookings table: `search` matches a booking code exactly, or part of the
        patient's name, or the patient's phone (E.164); `order` is one of BOOKING_ORDERS,
        with a leading "-" for descending."""
        ...

    def day_summary(self, facility_id: int, day: date) -> dict[tuple[int, str], int]:
        """How many appointments of the day each clinic has in each status."""
        ...

    def active_in_slots(self, slot_ids: list[int]) -> list[Appointment]: ...
    def try_count_day(
        self, facility_id: int, patient_id: int, clinic_id: int, day: date, limit: int
    ) -> bool:
        """Count one more active appointment for the patient that day, unless at the limit."""
        ...

    def uncount_day(self, patient_id: int, clinic_id: int, day: date) -> None: ...
    def add_conflict(
        self, facility_id: int, appointment_id: int, slot_id: int, reason: str, at: datetime
    ) -> bool:
        """Record an open conflict unless the same one is open already: True when recorded."""
        ...

    def close_conflict(self, facility_id: int, conflict_id: int, at: datetime) -> Conflict | None:
        """Mark one open conflict resolved; None when there is no such open conflict."""
        ...

    def open_conflicts(self, facility_id: int) -> list[Conflict]: ...
    def resolve_conflicts(self, appointment_id: int, at: datetime) -> None: ...


class Users(Protocol):
    def add(self, user: User, created_at: datetime) -> int: ...
    def get(self, user_id: int) -> User | None: ...
    def get_by_username(self, username: str) -> User | None: ...
    def list(self, facility_id: int, page: Page) -> tuple[list[User], int]: ...
    def save(self, user: User) -> None:
        """Store name, roles, doctor, active switch and password hash (not the username)."""
        ...

    def count_active_admins(self, facility_id: int) -> int: ...
    def signed_in_externally(
        self, facility_id: int, issuer: str, subject: str, at: datetime
    ) -> int | None:
        """The account linked to an OpenID provider's person, noting the sign-in; None when
        none is linked."""
        ...

    def link_external(
        self, facility_id: int, issuer: str, subject: str, user_id: int, at: datetime
    ) -> None:
        """Link an account to a provider's person; `UniqueViolation` when either is linked."""
        ...

    def revoke_all_refresh_tokens(self, user_id: int, at: datetime, reason: str) -> None: ...
    def add_refresh_token(
        self,
        facility_id: int,
        user_id: int,
        token_hash: str,
        expires_at: datetime,
        at: datetime,
        family: str,
    ) -> None: ...
    def get_refresh_token(self, token_hash: str) -> RefreshTokenRow | None: ...
    def revoke_refresh_token(self, token_id: int, at: datetime, reason: str) -> bool: ...
    def revoke_family(self, family: str, at: datetime, reason: str) -> int:
        """Revoke every token of a family still valid; how many there were."""
        ...


class SignIns(Protocol):
    """Failed sign-ins per key (`domain.identity.account_key`, `address_key`)."""

    def get_many(self, facility_id: int, keys: Sequence[str]) -> dict[str, Throttle]: ...
    def record_failure(
        self, facility_id: int, key: str, count: Callable[[Throttle | None], Throttle]
    ) -> Throttle:
        """Store `count(what is stored)` for the key, with the row held until commit (two
        failures at once both count)."""
        ...

    def clear(self, facility_id: int, key: str) -> None: ...
    def locked(self, facility_id: int, prefix: str) -> dict[str, datetime]:
        """Keys starting with `prefix` that are locked, with when they were locked."""
        ...


@dataclass(frozen=True, slots=True)
class TwoFactorRow:
    user_id: int
    secret: str
    confirmed_at: datetime | None  # None: set up but not yet confirmed with a first code
    last_step: int  # the last TOTP time step used: a code works once


class TwoFactors(Protocol):
    """Two-step sign-in: an account's TOTP secret and its recovery codes."""

    def get(self, user_id: int) -> TwoFactorRow | None: ...
    def start(self, user_id: int, secret: str, at: datetime) -> None:
        """A new secret, not yet confirmed (replacing one not yet confirmed)."""
        ...

    def confirm(self, user_id: int, at: datetime) -> None: ...
    def use_step(self, user_id: int, step: int) -> bool:
        """Record a code's time step as used; False when it (or a later one) already was."""
        ...

    def remove(self, user_id: int) -> None:
        """The secret and the recovery codes."""
        ...

    def set_recovery_codes(self, user_id: int, code_hashes: Sequence[str]) -> None: ...
    def use_recovery_code(self, user_id: int, code_hash: str, at: datetime) -> bool: ...
    def recovery_codes_left(self, user_id: int) -> int: ...


class Idempotency(Protocol):
    def claim(
        self, facility_id: int, user_id: int, key: str, request_hash: str, at: datetime
    ) -> None:
        """Record the key first in the transaction; raises UniqueViolation if it exists."""
        ...

    def get(self, user_id: int, key: str) -> tuple[str, int | None] | None: ...
    def set_resource(self, user_id: int, key: str, resource_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class TicketEventRow:
    from_state: str | None
    to_state: str
    counter: str | None
    action: str


@dataclass(frozen=True, slots=True)
class ClinicQueueFacts:
    """What a ticket's status needs to know about its clinic, read in one go."""

    clinic_id: int
    clinic_name: str
    counters: int  # counters or rooms set up
    typical_minutes: int | None  # the shortest active service duration
    busy_counters: int  # counters calling or serving a patient on the ticket's day
    service_time: EwmaServiceTime | None  # measured so far; None before the first visit ends


@dataclass(frozen=True, slots=True)
class TicketStep:
    """One entry of a ticket's timeline: the action (issue, call, start, finish, undo...), when
    it happened, and the state (a `TicketState` value) and counter it left the ticket in."""

    at: datetime
    action: str
    state: str
    from_state: str | None
    counter: str | None


class Tickets(Protocol):
    def add(self, ticket: Ticket, appointment_id: int | None) -> int: ...
    def get(self, facility_id: int, ticket_id: int) -> Ticket | None: ...
    def with_clinic_facts(self, status_code: str) -> tuple[Ticket, ClinicQueueFacts] | None: ...
    def queue_clinic(
        self, facility_id: int, clinic_id: int, day: date
    ) -> tuple[Clinic, ClinicQueueFacts] | None:
        """The clinic with its opening hours and its queue facts for a day, in one read."""
        ...

    def list_day(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]: ...
    def for_patient(self, facility_id: int, patient_id: int, day: date) -> list[Ticket]:
        """A patient's tickets of a day, oldest first."""
        ...

    def waiting(self, facility_id: int, clinic_id: int, day: date) -> list[Ticket]: ...
    def count_ahead(self, ticket: Ticket, *, now: datetime, aging: timedelta) -> int:
        """Waiting tickets called before this one, in the order of `domain.queue.queue_order`,
        counted by the database."""
        ...

    def move(
        self,
        ticket_id: int,
        *,
        from_state: str,
        to_state: str,
        counter: str | None,
        recall: bool = False,
        sort_at: datetime | None = None,
    ) -> bool:
        """Change the state only if it is still `from_state`: false when someone was faster."""
        ...

    def last_event(self, ticket_id: int) -> TicketEventRow | None:
        """The latest entry of the ticket's timeline (its latest queue event)."""
        ...

    def called_at(self, ticket_ids: list[int]) -> dict[int, datetime]:
        """When each ticket was first called, for those called at all."""
        ...

    def last_called_at(self, ticket_ids: list[int]) -> dict[int, datetime]:
        """When each ticket was last called or called again, for those called at all."""
        ...

    def recent_service_times(
        self, facility_id: int, clinic_id: int, since: datetime, limit: int = 50
    ) -> list[timedelta]:
        """Start-to-finish durations of the clinic's latest finished visits, oldest first."""
        ...

    def save_service_time(
        self, facility_id: int, clinic_id: int, estimate: EwmaServiceTime, at: datetime
    ) -> None:
        """Keep the clinic's current service-time estimate (insert or replace)."""
        ...

    def open_before(self, facility_id: int, day: date) -> list[Ticket]:
        """Tickets of earlier days still waiting, called or being served."""
        ...

    def timelines(self, ticket_ids: list[int]) -> dict[int, list[TicketStep]]:
        """Each ticket's timeline, oldest first, in one read: every ticket asked for is a key
        (with no steps when it has none)."""
        ...

    def find(
        self,
        facility_id: int,
        *,
        page: Page,
        patient_id: int | None = None,
        clinic_id: int | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
        states: frozenset[str] | None = None,
        ticket_ids: frozenset[int] = frozenset(),
    ) -> tuple[list[tuple[Ticket, int | None]], int]:
        """One page of the tickets matching every filter given (`states` as `TicketState`
        values; `ticket_ids` empty means any), ordered by day and number, each with the
        appointment it came from; and how many match in all."""
        ...


class Sequences(Protocol):
    def next(self, facility_id: int, name: str) -> int:
        """The next number of a gap-free counter (ticket numbers), atomically."""
        ...

    def next_mrn(self, facility_id: int) -> int:
        """A new medical record number: unique, gaps allowed."""
        ...


class DeviceLinks(Protocol):
    def add(self, link: DeviceLink, token_hash: str) -> int: ...
    def list(self, facility_id: int) -> list[DeviceLink]: ...
    def by_token(self, token_hash: str) -> DeviceLink | None: ...
    def revoke(self, facility_id: int, link_id: int, at: datetime) -> bool:
        """Mark it revoked; False when it is unknown or was revoked already."""
        ...


class Facilities(Protocol):
    def ensure(
        self, *, facility_id: int, code: str, name: str, time_zone: str, at: datetime
    ) -> None: ...
    def get(self, facility_id: int) -> Facility | None: ...
    def save(self, facility: Facility) -> None:
        """Store name, address and phone (not the code or time zone, which come from settings)."""
        ...


class Events(Protocol):
    """Domain events, stored in the transaction of the change they announce."""

    def add(self, event: DomainEvent) -> DomainEvent:
        """Store the event; it comes back with its id."""
        ...

    def since(
        self,
        facility_id: int,
        *,
        after_id: int,
        clinic_id: int | None = None,
        status_code: str | None = None,
        limit: int = 500,
    ) -> list[DomainEvent]:
        """Events after an id, oldest first: all of a facility, a clinic's queue events, or one
        ticket's (by its status code)."""
        ...

    def for_appointment(self, facility_id: int, appointment_id: int) -> list[DomainEvent]:
        """An appointment's history, oldest first."""
        ...

    def latest_ids(
        self,
        facility_id: int,
        *,
        clinic_id: int | None = None,
        status_code: str | None = None,
        limit: int = 200,
    ) -> list[int]:
        """The ids of the newest events of the same streams, newest first."""
        ...


class Outbox(Protocol):
    """Messages to send (`domain.notifications`), written with the change that causes them."""

    def add(self, draft: OutboxDraft, now: datetime) -> None:
        """Queue a message; one with a dedupe key already used adds nothing."""
        ...

    def has_due(self, now: datetime) -> bool: ...
    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[Message]:
        """Take due messages (at most one per order key) for one worker until `lease_until`;
        workers running at once never take the same message."""
        ...

    def finish(self, outcomes: Sequence[Outcome], now: datetime) -> int:
        """Store outcomes of messages still claimed as the worker claimed them."""
        ...

    def get(self, facility_id: int, message_id: int) -> Message | None: ...
    def find(self, facility_id: int, flt: MessageFilter, page: Page) -> tuple[list[Message], int]:
        """Newest first, with the total."""
        ...

    def counts(self, facility_id: int) -> dict[MessageState, int]: ...
    def send_again(self, facility_id: int, message_id: int, now: datetime) -> bool: ...
    def record_delivery(
        self, transport: str, provider_id: str, status: str, error: str | None, now: datetime
    ) -> bool: ...
    def add_reminders(
        self,
        facility_id: int,
        *,
        day: date,
        booked_before: datetime,
        due_at: datetime,
        now: datetime,
    ) -> int: ...


class MessageTexts(Protocol):
    def edited(self, facility_id: int) -> dict[tuple[MessageKind, str], MessageText]: ...
    def save(self, facility_id: int, text: MessageText, by: int | None) -> None: ...
    def reset(self, facility_id: int, kind: MessageKind, lang: str) -> None: ...


class Contacts(Protocol):
    def opted_out(self, facility_id: int, address: str) -> set[Medium]: ...
    def opted_out_many(self, facility_id: int, addresses: list[str]) -> dict[str, set[Medium]]:
        """Every address given, with the media it stopped (an empty set for none)."""
        ...

    def conversations(
        self, facility_id: int, addresses: list[str]
    ) -> dict[str, tuple[datetime, str | None]]:
        """When each address last wrote, and in which language (those that ever did)."""
        ...

    def set_opt_out(
        self, facility_id: int, medium: Medium, address: str, out: bool, now: datetime
    ) -> None: ...
    def conversation(
        self, facility_id: int, address: str
    ) -> tuple[datetime, str | None] | None: ...
    def heard_from(
        self, facility_id: int, address: str, lang: str | None, now: datetime
    ) -> None: ...
    def first_delivery(
        self, facility_id: int, transport: str, message_id: str, now: datetime
    ) -> bool: ...


class Jobs(Protocol):
    def take(self, name: str, now: datetime, next_due: datetime) -> bool: ...
    def due_at(self, name: str) -> datetime | None: ...


class AuditLog(Protocol):
    """The audit log as admins and patients read it (`domain.audit`); the unit of work writes
    it."""

    def find(
        self, facility_id: int, flt: AuditFilter, page: Page
    ) -> tuple[list[AuditEntry], int]: ...
    def verify(self, facility_id: int) -> list[ChainReport]: ...


class Holds(Protocol):
    """Short-lived holds on a place in a slot (FHIR `$hold`): a hold keeps the place taken
    until it is booked or it expires."""

    def add(self, hold: SlotHold) -> int: ...
    def get(self, facility_id: int, hold_id: int) -> SlotHold | None: ...
    def take(self, facility_id: int, hold_id: int, now: datetime) -> SlotHold | None:
        """Remove the hold if it has not expired, and return it: its place passes to whoever
        took it (None when it is unknown, gone or expired)."""
        ...

    def count_active(self, facility_id: int, account_id: int, now: datetime) -> int: ...
    def release_expired(self, now: datetime, slot_id: int | None = None) -> int:
        """Remove the expired holds (of one slot, or all) and give their places back to their
        slots; how many."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Open with `with uow(write=True):`; only `commit()` makes it stick.

    `audit(...)` notes the records a use case reads or changes: the audit log gets an entry
    for each when the transaction commits (a read: when the block ends without an error),
    with the use case's name and actor. The records of the events it publishes are added."""

    clock: Clock
    catalog: Catalog
    schedules: Schedules
    slots: Slots
    patients: Patients
    appointments: Appointments
    holds: Holds
    users: Users
    sign_ins: SignIns
    two_factors: TwoFactors
    idempotency: Idempotency
    sequences: Sequences
    facilities: Facilities
    devices: DeviceLinks
    tickets: Tickets
    events: Events
    outbox: Outbox
    message_texts: MessageTexts
    contacts: Contacts
    jobs: Jobs
    audit_log: AuditLog

    def __call__(self, *, write: bool = False) -> UnitOfWork: ...
    def audit(self, *subjects: AuditSubject) -> None: ...
    def publish(self, event: DomainEvent, messages: Sequence[OutboxDraft] = ()) -> DomainEvent:
        """Store the event, and the messages it causes, in this transaction; subscribers get
        the event if, and once, it commits."""
        ...

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *args: object) -> None: ...
    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...

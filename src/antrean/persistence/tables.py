"""Persistence tables (SQLAlchemy Core). Every table carries facility_id, to shard by facility."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)

from antrean.persistence.protect import SealedDate, SealedText
from antrean.persistence.types import UTCDateTime

# A blind index (`persistence.protect`): 32 hex digits, or the plain value where sealing is off.
Blind = String(300)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only aliases rowid for INTEGER PRIMARY KEY; BigInteger there would not autoincrement.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _id() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _facility() -> Column[int]:
    return Column("facility_id", Id, ForeignKey("facility.id"), nullable=False)


facility = Table(
    "facility",
    metadata,
    _id(),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("address", Text, nullable=False, server_default=""),
    Column("phone", String(32), nullable=False, server_default=""),
    Column("time_zone", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

clinic = Table(
    "clinic",
    metadata,
    _id(),
    _facility(),
    Column("code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("queue_prefix", String(3), nullable=False),
    Column("is_open", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("facility_id", "code"),
)

clinic_hours = Table(
    "clinic_hours",
    metadata,
    _id(),
    _facility(),
    Column("clinic_id", Id, ForeignKey("clinic.id", ondelete="CASCADE"), nullable=False),
    Column("weekday", SmallInteger, nullable=False),
    Column("opens_at", Time, nullable=False),
    Column("closes_at", Time, nullable=False),
    CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
    CheckConstraint("opens_at < closes_at", name="opens_before_closes"),
    Index(None, "clinic_id", "weekday"),
)

service = Table(
    "service",
    metadata,
    _id(),
    _facility(),
    Column("clinic_id", Id, ForeignKey("clinic.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("duration_minutes", SmallInteger, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    CheckConstraint("duration_minutes > 0", name="duration_positive"),
    Index(None, "clinic_id"),
)

doctor = Table(
    "doctor",
    metadata,
    _id(),
    _facility(),
    Column("name", String(200), nullable=False),
    Column("specialty", String(200), nullable=False, server_default=""),
    Column("active", Boolean, nullable=False, server_default=text("true")),
)

schedule = Table(
    "schedule",
    metadata,
    _id(),
    _facility(),
    Column("doctor_id", Id, ForeignKey("doctor.id"), nullable=False),
    Column("clinic_id", Id, ForeignKey("clinic.id"), nullable=False),
    Column("weekday", SmallInteger, nullable=False),
    Column("start_time", Time, nullable=False),
    Column("end_time", Time, nullable=False),
    Column("slot_minutes", SmallInteger, nullable=False),
    Column("capacity", SmallInteger, nullable=False),
    CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
    CheckConstraint("start_time < end_time", name="start_before_end"),
    CheckConstraint("slot_minutes > 0", name="slot_minutes_positive"),
    CheckConstraint("capacity > 0", name="capacity_positive"),
    Index(None, "doctor_id", "weekday"),
)

schedule_exception = Table(
    "schedule_exception",
    metadata,
    _id(),
    _facility(),
    Column("kind", String(20), nullable=False),
    Column("date_from", Date, nullable=False),
    Column("date_to", Date, nullable=False),
    Column("doctor_id", Id, ForeignKey("doctor.id"), nullable=True),
    Column("clinic_id", Id, ForeignKey("clinic.id"), nullable=True),
    Column("start_time", Time, nullable=True),
    Column("end_time", Time, nullable=True),
    Column("reason", String(200), nullable=False, server_default=""),
    CheckConstraint("date_from <= date_to", name="dates_ordered"),
    Index(None, "facility_id", "date_to"),
)

slot = Table(
    "slot",
    metadata,
    _id(),
    _facility(),
    Column("doctor_id", Id, ForeignKey("doctor.id"), nullable=False),
    Column("clinic_id", Id, ForeignKey("clinic.id"), nullable=False),
    Column("schedule_id", Id, nullable=True),
    Column("day", Date, nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("capacity", SmallInteger, nullable=False),
    Column("booked", SmallInteger, nullable=False, server_default=text("0")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    UniqueConstraint("doctor_id", "start_at"),
    CheckConstraint("booked >= 0", name="booked_not_negative"),
    CheckConstraint("booked <= capacity", name="booked_within_capacity"),
    Index(None, "facility_id", "clinic_id", "day"),
    Index(None, "facility_id", "doctor_id", "day"),
)

# Short-lived holds on a place in a slot (FHIR `$hold`); each one counts in `slot.booked`
# until it is booked or, once expired, released.
slot_hold = Table(
    "slot_hold",
    metadata,
    _id(),
    _facility(),
    Column("slot_id", Id, ForeignKey("slot.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
    Index(None, "slot_id", "expires_at"),
    Index(None, "account_id", "expires_at"),
)

patient = Table(
    "patient",
    metadata,
    _id(),
    _facility(),
    # Personal fields are sealed (`persistence.protect`); the exact look-ups go through blind
    # indexes beside them, and a search by name through `patient_name_token`.
    Column("mrn", SealedText("patient.mrn"), nullable=False),
    Column("name", SealedText("patient.name"), nullable=False),
    Column("birth_date", SealedDate("patient.birth_date"), nullable=False),
    Column("sex", String(10), nullable=False),
    Column("phone", SealedText("patient.phone"), nullable=True),
    Column("address", SealedText("patient.address"), nullable=True),
    Column("nik", SealedText("patient.nik"), nullable=True),
    Column("bpjs_number", SealedText("patient.bpjs_number"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # How the patient is written to: an e-mail address, and the language of the messages.
    Column("email", SealedText("patient.email"), nullable=True),
    Column("language", String(2), nullable=True),
    Column("mrn_index", Blind, nullable=False),
    Column("phone_index", Blind, nullable=True),
    Column("nik_index", Blind, nullable=True),
    Column("bpjs_index", Blind, nullable=True),
    Column("email_index", Blind, nullable=True),
    UniqueConstraint("facility_id", "mrn_index"),
    Index(None, "facility_id", "phone_index"),
    Index(None, "facility_id", "nik_index"),
    Index(None, "facility_id", "bpjs_index"),
    Index(None, "facility_id", "email_index"),
)

# The blind indexes of every beginning of every word of a patient's name: a search by name
# finds the patients that have all of its words' indexes.
patient_name_token = Table(
    "patient_name_token",
    metadata,
    Column("facility_id", Id, ForeignKey("facility.id"), primary_key=True),
    Column("token", Blind, primary_key=True),
    Column("patient_id", Id, ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "patient_id"),
)

appointment = Table(
    "appointment",
    metadata,
    _id(),
    _facility(),
    Column("code", String(12), nullable=False),
    # A slot that schedules no longer want is deleted only when nothing active is booked in it.
    Column("slot_id", Id, ForeignKey("slot.id", ondelete="SET NULL"), nullable=True),
    Column("patient_id", Id, ForeignKey("patient.id"), nullable=False),
    Column("clinic_id", Id, ForeignKey("clinic.id"), nullable=False),
    Column("doctor_id", Id, ForeignKey("doctor.id"), nullable=False),
    Column("service_id", Id, ForeignKey("service.id"), nullable=True),
    Column("day", Date, nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("note", SealedText("appointment.note"), nullable=False, server_default=""),
    Column("cancel_reason", SealedText("appointment.cancel_reason"), nullable=True),
    Column("created_by", Id, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("facility_id", "code"),
    Index(None, "patient_id", "day"),
    Index(None, "facility_id", "day", "clinic_id"),
    Index(None, "slot_id"),
)

# One row per (patient, clinic, day): how many active appointments the patient holds there.
# A conditional upsert on it enforces the per-day limit in the database, under any concurrency.
patient_day_booking = Table(
    "patient_day_booking",
    metadata,
    _facility(),
    Column("patient_id", Id, ForeignKey("patient.id"), primary_key=True),
    Column("clinic_id", Id, ForeignKey("clinic.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("active_count", SmallInteger, nullable=False),
    CheckConstraint("active_count >= 0", name="count_not_negative"),
)

booking_conflict = Table(
    "booking_conflict",
    metadata,
    _id(),
    _facility(),
    Column("appointment_id", Id, ForeignKey("appointment.id"), nullable=False),
    Column("slot_id", Id, ForeignKey("slot.id", ondelete="SET NULL"), nullable=True),
    Column("reason", String(32), nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Index(None, "facility_id", "resolved_at"),
)

# One known value, sealed and indexed with the keys the database was first written with: a
# server started with other keys (or with sealing switched the other way) finds out before it
# writes a value nobody else can open (`persistence.key_check`).
data_key_check = Table(
    "data_key_check",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("sealed", SealedText("data_key_check.sealed"), nullable=False),
    Column("probe", String(64), nullable=False),
)

user_account = Table(
    "user_account",
    metadata,
    _id(),
    _facility(),
    Column("username", String(120), nullable=False, unique=True),
    Column("full_name", SealedText("user_account.full_name"), nullable=False, server_default=""),
    Column("password_hash", String(255), nullable=False),
    Column("roles", String(100), nullable=False),
    Column("patient_id", Id, ForeignKey("patient.id"), nullable=True, unique=True),
    Column("doctor_id", Id, ForeignKey("doctor.id"), nullable=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
)

refresh_token = Table(
    "refresh_token",
    metadata,
    _id(),
    _facility(),
    Column("user_id", Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The tokens one sign-in led to, each rotated into the next: one reused after it was
    # rotated (stolen and used twice) revokes them all. None for tokens made before 0009.
    Column("family", String(32), nullable=True, index=True),
    Column("revoked_reason", String(10), nullable=True),
)

# Two-step sign-in: the account's TOTP secret (pending until a first code confirms it) and
# the last time step used, so a code works once.
two_factor = Table(
    "two_factor",
    metadata,
    Column("user_id", Id, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("secret", SealedText("two_factor.secret"), nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("last_step", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
)

# Staff accounts signed in through the organisation's OpenID provider: the provider's issuer
# and its never-changing subject for the person. One account per (issuer, subject).
external_identity = Table(
    "external_identity",
    metadata,
    Column("facility_id", Id, ForeignKey("facility.id"), primary_key=True),
    Column("issuer", String(255), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column(
        "user_id",
        Id,
        ForeignKey("user_account.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_sign_in_at", UTCDateTime, nullable=False),
)

# One-time recovery codes for a lost authenticator, stored as SHA-256 digests.
recovery_code = Table(
    "recovery_code",
    metadata,
    Column("user_id", Id, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("code_hash", String(64), primary_key=True),
    Column("used_at", UTCDateTime, nullable=True),
)

# Failed sign-ins, counted per account name (`account:<username>`, known or not) and per client
# address (`address:<ip or /64>`): growing waits, and a lock-out of the account that staff lift.
sign_in_throttle = Table(
    "sign_in_throttle",
    metadata,
    Column("facility_id", Id, primary_key=True),
    Column("key", String(120), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UTCDateTime, nullable=False),
    Column("locked_at", UTCDateTime, nullable=True),
)

# Display boards and kiosks, each opened by a secret link (stored as its SHA-256 digest).
device_link = Table(
    "device_link",
    metadata,
    _id(),
    _facility(),
    Column("kind", String(16), nullable=False),
    Column("name", String(80), nullable=False),
    Column("clinic_ids", String(400), nullable=False),  # "1,2,3"
    Column("sound", Boolean, nullable=False),
    Column("printer", String(260), nullable=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index(None, "facility_id"),
)

idempotency_key = Table(
    "idempotency_key",
    metadata,
    _facility(),
    Column("user_id", Id, primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("resource_id", Id, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Named per-facility counters (medical record numbers, ticket numbers per clinic and day),
# each bumped by one atomic statement.
counter = Table(
    "counter",
    metadata,
    Column("facility_id", Id, ForeignKey("facility.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# A queue ticket: one clinic, one local day, a number from the per-day counter.
ticket = Table(
    "ticket",
    metadata,
    _id(),
    _facility(),
    Column("clinic_id", Id, ForeignKey("clinic.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("number", Integer, nullable=False),
    Column("label", String(12), nullable=False),
    Column("status_code", String(32), nullable=False, unique=True),
    Column("patient_id", Id, ForeignKey("patient.id"), nullable=False),
    Column("appointment_id", Id, ForeignKey("appointment.id"), nullable=True),
    Column("source", String(16), nullable=False),
    Column("priority", SmallInteger, nullable=False, server_default=text("0")),
    Column(
        "priority_reason", SealedText("ticket.priority_reason"), nullable=False, server_default=""
    ),
    Column("state", String(16), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    # Where the ticket stands in line: issue time, or the appointment time for an on-time
    # check-in, or the re-queue time after a skip.
    Column("sort_at", UTCDateTime, nullable=False),
    Column("counter", String(32), nullable=True),
    Column("recalls", SmallInteger, nullable=False, server_default=text("0")),
    Column("transferred_from", Id, nullable=True),
    UniqueConstraint("clinic_id", "day", "number"),
    # Covers counting the people ahead (queue order) without reading the ticket rows.
    Index(
        "ix_ticket_queue_order",
        "facility_id",
        "clinic_id",
        "day",
        "state",
        "priority",
        "sort_at",
        "number",
    ),
    Index("ix_ticket_patient_day", "facility_id", "patient_id", "day"),
)

# Counters (loket) or rooms where a clinic's patients are called to.
service_point = Table(
    "service_point",
    metadata,
    _id(),
    _facility(),
    Column("clinic_id", Id, ForeignKey("clinic.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(32), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    UniqueConstraint("clinic_id", "name"),
)

# A clinic's service-time estimate (exponentially weighted mean and variance, in minutes),
# recomputed from the timeline whenever a visit finishes (or a finish is undone), so reading a
# ticket's status is one row instead of a pass over the clinic's history.
clinic_service_time = Table(
    "clinic_service_time",
    metadata,
    Column("clinic_id", Id, ForeignKey("clinic.id", ondelete="CASCADE"), primary_key=True),
    _facility(),
    Column("mean_minutes", Float, nullable=False),
    Column("variance", Float, nullable=False),
    Column("observations", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Every change a patient, a display or another system cares about (`domain.events`), stored in
# the transaction of the change. Append-only, never overwritten: a ticket's events are its
# timeline (waits, service times and undo come from them). Its id orders all events and is the
# id live streams resume from. No foreign keys: it is history, written on every change.
domain_event = Table(
    "domain_event",
    metadata,
    _id(),
    Column("facility_id", Id, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("clinic_id", Id, nullable=True),
    Column("ticket_id", Id, nullable=True),
    Column("appointment_id", Id, nullable=True),
    Column("patient_id", Id, nullable=True),
    Column("actor_user_id", Id, nullable=True),
    Column("action", String(16), nullable=True),  # a ticket's timeline action: call, start...
    Column("data", SealedText("domain_event.data"), nullable=False),
    # Ticket events only (partial indexes): live streams and the ticket timeline read them;
    # other events cost no index entry when they are written.
    Index(
        None,
        "facility_id",
        "clinic_id",
        "id",
        sqlite_where=text("ticket_id IS NOT NULL"),
        postgresql_where=text("ticket_id IS NOT NULL"),
    ),
    Index(
        None,
        "ticket_id",
        "id",
        sqlite_where=text("ticket_id IS NOT NULL"),
        postgresql_where=text("ticket_id IS NOT NULL"),
    ),
    # An appointment's history (the staff's booking page).
    Index(
        "ix_domain_event_appointment",
        "appointment_id",
        "id",
        sqlite_where=text("appointment_id IS NOT NULL"),
        postgresql_where=text("appointment_id IS NOT NULL"),
    ),
)


# The transactional outbox: a message to send, written in the transaction of the change that
# causes it (`domain.notifications`), delivered by the worker. The text is not stored: it is
# rendered when sent, in the patient's language, from the current record.
outbox_message = Table(
    "outbox_message",
    metadata,
    _id(),
    Column("facility_id", Id, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("state", String(10), nullable=False),
    Column("patient_id", Id, nullable=True),
    Column("appointment_id", Id, nullable=True),
    Column("ticket_id", Id, nullable=True),
    # Messages with one order key go out in the order they were written (one patient's).
    Column("order_key", String(80), nullable=False),
    # Chosen when sent (or given, for a reply): how, through which channel, to where.
    Column("medium", String(10), nullable=True),
    Column("transport", String(20), nullable=True),
    Column("address", SealedText("outbox_message.address"), nullable=True),
    Column("lang", String(2), nullable=True),
    Column("data", SealedText("outbox_message.data"), nullable=False),
    Column("address_index", Blind, nullable=True),
    Column("dedupe_key", String(80), nullable=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("tries", Integer, nullable=False, server_default="0"),
    # A claimed message belongs to its worker until then; after, another may take it over.
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("provider_id", String(200), nullable=True),
    Column("delivery_status", String(12), nullable=True),
    Column("delivery_error", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # What the worker looks for: only unfinished messages are in it.
    Index(
        "ix_outbox_message_due",
        "due_at",
        "id",
        sqlite_where=text("state IN ('pending', 'sending')"),
        postgresql_where=text("state IN ('pending', 'sending')"),
    ),
    Index(
        "ix_outbox_message_order",
        "order_key",
        "id",
        sqlite_where=text("state IN ('pending', 'sending')"),
        postgresql_where=text("state IN ('pending', 'sending')"),
    ),
    Index(
        "ix_outbox_message_provider",
        "provider_id",
        sqlite_where=text("provider_id IS NOT NULL"),
        postgresql_where=text("provider_id IS NOT NULL"),
    ),
    # At most one message per dedupe key; most messages have none and cost no entry here.
    Index(
        "uq_outbox_message_dedupe_key",
        "dedupe_key",
        unique=True,
        sqlite_where=text("dedupe_key IS NOT NULL"),
        postgresql_where=text("dedupe_key IS NOT NULL"),
    ),
    # A booking writes its message in its own transaction: the row and the two small indexes
    # of unfinished messages above are all it costs. The staff's log reads newest first by id.
)

# The texts of the messages as the clinic edited them (the built-in texts stand otherwise).
message_text = Table(
    "message_text",
    metadata,
    Column("facility_id", Id, ForeignKey("facility.id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("lang", String(2), primary_key=True),
    Column("subject", String(120), nullable=False),
    Column("body", Text, nullable=False),
    Column("whatsapp_template", String(512), nullable=True),
    Column("edited_at", UTCDateTime, nullable=False),
    Column("edited_by", Id, nullable=True),
)

# An address that asked for no more messages on a medium (a "STOP" reply, or the patient's
# choice on their page).
contact_optout = Table(
    "contact_optout",
    metadata,
    Column("facility_id", Id, ForeignKey("facility.id"), primary_key=True),
    Column("medium", String(10), primary_key=True),
    Column("address", String(254), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
)

# A conversation with an address: when the patient last wrote (WhatsApp's 24-hour window) and
# in which language.
conversation = Table(
    "conversation",
    metadata,
    Column("facility_id", Id, ForeignKey("facility.id"), primary_key=True),
    Column("address", String(254), primary_key=True),
    Column("last_inbound_at", UTCDateTime, nullable=False),
    Column("lang", String(2), nullable=True),
)

# Webhook deliveries already handled: a provider's repeat of the same message is a no-op.
inbound_message = Table(
    "inbound_message",
    metadata,
    Column("transport", String(20), primary_key=True),
    Column("message_id", String(200), primary_key=True),
    Column("facility_id", Id, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

# Work that runs on a schedule (reminders): a row with the time it is due next. Whichever
# worker moves the due time forward runs it; no timers in memory.
scheduled_job = Table(
    "scheduled_job",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("last_run_at", UTCDateTime, nullable=True),
)

# The audit log (`domain.audit`): who did what to which record, when, from where. Append-only
# (triggers refuse UPDATE and DELETE), each entry chained to the one before it in its chain by
# a keyed hash; `audit_head` holds each chain's last position and hash.
audit_entry = Table(
    "audit_entry",
    metadata,
    _id(),
    Column("facility_id", Id, nullable=False),
    Column("chain", SmallInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_user_id", Id, nullable=True),
    Column("actor", String(80), nullable=False),
    Column("roles", String(100), nullable=False),
    Column("action", String(60), nullable=False),
    Column("record_type", String(20), nullable=False),
    Column("record_id", String(40), nullable=False),
    Column("patient_id", Id, nullable=True),
    Column("client_address", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("facility_id", "chain", "seq"),
    # Who opened a patient's record; what one person did; a period.
    Index(None, "facility_id", "patient_id", "id"),
    Index(None, "facility_id", "actor_user_id", "id"),
    Index(None, "facility_id", "at"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("facility_id", Id, primary_key=True),
    Column("chain", SmallInteger, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

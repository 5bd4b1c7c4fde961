"""The SQL unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Connection

from antrean.domain.audit import AuditEntry, AuditSubject, RequestInfo, actor_label
from antrean.domain.common import Clock
from antrean.domain.events import DomainEvent
from antrean.domain.notifications import OutboxDraft
from antrean.persistence.appointment_store import SqlAppointments
from antrean.persistence.audit_store import SqlAudit
from antrean.persistence.catalog_store import SqlCatalog
from antrean.persistence.device_store import SqlDeviceLinks
from antrean.persistence.engine import Database
from antrean.persistence.event_bus import EventBus, PostgresNotifyBus
from antrean.persistence.event_store import SqlEvents
from antrean.persistence.facility_store import SqlFacilities
from antrean.persistence.hold_store import SqlHolds
from antrean.persistence.idempotency_store import SqlIdempotency
from antrean.persistence.outbox_store import (
    SqlContacts,
    SqlJobs,
    SqlMessageTexts,
    SqlOutbox,
    draft_values,
)
from antrean.persistence.patient_store import SqlPatients
from antrean.persistence.protect import keyring_of
from antrean.persistence.schedule_store import SqlSchedules
from antrean.persistence.sequence_store import SqlSequences
from antrean.persistence.slot_store import SqlSlots
from antrean.persistence.ticket_store import SqlTickets
from antrean.persistence.user_store import SqlSignIns, SqlTwoFactors, SqlUsers
from antrean.services.access import current_use_case, request_info


def _begin(db: Database, *, write: bool) -> tuple[Connection, Any]:
    """A connection with its transaction begun; SQLite takes the write lock at BEGIN for a
    write, so two writers never deadlock upgrading a read lock."""
    conn = db.engine.connect()
    try:
        if write and db.is_sqlite:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        return conn, conn.begin()
    except BaseException:
        conn.close()
        raise


def _commit_and_publish(
    bus: EventBus | None, conn: Connection, tx: Any, events: list[DomainEvent]
) -> None:
    """Commit; the events reach subscribers if, and only when, the commit succeeds."""
    if bus is None or not events:
        tx.commit()
    else:
        bus.commit(conn, tx, events)


def _driver_execute(conn: Connection, sql: str) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


class SharedTransaction:
    """One write transaction that several use cases run in, one after another (group commit).

    Each use case's unit of work becomes a savepoint of it: a use case that fails is rolled
    back to its savepoint and the others go on; one commit, and so one wait for the disk, makes
    all of them durable, and their events are published after it. Use cases in one shared
    transaction run strictly one after another on this thread, so the outcome is that of
    running them in that order, each in a transaction of its own.
    """

    _local = threading.local()

    def __init__(self, db: Database, bus: EventBus | None) -> None:
        self._db = db
        self._bus = bus
        self.events: list[DomainEvent] = []
        self.audit: list[AuditEntry] = []
        self._savepoints = 0
        self.conn, self._tx = _begin(db, write=True)

    @classmethod
    def current(cls) -> SharedTransaction | None:
        found: SharedTransaction | None = getattr(cls._local, "shared", None)
        return found

    def __enter__(self) -> SharedTransaction:
        SharedTransaction._local.shared = self
        return self

    def __exit__(self, *args: object) -> None:
        SharedTransaction._local.shared = None
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()

    def savepoint(self) -> str:
        self._savepoints += 1
        name = f"use_case_{self._savepoints}"
        _driver_execute(self.conn, f"SAVEPOINT {name}")
        return name

    def release(self, name: str) -> None:
        _driver_execute(self.conn, f"RELEASE SAVEPOINT {name}")

    def roll_back_to(self, name: str) -> None:
        _driver_execute(self.conn, f"ROLLBACK TO SAVEPOINT {name}")
        _driver_execute(self.conn, f"RELEASE SAVEPOINT {name}")

    def commit(self) -> None:
        events, self.events = self.events, []
        drafts, self.audit = self.audit, []
        if drafts:
            SqlAudit(self.conn).append(drafts)
        _commit_and_publish(self._bus, self.conn, self._tx, events)


class SqlUnitOfWork:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        bus: EventBus | None = None,
        *,
        messages: bool = True,
        audit: bool = True,
    ) -> None:
        self._db = db
        self._messages = messages
        self._audit_on = audit
        self.clock = clock
        self._bus = bus
        self._events: list[DomainEvent] = []
        self._subjects: list[AuditSubject] = []
        self._write = False
        self._conn: Connection | None = None
        self._tx: Any = None
        self._turn: AbstractContextManager[Any] | None = None
        self._shared: SharedTransaction | None = None
        self._savepoint: str | None = None
        # Where stored events are also notified (PostgreSQL LISTEN/NOTIFY), if anywhere.
        self._channel = bus.channel if isinstance(bus, PostgresNotifyBus) else None

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        self._write = write
        return self

    def _bind(self, conn: Connection) -> None:
        self._conn = conn
        self.catalog = SqlCatalog(conn)
        self.schedules = SqlSchedules(conn)
        self.slots = SqlSlots(conn)
        self.patients = SqlPatients(conn)
        self.appointments = SqlAppointments(conn)
        self.holds = SqlHolds(conn)
        self.users = SqlUsers(conn)
        self.sign_ins = SqlSignIns(conn)
        self.two_factors = SqlTwoFactors(conn)
        self.idempotency = SqlIdempotency(conn)
        self.sequences = SqlSequences(conn)
        self.facilities = SqlFacilities(conn)
        self.devices = SqlDeviceLinks(conn)
        self.tickets = SqlTickets(conn)
        self.events = SqlEvents(conn, notify_channel=self._channel)
        self.outbox = SqlOutbox(conn, writes=self._messages)
        self.message_texts = SqlMessageTexts(conn)
        self.contacts = SqlContacts(conn)
        self.jobs = SqlJobs(conn)
        self.audit_log = SqlAudit(conn)

    def __enter__(self) -> SqlUnitOfWork:
        shared = SharedTransaction.current()
        if shared is not None:
            # Inside a group commit: a savepoint of the shared transaction for a write, the
            # shared connection as it stands for a read.
            self._shared = shared
            self._savepoint = shared.savepoint() if self._write else None
            self._bind(shared.conn)
            return self
        if self._write and self._db.is_sqlite:
            self._turn = self._db.writer_turn()
            self._turn.__enter__()
        try:
            conn, self._tx = _begin(self._db, write=self._write)
        except BaseException:
            self._release_turn()
            raise
        self._bind(conn)
        return self

    def publish(self, event: DomainEvent, messages: Sequence[OutboxDraft] = ()) -> DomainEvent:
        """Store the event, and the messages it causes, in this transaction; subscribers get
        the event if, and only when, this transaction commits."""
        if not self._messages or not messages:
            stored = self.events.add(event)
        else:
            first, *rest = messages
            stored = self.events.add(
                event, draft_values(first, event.at, keyring_of(self.events.conn))
            )
            for draft in rest:
                self.outbox.add(draft, event.at)
        self._events.append(stored)
        return stored

    def audit(self, *subjects: AuditSubject) -> None:
        """Note the records this use case reads or changes, for the audit log."""
        self._subjects.extend(subjects)

    def _audit_drafts(self, events: Sequence[DomainEvent]) -> list[AuditEntry]:
        """The audit entries of what this unit of work did, when it runs for a use case."""
        found = current_use_case() if self._audit_on else None
        subjects, self._subjects = self._subjects, []
        if found is None:
            return []
        action, actor = found
        subjects = list(dict.fromkeys([*subjects, *(_event_subject(e) for e in events)]))
        info = request_info.get() or RequestInfo()
        at = self.clock.now()
        roles = " ".join(sorted(r.value for r in actor.roles))
        who = actor_label(actor)
        return [
            AuditEntry(
                facility_id=actor.facility_id,
                chain=0,  # placed in a chain when appended
                seq=0,
                at=at,
                actor_user_id=actor.user_id or None,
                actor=who,
                roles=roles,
                action=action,
                record_type=s.record_type,
                record_id=s.record_id,
                patient_id=s.patient_id,
                client_address=info.client_address,
                request_id=info.request_id,
            )
            for s in subjects or [_NO_SUBJECT]
        ]

    def commit(self) -> None:
        events, self._events = self._events, []
        drafts = self._audit_drafts(events)
        if self._shared is not None:
            # Durable when the shared transaction commits; the events go out after that.
            if self._savepoint is not None:
                self._shared.release(self._savepoint)
                self._savepoint = None
            self._shared.events.extend(events)
            self._shared.audit.extend(drafts)
            return
        assert self._conn is not None, "commit inside `with uow(...)`"
        if drafts:
            self.audit_log.append(drafts)
        _commit_and_publish(self._bus, self._conn, self._tx, events)

    def __exit__(self, exc_type: object, *args: object) -> None:
        # A read records what it opened once it is done (a write recorded it in its commit).
        reads = self._audit_drafts(()) if exc_type is None and self._subjects else []
        self._subjects = []
        if self._shared is not None:
            try:
                if self._savepoint is not None:  # not committed: undo this use case's writes
                    self._shared.roll_back_to(self._savepoint)
                self._shared.audit.extend(reads)
            finally:
                self._shared = self._savepoint = self._conn = None
                self._events = []
                self._write = False
            return
        try:
            if self._tx is not None and self._tx.is_active:
                self._tx.rollback()
            if self._conn is not None:
                self._conn.close()
        finally:
            self._tx = None
            self._conn = None
            self._events = []
            self._release_turn()
            self._write = False
        if reads:
            self._append_alone(reads)

    def _append_alone(self, drafts: list[AuditEntry]) -> None:
        """Record reads in a short write transaction of their own."""
        with self._db.writer_turn():
            conn, tx = _begin(self._db, write=True)
            try:
                SqlAudit(conn).append(drafts)
                tx.commit()
            finally:
                conn.close()

    def _release_turn(self) -> None:
        if self._turn is not None:
            self._turn.__exit__(None, None, None)
            self._turn = None


_NO_SUBJECT = AuditSubject("", "")


def _event_subject(e: DomainEvent) -> AuditSubject:
    """The record an event is about, as the audit log names it."""
    if e.ticket_id is not None:
        return AuditSubject("ticket", str(e.ticket_id), e.patient_id)
    if e.appointment_id is not None:
        return AuditSubject("appointment", str(e.appointment_id), e.patient_id)
    if e.patient_id is not None:
        return AuditSubject("patient", str(e.patient_id), e.patient_id)
    if e.clinic_id is not None:
        return AuditSubject("clinic", str(e.clinic_id))
    return _NO_SUBJECT


class SqlUnitOfWorkFactory:
    """Units of work on one database. `messages` off: changes queue no messages to patients."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        bus: EventBus | None = None,
        *,
        messages: bool = True,
        audit: bool = True,
    ) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus
        self.messages = messages
        self.audit = audit

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.db, self.clock, self.bus, messages=self.messages, audit=self.audit
        )

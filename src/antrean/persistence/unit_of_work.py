"""The SQL unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Connection

from antrean.domain.common import Clock
from antrean.domain.events import QueueEvent
from antrean.events import EventBus
from antrean.persistence.booking_store import SqlAppointments, SqlPatients, SqlSlots
from antrean.persistence.engine import Database
from antrean.persistence.identity_store import (
    SqlCounters,
    SqlFacilities,
    SqlIdempotency,
    SqlUsers,
)
from antrean.persistence.queue_store import SqlTickets
from antrean.persistence.repositories import SqlCatalog, SqlSchedules


class SqlUnitOfWork:
    def __init__(self, db: Database, clock: Clock, bus: EventBus | None = None) -> None:
        self._db = db
        self.clock = clock
        self._bus = bus
        self._events: list[QueueEvent] = []
        self._write = False
        self._conn: Connection | None = None
        self._tx: Any = None
        self._turn: AbstractContextManager[Any] | None = None

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        self._write = write
        return self

    def __enter__(self) -> SqlUnitOfWork:
        if self._write and self._db.is_sqlite:
            self._turn = self._db.writer_turn()
            self._turn.__enter__()
        try:
            conn = self._db.engine.connect()
            if self._write and self._db.is_sqlite:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            self._tx = conn.begin()
        except BaseException:
            self._release_turn()
            raise
        self._conn = conn
        self.catalog = SqlCatalog(conn)
        self.schedules = SqlSchedules(conn)
        self.slots = SqlSlots(conn)
        self.patients = SqlPatients(conn)
        self.appointments = SqlAppointments(conn)
        self.users = SqlUsers(conn)
        self.idempotency = SqlIdempotency(conn)
        self.counters = SqlCounters(conn)
        self.facilities = SqlFacilities(conn)
        self.tickets = SqlTickets(conn)
        return self

    def publish(self, event: QueueEvent) -> None:
        """Send the event to subscribers if, and only when, this transaction commits."""
        self._events.append(event)

    def commit(self) -> None:
        events, self._events = self._events, []
        if self._bus is not None and events and self._conn is not None:
            self._bus.before_commit(self._conn, events)
        self._tx.commit()
        if self._bus is not None and events:
            self._bus.after_commit(events)

    def __exit__(self, *args: object) -> None:
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

    def _release_turn(self) -> None:
        if self._turn is not None:
            self._turn.__exit__(None, None, None)
            self._turn = None


class SqlUnitOfWorkFactory:
    def __init__(self, db: Database, clock: Clock, bus: EventBus | None = None) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, self.clock, self.bus)

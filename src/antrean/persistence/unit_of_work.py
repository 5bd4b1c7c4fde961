"""The SQL unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Connection

from antrean.domain.common import Clock
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
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self.clock = clock
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

    def commit(self) -> None:
        self._tx.commit()

    def __exit__(self, *args: object) -> None:
        try:
            if self._tx is not None and self._tx.is_active:
                self._tx.rollback()
            if self._conn is not None:
                self._conn.close()
        finally:
            self._tx = None
            self._conn = None
            self._release_turn()
            self._write = False

    def _release_turn(self) -> None:
        if self._turn is not None:
            self._turn.__exit__(None, None, None)
            self._turn = None


class SqlUnitOfWorkFactory:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, self.clock)

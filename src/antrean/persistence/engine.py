"""Engines for SQLite (embedded default) and PostgreSQL, each set up for safe concurrent writes."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from antrean.persistence.protect import Keyring, attach


class WriterQueue:
    """Lets SQLite writers wait their turn in line instead of polling for the database lock.

    SQLite admits one writer at a time. A writer that finds the lock taken sleeps and retries
    (the busy handler), with sleeps up to 100 ms: under load that turns into long tail latency.
    Here writers queue on a thread lock (this process) and an exclusive `flock` on a file next to
    the database (other server processes), both of which wake the next waiter at once.
    Correctness never rests on this queue: BEGIN IMMEDIATE, conditional updates and constraints
    decide, and hold for any process that does not use the queue.

    `with queue:` waits blocking the calling thread; `async with queue.turn():` waits without
    blocking the event loop (used by the write batches of `persistence.batch`).
    """

    def __init__(self, lock_path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._lock_path = lock_path
        self._fd: int | None = None

    def _file(self) -> int | None:
        if self._lock_path is not None and self._fd is None:
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def __enter__(self) -> WriterQueue:
        self._thread_lock.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *args: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """The same turn, awaited: while another thread or process holds it, a helper thread
        waits, and the event loop goes on serving other requests meanwhile.

        Nothing of this process is held while waiting. The loop's own writes (a read's audit
        entry, written inline) take the thread lock with a blocking wait; had this coroutine
        kept the thread lock while waiting for another process, such a write would block the
        loop on it, and the coroutine could never resume to let it go: a deadlock. So the
        thread lock is only ever taken here without waiting, once nobody else has it."""
        fd = self._file()
        while True:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # another process writes: wait until it is done
                    await _in_thread(
                        lambda: fcntl.flock(fd, fcntl.LOCK_EX),
                        undo=lambda: fcntl.flock(fd, fcntl.LOCK_UN),
                    )
                    continue  # a writer of this process may have let the file lock go since
            if self._thread_lock.acquire(blocking=False):
                break
            # A writer of this process on another thread has the turn: wait for it to end.
            await _in_thread(self._wait_for_thread_lock, undo=lambda: None)
        try:
            yield
        finally:
            self.__exit__()

    def _wait_for_thread_lock(self) -> None:
        with self._thread_lock:
            pass


async def _in_thread(take: Callable[[], Any], *, undo: Callable[[], Any]) -> None:
    """Wait on a helper thread for a lock. If the waiter is cancelled, whichever side sees the
    lock taken last gives it back, so an abandoned wait never leaves it held."""
    guard = threading.Lock()
    taken = abandoned = False

    def wait() -> None:
        nonlocal taken
        take()
        with guard:
            if abandoned:
                undo()
            else:
                taken = True

    try:
        await asyncio.to_thread(wait)
    except asyncio.CancelledError:
        with guard:
            abandoned = True
            if taken:
                undo()
        raise


@dataclass
class Database:
    """An engine plus what its dialect needs to run write transactions well."""

    engine: Engine
    _writers: WriterQueue | None = field(default=None)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def writer_turn(self) -> AbstractContextManager[Any]:
        return self._writers if self._writers is not None else nullcontext()

    def writer_turn_async(self) -> AbstractAsyncContextManager[Any]:
        return self._writers.turn() if self._writers is not None else contextlib.nullcontext()

    def dispose(self) -> None:
        self.engine.dispose()


def create_database(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    busy_timeout_ms: int = 10_000,
    pool_size: int = 10,
    echo: bool = False,
    keyring: Keyring | None = None,
) -> Database:
    """An engine for the URL. `keyring` seals and opens the protected columns
    (`persistence.protect`); without one they cannot be read or written."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = _sqlite(url, sqlite_synchronous, busy_timeout_ms, echo)
        attach(db.engine, keyring)
        return db
    engine = create_engine(
        url,
        # A fixed set of connections: an overflow connection is opened and closed per burst,
        # and opening one costs PostgreSQL a new backend process. Callers queue for a free one.
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        pool_pre_ping=True,
        echo=echo,
    )
    attach(engine, keyring)
    return Database(engine=engine)


# Page cache per connection (SQLite's default is 2 MiB): the indexes a booking touches stay
# in memory as the database grows. Taken as pages are read, not up front.
SQLITE_CACHE_KIB = 32 * 1024

_BEGIN = {mode: f"BEGIN {mode}" for mode in ("DEFERRED", "IMMEDIATE")}


def _sqlite(url: str, synchronous: str, busy_timeout_ms: int, echo: bool) -> Database:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    synchronous = synchronous.upper()
    if synchronous not in {"FULL", "NORMAL", "EXTRA"}:
        raise ValueError("sqlite synchronous must be FULL, NORMAL or EXTRA")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        pool_size=8,
        max_overflow=8,
        echo=echo,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN, so write transactions can be IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        # Straight on the driver: the statement needs no parameters, conversions or results.
        conn.connection.dbapi_connection.execute(_BEGIN[mode])

    path = parsed.database
    lock_path = Path(f"{path}.writer-lock") if path and path != ":memory:" else None
    return Database(engine=engine, _writers=WriterQueue(lock_path))

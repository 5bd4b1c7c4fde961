"""Event buses: how a committed change reaches subscribers in this and other processes.

`InProcessBus` hands events to this process's subscribers after commit. `PostgresNotifyBus`
sends them with `pg_notify` inside the transaction (PostgreSQL delivers a notification only if
the transaction commits, and in commit order) and every server process LISTENs, so a change made
through one process reaches subscribers of all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy.engine import Connection, make_url

from antrean.domain.events import QueueEvent

log = logging.getLogger("antrean.events")
CHANNEL = "antrean_queue"
QUEUE_LIMIT = 256


class Broadcaster:
    """Fans events out to this process's subscribers, keyed by clinic and by ticket."""

    def __init__(self) -> None:
        self._subscribers: dict[tuple[str, object], set[asyncio.Queue[QueueEvent]]] = defaultdict(
            set
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @contextlib.contextmanager
    def subscribe(self, key: tuple[str, object]) -> Any:
        queue: asyncio.Queue[QueueEvent] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers[key].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[key].discard(queue)
            if not self._subscribers[key]:
                del self._subscribers[key]

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def deliver(self, events: Iterable[QueueEvent]) -> None:
        """Thread-safe: may be called from any thread once bound to the event loop."""
        batch = list(events)
        if not batch or self._loop is None:
            return
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._fanout, batch)

    def _fanout(self, batch: list[QueueEvent]) -> None:
        for event in batch:
            for key in (("clinic", event.clinic_id), ("ticket", event.status_code)):
                for queue in self._subscribers.get(key, ()):
                    if queue.full():  # a stalled client loses its oldest events, never blocks
                        queue.get_nowait()
                    queue.put_nowait(event)


class InProcessBus:
    def __init__(self, broadcaster: Broadcaster) -> None:
        self.broadcaster = broadcaster

    def commit(self, conn: Connection, tx: Any, events: list[QueueEvent]) -> None:
        """Commit, then hand the events to this process's subscribers."""
        tx.commit()
        self.broadcaster.deliver(events)

    async def run(self) -> None:
        """Nothing to listen to: events arrive through `commit`."""


class PostgresNotifyBus:
    def __init__(self, broadcaster: Broadcaster, database_url: str) -> None:
        self.broadcaster = broadcaster
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)

    def commit(self, conn: Connection, tx: Any, events: list[QueueEvent]) -> None:
        """A notification per event inside the transaction, then the commit: PostgreSQL
        delivers them only if the commit succeeds, to every listening process, this one
        included. (Sending them in one pipeline with the commit saved no measurable time and
        needs libpq 14, so they go one by one.)"""
        driver = conn.connection.dbapi_connection
        assert driver is not None
        with driver.cursor() as cursor:
            for event in events:
                cursor.execute("SELECT pg_notify(%s, %s)", (CHANNEL, event.to_json()))
        tx.commit()

    async def run(self) -> None:
        """LISTEN until cancelled, reconnecting after a lost connection."""
        backoff = 0.5
        while True:
            try:
                async for event in self._listen():
                    self.broadcaster.deliver([event])
                    backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", exc.__class__.__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _listen(self) -> AsyncIterator[QueueEvent]:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            async for notify in conn.notifies():
                try:
                    yield QueueEvent.from_json(notify.payload)
                except (ValueError, TypeError):
                    log.warning("ignored a malformed notification")


class TableTailBus:
    """For SQLite with several server processes: each process reads new rows of the ticket
    timeline every `interval` seconds and hands them to its subscribers, in id order. Events
    reach subscribers within one interval, whichever process made the change."""

    def __init__(self, broadcaster: Broadcaster, engine: Any, interval: float = 0.1) -> None:
        self.broadcaster = broadcaster
        self._engine = engine
        self.interval = interval

    def commit(self, conn: Connection, tx: Any, events: list[QueueEvent]) -> None:
        """Commit; the events are delivered by the tail, in order with other processes'."""
        tx.commit()

    def _read(self, after_id: int) -> list[QueueEvent]:
        from antrean.persistence.queue_store import events_after

        with self._engine.connect() as conn:
            return events_after(conn, after_id)

    async def run(self) -> None:
        from antrean.persistence.queue_store import last_event_id

        with self._engine.connect() as conn:
            last = last_event_id(conn)
        while True:
            await asyncio.sleep(self.interval)
            try:
                events = self._read(last)
            except Exception as exc:  # a locked or busy moment: try again next round
                log.warning("event tail read failed (%s)", exc.__class__.__name__)
                continue
            if events:
                last = events[-1].id
                self.broadcaster.deliver(events)


EventBus = InProcessBus | PostgresNotifyBus | TableTailBus

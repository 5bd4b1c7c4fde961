"""Event buses: how a committed change reaches subscribers in this and other processes.

`InProcessBus` hands events to this process's subscribers after commit. With
`PostgresNotifyBus` each stored event is also a `pg_notify` inside the transaction (PostgreSQL
delivers a notification only if the transaction commits, and in commit order) and every server
process LISTENs, so a change made through one process reaches subscribers of all of them.
`TableTailBus` (SQLite, several processes) reads new rows of the domain event table. Each
delivers to an `EventSink` (the process's broadcaster).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.engine import Connection, make_url

from antrean.domain.events import DomainEvent
from antrean.persistence.event_store import events_after, last_event_id
from antrean.persistence.protect import SealBroken
from antrean.services.providers import EventSink

log = logging.getLogger(__name__)
CHANNEL = "antrean_events"


class InProcessBus:
    def __init__(self, broadcaster: EventSink) -> None:
        self.broadcaster = broadcaster

    def commit(self, conn: Connection, tx: Any, events: list[DomainEvent]) -> None:
        """Commit, then hand the events to this process's subscribers."""
        tx.commit()
        self.broadcaster.deliver(events)

    async def run(self) -> None:
        """Nothing to listen to: events arrive through `commit`."""


class PostgresNotifyBus:
    channel = CHANNEL

    def __init__(self, broadcaster: EventSink, database_url: str) -> None:
        self.broadcaster = broadcaster
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)

    def commit(self, conn: Connection, tx: Any, events: list[DomainEvent]) -> None:
        """Commit. Each event's notification was sent by the statement that stored it (see
        `persistence.event_store`); PostgreSQL delivers them only if the commit succeeds, to
        every listening process, this one included."""
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

    async def _listen(self) -> AsyncIterator[DomainEvent]:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            async for notify in conn.notifies():
                try:
                    yield DomainEvent.from_json(notify.payload)
                except (ValueError, TypeError):
                    log.warning("ignored a malformed notification")


class TableTailBus:
    """For SQLite with several server processes: each process reads new domain events every
    `interval` seconds and hands them to its subscribers, in id order. Events
    reach subscribers within one interval, whichever process made the change."""

    def __init__(self, broadcaster: EventSink, engine: Any, interval: float = 0.1) -> None:
        self.broadcaster = broadcaster
        self._engine = engine
        self.interval = interval

    def commit(self, conn: Connection, tx: Any, events: list[DomainEvent]) -> None:
        """Commit; the events are delivered by the tail, in order with other processes'."""
        tx.commit()

    def _read(self, after_id: int) -> tuple[int, list[DomainEvent]]:
        with self._engine.connect() as conn:
            # The newest id first, then who follows what: a subscriber that comes after this
            # check starts from a snapshot read later, which holds every event up to `newest`.
            newest = last_event_id(conn)
            clinics, any_ticket = self.broadcaster.interest()
            if not clinics and not any_ticket:  # nobody follows anything: skip ahead
                return newest, []
            return events_after(conn, after_id, clinics=clinics, any_ticket=any_ticket)

    async def run(self) -> None:
        with self._engine.connect() as conn:
            last = last_event_id(conn)
        while True:
            await asyncio.sleep(self.interval)
            try:
                last, events = self._read(last)
            except SealBroken as exc:  # another process seals with keys this one lacks
                log.error("event tail cannot open an event: %s; do the servers share keys?", exc)
                continue
            except Exception as exc:  # a locked or busy moment: try again next round
                log.warning("event tail read failed (%s)", exc.__class__.__name__)
                continue
            if events:
                self.broadcaster.deliver(events)


EventBus = InProcessBus | PostgresNotifyBus | TableTailBus

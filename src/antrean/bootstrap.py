"""Composition root: builds the engine, unit-of-work factory, clock, event bus and the
implementations of what the services need from outside (passwords, tokens, phone numbers)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import anyio.to_thread

from antrean.config import Settings, resolve_secret
from antrean.domain.booking import BookingPolicy
from antrean.domain.common import Clock, SystemClock
from antrean.domain.identity import Actor
from antrean.domain.queue import QueuePolicy
from antrean.integrations.passwords import Argon2Passwords
from antrean.integrations.phones import PhonenumbersParser
from antrean.integrations.receipt_printer import EscposPrinter
from antrean.integrations.tokens import JwtAccessTokens
from antrean.live import Broadcaster
from antrean.persistence.batch import WriteBatcher
from antrean.persistence.engine import Database, create_database
from antrean.persistence.event_bus import EventBus, InProcessBus, PostgresNotifyBus, TableTailBus
from antrean.persistence.migrate import upgrade
from antrean.persistence.unit_of_work import SqlUnitOfWorkFactory
from antrean.services.ports import UnitOfWork

T = TypeVar("T")


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock
    uow_factory: SqlUnitOfWorkFactory
    tokens: JwtAccessTokens
    passwords: Argon2Passwords
    phones: PhonenumbersParser
    policy: BookingPolicy
    queue_policy: QueuePolicy
    broadcaster: Broadcaster
    bus: EventBus
    inline_db_calls: bool = True
    batcher: WriteBatcher | None = None
    printer: EscposPrinter = field(default_factory=EscposPrinter)
    # CPU-heavy use cases (password hashing) run here, never on an event loop: one thread
    # per core, so they use every core and the loop keeps answering meanwhile.
    cpu_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            max_workers=os.cpu_count() or 2, thread_name_prefix="antrean-cpu"
        )
    )

    def uow(self) -> UnitOfWork:
        return self.uow_factory()

    def anonymous(self) -> Actor:
        """Someone not signed in, in this server's facility."""
        return Actor.anonymous(self.settings.facility_id)

    def system(self) -> Actor:
        """The product itself, in this server's facility (start-up and daily jobs)."""
        return Actor.system(self.settings.facility_id)

    async def offload(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a use case that spends CPU (checking or making a password hash) on the CPU
        pool, so the event loop goes on serving other requests meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.cpu_pool, functools.partial(fn, *args, **kwargs))

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a (blocking) service call from async code, the way the database likes best.

        A local database (SQLite, or PostgreSQL on this host) answers in microseconds, so the
        call runs on the event loop: handing it to a thread would only add thread switches. A
        remote PostgreSQL runs it on the thread pool, so requests wait on the network together.
        See `Settings.inline_db_calls` (ANTREAN_DB_CALLS).
        """
        if self.inline_db_calls:
            return fn(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`call` for a use case that writes: with SQLite's group commit it joins the writes
        arriving at the same time in one transaction (see `persistence.batch`)."""
        if self.batcher is None or not self.inline_db_calls:
            return await self.call(fn, *args, **kwargs)
        result: T = await self.batcher.run(functools.partial(fn, *args, **kwargs))
        return result

    def close(self) -> None:
        self.cpu_pool.shutdown(wait=False, cancel_futures=True)
        self.db.dispose()


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = False) -> Container:
    db = create_database(
        settings.resolved_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
    )
    if migrate:
        upgrade(db.engine)
    clock = clock or SystemClock()
    broadcaster = Broadcaster()
    bus = _event_bus(settings, db, broadcaster)
    container = Container(
        settings=settings,
        db=db,
        clock=clock,
        uow_factory=SqlUnitOfWorkFactory(db, clock, bus),
        tokens=JwtAccessTokens(
            secret=resolve_secret(settings),
            clock=clock,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
        ),
        passwords=Argon2Passwords(),
        phones=PhonenumbersParser(),
        policy=settings.booking_policy(),
        queue_policy=settings.queue_policy(),
        broadcaster=broadcaster,
        bus=bus,
        inline_db_calls=settings.inline_db_calls,
        batcher=WriteBatcher(db, bus) if db.is_sqlite and settings.group_commit else None,
    )
    if migrate:
        ensure_facility(container)
    return container


def _event_bus(settings: Settings, db: Database, broadcaster: Broadcaster) -> EventBus:
    kind = settings.resolved_event_bus
    if kind == "postgres":
        return PostgresNotifyBus(broadcaster, settings.resolved_database_url)
    if kind == "tail":
        return TableTailBus(broadcaster, db.engine)
    return InProcessBus(broadcaster)


def ensure_facility(container: Container) -> None:
    s = container.settings
    uow = container.uow()
    with uow(write=True):
        uow.facilities.ensure(
            facility_id=s.facility_id,
            code=s.facility_code,
            name=s.facility_name,
            time_zone=s.time_zone,
            at=container.clock.now(),
        )
        uow.commit()

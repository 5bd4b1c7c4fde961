"""Composition root: builds the engine, unit-of-work factory, clock, event bus and the
implementations of what the services need from outside (passwords, tokens, phone numbers)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import anyio.to_thread

from antrean.config import Settings, data_keys_source, resolve_secret
from antrean.domain.booking import BookingPolicy
from antrean.domain.common import Clock, SystemClock
from antrean.domain.identity import Actor, SignInRules
from antrean.domain.notifications import Medium, QuietHours
from antrean.domain.queue import QueuePolicy
from antrean.integrations.email import SmtpChannel
from antrean.integrations.gateways import HttpGatewayChannel, WahaChannel
from antrean.integrations.message_parts import BabelFormats, BookingCalendar
from antrean.integrations.passwords import Argon2Passwords
from antrean.integrations.phones import PhonenumbersParser
from antrean.integrations.receipt_printer import EscposPrinter
from antrean.integrations.tokens import JwtAccessTokens
from antrean.integrations.totp import PyotpCodes
from antrean.integrations.whatsapp_cloud import CloudApiChannel
from antrean.live import Broadcaster
from antrean.persistence.batch import WriteBatcher
from antrean.persistence.engine import Database, create_database
from antrean.persistence.event_bus import EventBus, InProcessBus, PostgresNotifyBus, TableTailBus
from antrean.persistence.key_check import check_data_keys
from antrean.persistence.migrate import upgrade
from antrean.persistence.protect import Keyring, read_keys
from antrean.persistence.unit_of_work import SqlUnitOfWorkFactory
from antrean.services.booking import release_expired_holds
from antrean.services.delivery import Channel, Deliverer, DeliveryRules
from antrean.services.notifications import ReminderRule, run_reminders
from antrean.services.ports import UnitOfWork

if TYPE_CHECKING:
    from antrean.integrations.oidc import OpenIdProvider

T = TypeVar("T")
log = logging.getLogger("antrean.worker")


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock
    uow_factory: SqlUnitOfWorkFactory
    tokens: JwtAccessTokens
    passwords: Argon2Passwords
    one_time_codes: PyotpCodes
    phones: PhonenumbersParser
    policy: BookingPolicy
    queue_policy: QueuePolicy
    sign_in_rules: SignInRules
    broadcaster: Broadcaster
    bus: EventBus
    inline_db_calls: bool = True
    batcher: WriteBatcher | None = None
    printer: EscposPrinter = field(default_factory=EscposPrinter)
    # Staff single sign-on, when an OpenID provider is configured.
    identity_provider: OpenIdProvider | None = None
    # Set to have this process's message worker look at the outbox now (not at its next poll).
    worker_wake: threading.Event | None = None
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


def keyring(settings: Settings) -> Keyring:
    """The keys of patient data at rest (`persistence.protect`), as configured."""
    source = data_keys_source(settings)
    keys = read_keys(source, create=settings.environment != "production")
    return Keyring(keys, sealing=settings.data_encryption)


def open_database(settings: Settings) -> Database:
    """The configured database, its connections given the keys of patient data."""
    return create_database(
        settings.resolved_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
        keyring=keyring(settings),
    )


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = False) -> Container:
    db = open_database(settings)
    if migrate:
        upgrade(db.engine)
    check_data_keys(db.engine)  # before anything is written with keys not the database's
    clock = clock or SystemClock()
    broadcaster = Broadcaster()
    bus = _event_bus(settings, db, broadcaster)
    container = Container(
        settings=settings,
        db=db,
        clock=clock,
        uow_factory=SqlUnitOfWorkFactory(
            db, clock, bus, messages=settings.messages, audit=settings.audit
        ),
        tokens=JwtAccessTokens(
            secret=resolve_secret(settings),
            clock=clock,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
        ),
        passwords=Argon2Passwords(fast=settings.password_hashing == "fast"),
        one_time_codes=PyotpCodes(),
        phones=PhonenumbersParser(),
        policy=settings.booking_policy(),
        queue_policy=settings.queue_policy(),
        sign_in_rules=settings.sign_in_rules(),
        broadcaster=broadcaster,
        bus=bus,
        inline_db_calls=settings.inline_db_calls,
        batcher=WriteBatcher(db, bus) if db.is_sqlite and settings.group_commit else None,
        identity_provider=identity_provider(settings),
    )
    if migrate:
        ensure_facility(container)
    return container


def identity_provider(settings: Settings) -> OpenIdProvider | None:
    if not settings.single_sign_on:
        return None
    from antrean.integrations.oidc import OpenIdProvider, ProviderSettings  # only when used

    return OpenIdProvider(
        ProviderSettings(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            scopes=settings.oidc_scopes,
            username_claim=settings.oidc_username_claim,
            groups_claim=settings.oidc_groups_claim,
        )
    )


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


# --- Messages to patients ------------------------------------------------------------------


def build_channels(settings: Settings) -> list[Channel]:
    """The channels the settings turn on, at most one per medium."""
    s, timeout = settings, settings.channel_timeout_seconds
    found: list[Channel] = []
    if s.whatsapp == "cloud":
        found.append(
            CloudApiChannel(
                base_url=s.whatsapp_api_url,
                api_version=s.whatsapp_api_version,
                phone_number_id=s.whatsapp_phone_number_id,
                access_token=s.whatsapp_token,
                timeout=timeout,
            )
        )
    elif s.whatsapp == "waha":
        found.append(
            WahaChannel(
                base_url=s.waha_url,
                session=s.waha_session,
                api_key=s.waha_api_key or None,
                timeout=timeout,
            )
        )
    elif s.whatsapp == "gateway":
        found.append(_http_gateway(s, "wa_gateway"))
    if s.sms == "gateway":
        found.append(_http_gateway(s, "sms_gateway", medium=Medium.SMS, transport="sms"))
    if s.email == "smtp":
        found.append(
            SmtpChannel(
                host=s.smtp_host,
                port=s.smtp_port,
                security=s.smtp_security,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                sender=s.smtp_sender,
                timeout=timeout,
            )
        )
    return found


def _http_gateway(settings: Settings, prefix: str, **extra: Any) -> HttpGatewayChannel:
    """A WhatsApp or SMS gateway from its group of settings (`wa_gateway_*`, `sms_gateway_*`)."""

    def setting(name: str) -> Any:
        return getattr(settings, f"{prefix}_{name}")

    return HttpGatewayChannel(
        url=setting("url"),
        token=setting("token") or None,
        token_header=setting("token_header"),
        body_format=setting("format"),
        target_field=setting("target_field"),
        message_field=setting("message_field"),
        number_format=setting("number_format"),
        timeout=settings.channel_timeout_seconds,
        **extra,
    )


def build_deliverer(container: Container, channels: list[Channel] | None = None) -> Deliverer:
    s = container.settings
    order, by_kind = s.channel_orders()
    rules = DeliveryRules(
        public_url=s.resolved_public_url,
        time_zone=ZoneInfo(s.time_zone),
        order=order,
        order_by_kind=by_kind,
        retry=s.retry_policy(),
        lease=timedelta(seconds=s.worker_lease_seconds),
        batch=s.worker_batch,
        quiet=QuietHours.parse(s.quiet_hours),
        queue=container.queue_policy,
    )
    return Deliverer(
        container.uow_factory,
        build_channels(s) if channels is None else channels,
        rules,
        BabelFormats(),
        BookingCalendar(),
        container.phones,
        threads=s.worker_threads,
    )


class MessageWorker:
    """Delivers the outbox and runs the scheduled jobs (reminders) on a thread of its own:
    inside `antrean serve` (embedded) or as the whole of `antrean worker`."""

    def __init__(self, container: Container, deliverer: Deliverer | None = None) -> None:
        self.container = container
        self.deliverer = deliverer or build_deliverer(container)
        self.stop = threading.Event()
        self.wake = threading.Event()
        self._thread: threading.Thread | None = None
        s = container.settings
        self._reminders = ReminderRule(hour=s.reminder_hour, quiet=QuietHours.parse(s.quiet_hours))
        self._next_jobs = 0.0

    def run_jobs(self) -> None:
        """The scheduled jobs, when their time has come (each runs in one worker only)."""
        if time.monotonic() < self._next_jobs:
            return
        self._next_jobs = time.monotonic() + 30
        c = self.container
        run_reminders(
            c.uow(), actor=c.system(), tz=ZoneInfo(c.settings.time_zone), rule=self._reminders
        )
        release_expired_holds(c.uow(), actor=c.system())

    def run(self) -> None:
        """Until `stop` is set: `worker_lanes` rounds at a time, so one batch is read or
        recorded in the database while another is being sent (one patient's messages still
        go one at a time, in order: the claim sees to that). This thread also runs the jobs."""
        self._in_lanes(lambda n: self._lane(jobs=n == 0))

    def _in_lanes(self, lane: Callable[[int], None]) -> None:
        """`lane(n)` for each of the `worker_lanes` lanes: lane 0 on this thread, the others on
        threads of their own; returns when all have."""
        others = [
            threading.Thread(target=lane, args=(n,), name=f"antrean-worker-{n}", daemon=True)
            for n in range(1, self.container.settings.worker_lanes)
        ]
        for thread in others:
            thread.start()
        lane(0)
        for thread in others:
            thread.join()

    def _lane(self, jobs: bool = False) -> None:
        idle = self.container.settings.worker_idle_seconds
        while not self.stop.is_set():
            try:
                if jobs:
                    self.run_jobs()
                handled = self.deliverer.run_once()
            except Exception:  # the database away for a moment: log, and go on shortly
                log.exception("message worker round failed")
                handled = 0
            if handled:
                continue
            self.wake.wait(idle)
            self.wake.clear()

    def drain(self) -> int:
        """Deliver everything due now, in `worker_lanes` lanes, and return how many messages
        were handled (for benchmarks and tests; the jobs do not run)."""
        counts: list[int] = []

        def lane(_: int) -> None:
            handled = 0
            while done := self.deliverer.run_once():
                handled += done
            counts.append(handled)

        self._in_lanes(lane)
        return sum(counts)

    def start(self) -> MessageWorker:
        self._thread = threading.Thread(target=self.run, name="antrean-worker", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.deliverer.close()

"""Composition root: builds the engine, unit-of-work factory, clock and token service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from antrean.config import Settings, resolve_secret
from antrean.domain.booking import BookingPolicy
from antrean.domain.common import Clock, SystemClock
from antrean.persistence.engine import Database, create_database
from antrean.persistence.migrate import upgrade
from antrean.persistence.unit_of_work import SqlUnitOfWorkFactory
from antrean.services.identity import TokenService
from antrean.services.ports import UnitOfWork


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock
    uow_factory: SqlUnitOfWorkFactory
    tokens: TokenService
    policy: BookingPolicy

    def uow(self) -> UnitOfWork:
        return self.uow_factory()

    def close(self) -> None:
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
    container = Container(
        settings=settings,
        db=db,
        clock=clock,
        uow_factory=SqlUnitOfWorkFactory(db, clock),
        tokens=TokenService(
            secret=resolve_secret(settings),
            clock=clock,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
        ),
        policy=settings.booking_policy(),
    )
    if migrate:
        ensure_facility(container)
    return container


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

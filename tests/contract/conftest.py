"""One contract for every storage port, run on the in-memory fakes of `antrean.testing` and on
the real stores (SQLite and PostgreSQL): the fakes unit tests rely on cannot drift from what
the databases do."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from antrean.bootstrap import build
from antrean.services.ports import UnitOfWork
from antrean.testing import FakeUnitOfWork, FrozenClock

# The integration fixtures (templates, the PostgreSQL database) are shared.
from tests.integration.conftest import (  # noqa: F401
    FROZEN_AT,
    make_settings,
    pg_database,
    sqlite_template,
    truncate_pg,
)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(FROZEN_AT)


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
def uow(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> Iterator[UnitOfWork]:
    """A unit of work over an empty store with facilities 1 and 2."""
    if request.param == "fake":
        unit: UnitOfWork = FakeUnitOfWork(clock)
        container = None
    else:
        if request.param == "sqlite":
            path = tmp_path / "antrean.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("pg_database")
            truncate_pg(url)
        container = build(make_settings(url, tmp_path / "data"), clock=clock)
        unit = container.uow()
    with unit(write=True):
        for facility_id in (1, 2):
            unit.facilities.ensure(
                facility_id=facility_id,
                code=f"F{facility_id}",
                name=f"Klinik {facility_id}",
                time_zone="Asia/Jakarta",
                at=clock.now(),
            )
        unit.commit()
    yield unit
    if container is not None:
        container.close()

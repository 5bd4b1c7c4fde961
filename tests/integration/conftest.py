"""Every database test runs on SQLite and on PostgreSQL, with the schema made by the migrations.

PostgreSQL is found at ANTREAN_TEST_PG_URL (default: local server, user postgres, database test).
Where it cannot be reached the PostgreSQL cases skip with the reason, except under CI (CI=true),
where they fail: a skipped database suite must never pass silently there.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from antrean.bootstrap import Container, build, ensure_facility
from antrean.config import Settings
from antrean.domain.identity import Role, StaffAccountDraft
from antrean.http import create_app
from antrean.persistence.migrate import upgrade
from antrean.persistence.tables import metadata
from antrean.services.accounts import create_user
from antrean.testing import FrozenClock

PG_URL = os.environ.get("ANTREAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
JKT = ZoneInfo("Asia/Jakarta")
# Sunday 22 November 2026, 09:00 in Jakarta: Monday's slots are all bookable.
FROZEN_AT = datetime(2026, 11, 22, 9, 0, tzinfo=JKT)
SECRET = "integration-test-secret-" + "x" * 32


def _pg_unavailable() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: no PostgreSQL here
        return f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    reason = _pg_unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (PostgreSQL is required in CI)")
        pytest.skip(reason)
    with empty_pg_database("antrean_it") as url:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def empty_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database of its own, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def stored_rows(
    url_or_engine: str | Engine, leave_out: frozenset[str] = frozenset()
) -> dict[str, list[str]]:
    """Every row of every table as stored (sealed values as their text), but for the tables
    left out: two equal dumps mean no byte was written."""
    engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted(
                    repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table.name}"))
                )
                for table in metadata.sorted_tables
                if table.name not in leave_out
            }
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def truncate_pg(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "antrean.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    truncate_pg(url)
    return url


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A fresh, migrated, empty PostgreSQL database, for tests of PostgreSQL-only features."""
    truncate_pg(pg_database)
    return pg_database


LOCAL_CLIENT = ("127.0.0.1", 50000)


def make_settings(db_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "environment": "test",
        "secret_key": SECRET,
        "booking_cutoff_minutes": 60,
        # Tests that deliver messages run the worker themselves, step by step.
        "embedded_worker": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(FROZEN_AT)


@pytest.fixture
def container(db_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Container]:
    c = build(make_settings(db_url, tmp_path / "data"), clock=clock)
    ensure_facility(c)
    yield c
    c.close()


@dataclass
class Api:
    """A client for the in-process app, with helpers to sign in."""

    client: TestClient
    container: Container

    def login(self, username: str, password: str) -> dict[str, str]:
        r = self.client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def login_otp(
        self, username: str, secret: str, password: str = "staff-password-1"
    ) -> dict[str, str]:
        """Sign in with two-step sign-in on: the password and the app's current code."""
        code = pyotp.TOTP(secret).at(self.container.clock.now())
        r = self.client.post(
            "/api/v1/auth/token", data={"username": username, "password": password, "otp": code}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def patient(self, username: str, phone: str) -> dict[str, str]:
        """A patient who signed up over the API (password `patient-password-1`), signed in."""
        r = self.client.post(
            "/api/v1/auth/register",
            json={
                "username": username,
                "password": "patient-password-1",
                "name": username.title(),
                "birth_date": "1990-01-01",
                "sex": "female",
                "phone": phone,
            },
        )
        assert r.status_code == 201, r.text
        return self.login(username, "patient-password-1")

    def staff(self, username: str, roles: str) -> dict[str, str]:
        create_user(
            self.container.uow(),
            actor=self.container.system(),
            hasher=self.container.passwords,
            draft=StaffAccountDraft(
                username=username,
                password="staff-password-1",
                roles=frozenset(Role(r) for r in roles.split()),
                full_name=username.title(),
            ),
        )
        return self.login(username, "staff-password-1")


@contextmanager
def database_of_its_own(
    request: pytest.FixtureRequest, kind: str, directory: Path
) -> Iterator[str]:
    """A migrated, empty database of the kind for one module's shared world: no other test
    empties it meanwhile (on PostgreSQL, tests elsewhere share and truncate `pg_database`)."""
    if kind == "sqlite":
        path = directory / "antrean.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    request.getfixturevalue("pg_database")  # PostgreSQL is up (or: skipped here, failed in CI)
    with empty_pg_database("antrean_shared") as url:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def serving(url: str, data_dir: Path) -> Iterator[Api]:
    """The in-process app on the database, as the `api` fixture makes it."""
    c = build(make_settings(url, data_dir), clock=FrozenClock(FROZEN_AT))
    ensure_facility(c)
    try:
        app = create_app(c)
        with TestClient(app, raise_server_exceptions=False, client=LOCAL_CLIENT) as client:
            yield Api(client, c)
    finally:
        c.close()


@pytest.fixture
def api(container: Container) -> Iterator[Api]:
    # A client on this machine, as the clinic's own systems are (XML-RPC answers only those).
    app = create_app(container)
    with TestClient(app, raise_server_exceptions=False, client=LOCAL_CLIENT) as client:
        yield Api(client, container)


@pytest.fixture
def admin(api: Api) -> dict[str, str]:
    return api.staff("admin", "admin")


@pytest.fixture
def clinic_setup(api: Api, admin: dict[str, str]) -> dict[str, int]:
    """One clinic open Monday to Saturday 07-16, one doctor on weekdays 08-12, 30-minute slots."""
    return open_clinic(api, admin)


def open_clinic(api: Api, admin: dict[str, str]) -> dict[str, int]:
    """`clinic_setup`, made over the API."""
    r = api.client.post(
        "/api/v1/clinics",
        headers=admin,
        json={
            "code": "UMUM",
            "name": "Poli Umum",
            "queue_prefix": "A",
            "hours": [{"weekday": d, "opens": "07:00", "closes": "16:00"} for d in range(6)],
        },
    )
    assert r.status_code == 201, r.text
    clinic_id = r.json()["id"]
    r = api.client.post(
        "/api/v1/doctors", headers=admin, json={"name": "dr. Andi", "specialty": "Umum"}
    )
    doctor_id = r.json()["id"]
    for weekday in range(5):
        r = api.client.post(
            "/api/v1/schedules",
            headers=admin,
            json={
                "doctor_id": doctor_id,
                "clinic_id": clinic_id,
                "weekday": weekday,
                "start": "08:00",
                "end": "12:00",
                "slot_minutes": 30,
                "capacity": 2,
            },
        )
        assert r.status_code == 201, r.text
    r = api.client.post(
        "/api/v1/services",
        headers=admin,
        json={"clinic_id": clinic_id, "name": "Pemeriksaan umum", "duration_minutes": 15},
    )
    return {"clinic_id": clinic_id, "doctor_id": doctor_id, "service_id": r.json()["id"]}


MONDAY = FROZEN_AT.date() + timedelta(days=1)
EIGHT = time(8)

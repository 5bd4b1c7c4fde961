"""The migrations build exactly the tables the code expects; the command line works end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, select

from antrean.config import InsecureSecret, Settings, resolve_secret
from antrean.persistence import tables as t
from antrean.persistence.migrate import current_revision, head_revision
from tests.integration.conftest import SECRET


def test_migrations_match_the_tables(db_url):
    engine = create_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    engine.dispose()
    assert diff == []


def _cli(db_url: str, tmp_path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANTREAN_DATABASE_URL": db_url,
        "ANTREAN_DATA_DIR": str(tmp_path / "d"),
        "ANTREAN_SECRET_KEY": SECRET,
        "ANTREAN_ENVIRONMENT": "test",
        "COLUMNS": "120",
    }
    return subprocess.run(
        [sys.executable, "-m", "antrean", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_upgrade_admin_demo_and_slots(db_url, tmp_path):
    r = _cli(db_url, tmp_path, "db", "upgrade")
    assert r.returncode == 0, r.stderr
    assert head_revision() in r.stdout
    r = _cli(
        db_url, tmp_path, "create-admin", "--username", "kepala", "--password", "sangat-rahasia-1"
    )
    assert r.returncode == 0, r.stderr
    r = _cli(
        db_url, tmp_path, "create-admin", "--username", "kepala", "--password", "sangat-rahasia-1"
    )
    assert r.returncode == 1 and "already taken" in r.stdout
    r = _cli(db_url, tmp_path, "demo", "--patients", "40")
    assert r.returncode == 0, r.stderr
    assert "7 clinics, 10 doctors, 40 patients" in r.stdout
    assert "open around the clock" in r.stdout
    engine = create_engine(db_url)
    with engine.connect() as conn:
        clinics = conn.execute(select(t.clinic.c.name)).scalars().all()
        doctors = conn.execute(select(func.count()).select_from(t.doctor)).scalar_one()
        slots = conn.execute(select(func.count()).select_from(t.slot)).scalar_one()
        booked = conn.execute(select(func.count()).select_from(t.appointment)).scalar_one()
    assert {"Poli Umum", "Poli Gigi", "Poli Anak", "Poli Kandungan", "Poli Penyakit Dalam"} <= set(
        clinics
    )
    assert doctors == 10 and slots > 1000 and booked > 40
    r = _cli(db_url, tmp_path, "demo")
    assert r.returncode == 0 and "already has clinics" in r.stdout
    r = _cli(db_url, tmp_path, "generate-slots")
    assert r.returncode == 0 and "created 0" in r.stdout
    r = _cli(db_url, tmp_path, "close-day")
    assert r.returncode == 0 and "tickets: 0 no-shows" in r.stdout
    engine.dispose()


def test_secret_is_generated_once_and_kept(tmp_path):
    settings = Settings(data_dir=tmp_path, secret_key=None)
    first = resolve_secret(settings)
    assert len(first) >= 32 and resolve_secret(settings) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("weak", ["changeme", "short-secret", "secret"])
def test_weak_secret_is_refused_outside_development(tmp_path, weak):
    with pytest.raises(InsecureSecret):
        resolve_secret(
            Settings(
                data_dir=tmp_path,
                secret_key=weak,
                environment="production",
                password_hashing="standard",  # not the suite's own cheap hashing
            )
        )
    assert resolve_secret(Settings(data_dir=tmp_path, secret_key=weak)) == weak


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANTREAN_TIME_ZONE", "Asia/Makassar")
    monkeypatch.setenv("ANTREAN_BOOKING_HORIZON_DAYS", "14")
    monkeypatch.setenv("ANTREAN_DATA_DIR", str(tmp_path))
    s = Settings()
    assert (
        s.booking_policy().horizon_days == 14
        and str(s.booking_policy().time_zone) == "Asia/Makassar"
    )
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'antrean.db'}"
    monkeypatch.setenv("ANTREAN_TIME_ZONE", "Mars/Olympus")
    with pytest.raises(ValueError):
        Settings()


@pytest.mark.parametrize(
    ("url", "mode", "inline"),
    [
        (None, "auto", True),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/x", "auto", True),
        ("postgresql+psycopg://postgres@db.internal:5432/x", "auto", False),
        ("postgresql+psycopg://postgres@db.internal:5432/x", "inline", True),
        ("sqlite:///x.db", "threads", False),
    ],
)
def test_database_calls_run_inline_only_for_a_local_database(tmp_path, url, mode, inline):
    s = Settings(data_dir=tmp_path, database_url=url, db_calls=mode)
    assert s.inline_db_calls is inline


@pytest.mark.parametrize(
    ("url", "workers", "bus"),
    [
        (None, 1, "in-process"),
        (None, 2, "tail"),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/x", 1, "postgres"),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/x", 4, "postgres"),
    ],
)
def test_event_bus_fits_the_deployment(tmp_path, url, workers, bus):
    s = Settings(data_dir=tmp_path, database_url=url, workers=workers)
    assert s.resolved_event_bus == bus

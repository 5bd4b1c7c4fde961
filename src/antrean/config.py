"""Settings from the environment (prefix ANTREAN_) and an optional .env file. Built at start-up."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from antrean.domain.booking import BookingPolicy
from antrean.domain.queue import QueuePolicy

WEAK_SECRETS = {"", "secret", "changeme", "change-me", "dev", "development", "antrean", "password"}
MIN_SECRET_LENGTH = 32
LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}

# The accounts `antrean demo` creates: (role, username, password). The sign-in page lists
# them while the server runs in development, so a newcomer knows how to get in.
DEMO_ACCOUNTS = (
    ("admin", "admin", "admin-demo-123"),
    ("operator", "operator", "operator-demo-123"),
    ("doctor", "dokter", "dokter-demo-123"),
    ("patient", "pasien", "pasien-demo-123"),
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANTREAN_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_calls: Literal["auto", "inline", "threads"] = "auto"
    # SQLite: writes that arrive together share one transaction and one disk flush
    # (persistence/batch.py). Off: one transaction per request.
    group_commit: bool = True
    event_bus: Literal["auto", "in-process", "postgres", "tail"] = "auto"

    facility_id: int = 1
    facility_code: str = "MAIN"
    facility_name: str = "Klinik Antrean"
    time_zone: str = "Asia/Jakarta"
    booking_horizon_days: int = Field(default=30, ge=1, le=365)
    booking_cutoff_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    max_appointments_per_patient_clinic_day: int = Field(default=1, ge=1, le=20)

    queue_aging_minutes: int = Field(default=60, ge=1, le=24 * 60)
    queue_max_recalls: int = Field(default=3, ge=1, le=20)
    queue_late_grace_minutes: int = Field(default=15, ge=0, le=24 * 60)

    secret_key: str | None = None
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "info"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'antrean.db').resolve()}"

    @property
    def inline_db_calls(self) -> bool:
        """Run database calls on the event loop (local database) or on threads (remote one).

        On the event loop a call costs no thread switches, which wins while each round trip
        takes microseconds (SQLite, or PostgreSQL on this machine); a process then works on one
        request's database calls at a time, so scale with processes. Across a network, round
        trips take long enough that overlapping them on threads wins.
        """
        if self.db_calls != "auto":
            return self.db_calls == "inline"
        url = make_url(self.resolved_database_url)
        return url.get_backend_name() == "sqlite" or url.host in LOCAL_HOSTS

    @property
    def resolved_event_bus(self) -> str:
        """PostgreSQL: LISTEN/NOTIFY. SQLite: in-process with one server process, else the
        timeline tail, which every process reads."""
        if self.event_bus != "auto":
            return self.event_bus
        if make_url(self.resolved_database_url).get_backend_name() != "sqlite":
            return "postgres"
        return "in-process" if self.workers == 1 else "tail"

    def queue_policy(self) -> QueuePolicy:
        return QueuePolicy(
            aging=timedelta(minutes=self.queue_aging_minutes),
            max_recalls=self.queue_max_recalls,
            late_grace=timedelta(minutes=self.queue_late_grace_minutes),
        )

    def booking_policy(self) -> BookingPolicy:
        return BookingPolicy(
            time_zone=ZoneInfo(self.time_zone),
            horizon_days=self.booking_horizon_days,
            cutoff_minutes=self.booking_cutoff_minutes,
            max_per_patient_clinic_day=self.max_appointments_per_patient_clinic_day,
        )


class InsecureSecret(RuntimeError):
    pass


def resolve_secret(settings: Settings) -> str:
    """The signing secret: given, or generated once and kept in the data directory.

    Outside development a weak or short secret is refused, so tokens cannot be forged.
    """
    if settings.secret_key is not None:
        key = settings.secret_key
        weak = key.strip().lower() in WEAK_SECRETS or len(key) < MIN_SECRET_LENGTH
        if weak and not settings.is_development:
            raise InsecureSecret(
                f"ANTREAN_SECRET_KEY is weak: use at least {MIN_SECRET_LENGTH} random characters"
            )
        return key
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key

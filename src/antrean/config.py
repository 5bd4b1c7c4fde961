"""Settings from the environment (prefix ANTREAN_) and an optional .env file. Built at start-up."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from antrean.domain.booking import BookingPolicy
from antrean.domain.identity import SignInRules, SingleSignOnRules, parse_role_map
from antrean.domain.notifications import Medium, MessageKind, QuietHours, RetryPolicy
from antrean.domain.queue import QueuePolicy
from antrean.edge import PRIVATE_NETWORKS, parse_networks

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
    # Failed sign-ins (domain.identity.SignInRules): free tries per account name before each
    # next one waits twice as long, the failures that lock it (until an admin unlocks it or
    # the lock's minutes pass), and free tries per client address.
    signin_free_failures: int = Field(default=5, ge=1, le=100)
    signin_lock_after: int = Field(default=10, ge=2, le=1000)
    signin_lock_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    signin_address_free_failures: int = Field(default=20, ge=1, le=10_000)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "info"

    # --- The edge of the server (docs/security.md) -----------------------------------------
    # TLS: the server speaks HTTPS itself when given a certificate and its key (PEM files).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # The largest request body the API and the pages take (XML-RPC and webhooks have their own).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    # Who may call XML-RPC at /RPC2: networks or addresses, comma-separated, or "any".
    rpc_networks: str = PRIVATE_NETWORKS
    # `antrean backup` / `restore`: the key (32 bytes, base64; `antrean backup --new-key`), or a
    # file holding it. Never stored in the database.
    backup_key: str = ""
    backup_key_file: Path | None = None
    # Patient data at rest (docs/security.md): the keys that seal personal fields, as
    # `id=base64key` entries (the first seals, all open) plus `index=base64key` for the blind
    # indexes, given here or in a file (one entry per line). Outside production, a key file is
    # made in the data directory when neither is given. `data_encryption=false` stores plain
    # values, for measuring what sealing costs; it is refused in production.
    data_keys: str = ""
    data_keys_file: Path | None = None
    data_encryption: bool = True
    # The audit log (docs/security.md): every read of patient data, change and admin action.
    # `audit=false` records nothing, for measuring what it costs; refused in production.
    audit: bool = True
    # "fast": argon2id at its lowest cost, for test suites that sign in thousands of times;
    # refused in production. Hashes of either kind verify under both.
    password_hashing: Literal["standard", "fast"] = "standard"
    # Staff single sign-on over OpenID Connect (docs/security.md): off while the issuer is
    # empty. The provider's issuer URL, this server's client id and secret there, the claim
    # holding the username and the one listing groups (a dotted path reaches nested claims,
    # e.g. realm_access.roles), which groups give which staff roles (`group=role, ...`), and
    # whether a first sign-in makes the account. The sign-in button carries `oidc_label`.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile email"
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    oidc_role_map: str = ""
    oidc_create_accounts: bool = True
    oidc_label: str = ""
    # Web origins (https://app.example) whose pages may call the API from a browser.
    cors_origins: list[str] = Field(default_factory=list)

    # --- Messages to patients (docs/messages.md) ------------------------------------------
    # Off: changes queue no messages at all. On with no channel set up, messages are queued and
    # marked skipped ("no_channel") so staff see what would have gone out.
    messages: bool = True
    # Where links in messages point: the address patients reach this server at.
    public_url: str = ""
    # Which medium to try first, then next (a medium needs a channel set up below).
    channel_order: str = "whatsapp,sms,email"
    # Per message kind, e.g. {"ticket_called": "whatsapp,sms"} (JSON).
    channel_order_by_kind: dict[str, str] = Field(default_factory=dict)
    # The worker: inside `antrean serve` (embedded) or as `antrean worker` processes only.
    embedded_worker: bool = True
    worker_batch: int = Field(default=50, ge=1, le=1000)
    worker_threads: int = Field(default=8, ge=1, le=256)
    worker_lanes: int = Field(default=2, ge=1, le=16)
    worker_idle_seconds: float = Field(default=1.0, gt=0, le=60)
    worker_lease_seconds: int = Field(default=90, ge=10, le=3600)
    message_max_tries: int = Field(default=10, ge=1, le=50)
    message_first_retry_seconds: float = Field(default=5.0, gt=0, le=3600)
    message_max_retry_seconds: float = Field(default=600.0, gt=0, le=86400)
    reminder_hour: int = Field(default=17, ge=0, le=23)
    quiet_hours: str = "21:00-07:00"
    turn_near_places: int = Field(default=3, ge=0, le=50)
    turn_near_minutes: int = Field(default=15, ge=0, le=600)
    # WhatsApp: "cloud" (Meta's Cloud API), "waha" (self-hosted WAHA), "gateway" (a rented
    # HTTP gateway such as Fonnte or Wablas), or "off".
    whatsapp: Literal["off", "cloud", "waha", "gateway"] = "off"
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v23.0"
    whatsapp_phone_number_id: str = ""
    whatsapp_token: str = ""
    whatsapp_app_secret: str = ""  # signs the webhooks Meta sends (X-Hub-Signature-256)
    whatsapp_verify_token: str = ""  # the webhook handshake (hub.verify_token)
    waha_url: str = "http://127.0.0.1:3000"
    waha_session: str = "default"
    waha_api_key: str = ""
    waha_webhook_key: str = ""  # HMAC key of WAHA's webhooks (X-Webhook-Hmac)
    # A generic HTTP gateway for WhatsApp (whatsapp=gateway) and one for SMS (sms=gateway).
    wa_gateway_url: str = ""
    wa_gateway_token: str = ""
    wa_gateway_token_header: str = "Authorization"
    wa_gateway_format: Literal["form", "json"] = "form"
    wa_gateway_target_field: str = "target"
    wa_gateway_message_field: str = "message"
    wa_gateway_number_format: Literal["62", "0", "+62"] = "62"
    sms: Literal["off", "gateway"] = "off"
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""
    sms_gateway_token_header: str = "Authorization"
    sms_gateway_format: Literal["form", "json"] = "form"
    sms_gateway_target_field: str = "to"
    sms_gateway_message_field: str = "message"
    sms_gateway_number_format: Literal["62", "0", "+62"] = "+62"
    # A shared secret the gateways' webhooks carry (?token= or X-Webhook-Token).
    gateway_webhook_token: str = ""
    email: Literal["off", "smtp"] = "off"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_sender: str = "klinik@localhost"
    channel_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("rpc_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("TLS needs both ANTREAN_TLS_CERT_FILE and ANTREAN_TLS_KEY_FILE")
        for path in (self.tls_cert_file, self.tls_key_file):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file not found: {path}")
        return self

    @model_validator(mode="after")
    def _sealing_in_production(self) -> Settings:
        if not self.data_encryption and self.environment == "production":
            raise ValueError("ANTREAN_DATA_ENCRYPTION=false is refused in production")
        if not self.audit and self.environment == "production":
            raise ValueError("ANTREAN_AUDIT=false is refused in production")
        if self.password_hashing == "fast" and self.environment == "production":
            raise ValueError("ANTREAN_PASSWORD_HASHING=fast is refused in production")
        return self

    @model_validator(mode="after")
    def _single_sign_on(self) -> Settings:
        if not self.oidc_issuer:
            return self
        issuer = urlsplit(self.oidc_issuer)
        loopback = issuer.hostname in LOCAL_HOSTS - {None, ""}
        if issuer.scheme != "https" and not (issuer.scheme == "http" and loopback):
            raise ValueError("ANTREAN_OIDC_ISSUER must be an https:// URL")
        if len(self.oidc_issuer) > 255 or issuer.query or issuer.fragment:
            raise ValueError("ANTREAN_OIDC_ISSUER is a URL of at most 255 characters, no query")
        if not self.oidc_client_id or not self.oidc_client_secret:
            raise ValueError("single sign-on needs ANTREAN_OIDC_CLIENT_ID and _CLIENT_SECRET")
        if "openid" not in self.oidc_scopes.split():
            raise ValueError("ANTREAN_OIDC_SCOPES must include openid")
        if not parse_role_map(self.oidc_role_map):
            raise ValueError("single sign-on needs ANTREAN_OIDC_ROLE_MAP (group=role, ...)")
        return self

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map(cls, value: str) -> str:
        parse_role_map(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @field_validator("channel_order")
    @classmethod
    def _known_media(cls, value: str) -> str:
        _media(value)
        return value

    @field_validator("channel_order_by_kind")
    @classmethod
    def _known_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, order in value.items():
            try:
                MessageKind(kind)
            except ValueError:
                raise ValueError(f"unknown message kind {kind!r}") from None
            _media(order)
        return value

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

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def channel_orders(self) -> tuple[tuple[Medium, ...], dict[MessageKind, tuple[Medium, ...]]]:
        return _media(self.channel_order), {
            MessageKind(kind): _media(order) for kind, order in self.channel_order_by_kind.items()
        }

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_tries=self.message_max_tries,
            first_delay=self.message_first_retry_seconds,
            max_delay=self.message_max_retry_seconds,
        )

    def queue_policy(self) -> QueuePolicy:
        return QueuePolicy(
            aging=timedelta(minutes=self.queue_aging_minutes),
            max_recalls=self.queue_max_recalls,
            late_grace=timedelta(minutes=self.queue_late_grace_minutes),
            turn_near_places=self.turn_near_places,
            turn_near_minutes=self.turn_near_minutes,
        )

    @property
    def single_sign_on(self) -> bool:
        return bool(self.oidc_issuer)

    def single_sign_on_rules(self) -> SingleSignOnRules:
        return SingleSignOnRules(
            role_map=parse_role_map(self.oidc_role_map),
            create_accounts=self.oidc_create_accounts,
        )

    def sign_in_rules(self) -> SignInRules:
        return SignInRules(
            free_failures=self.signin_free_failures,
            lock_after=self.signin_lock_after,
            lock_minutes=self.signin_lock_minutes,
            address_free_failures=self.signin_address_free_failures,
        )

    def booking_policy(self) -> BookingPolicy:
        return BookingPolicy(
            time_zone=ZoneInfo(self.time_zone),
            horizon_days=self.booking_horizon_days,
            cutoff_minutes=self.booking_cutoff_minutes,
            max_per_patient_clinic_day=self.max_appointments_per_patient_clinic_day,
        )


def _media(order: str) -> tuple[Medium, ...]:
    names = [name.strip().lower() for name in order.split(",") if name.strip()]
    try:
        media = tuple(dict.fromkeys(Medium(name) for name in names))
    except ValueError:
        raise ValueError("channels are whatsapp, sms and email, separated by commas") from None
    if not media:
        raise ValueError("name at least one of whatsapp, sms, email")
    return media


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


class MissingDataKeys(RuntimeError):
    pass


def data_keys_source(settings: Settings) -> str | Path:
    """Where the keys of patient data are: their text (given in the environment) or a file.

    Outside production the file defaults to `data_keys` in the data directory, made on first
    use, so the demo and tests run sealed too; in production keys must be given, kept apart
    from the data.
    """
    if settings.data_keys:
        return settings.data_keys
    if settings.data_keys_file is not None:
        return settings.data_keys_file
    if settings.environment == "production":
        raise MissingDataKeys(
            "ANTREAN_DATA_KEYS or ANTREAN_DATA_KEYS_FILE is required in production: make a key "
            "list with `antrean keys new` and keep it apart from the database and its backups"
        )
    return settings.data_dir / "data_keys"

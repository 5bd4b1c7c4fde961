"""The `antrean` command."""

from __future__ import annotations

import getpass
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from antrean.config import InsecureSecret, Settings

if TYPE_CHECKING:
    from antrean.bootstrap import Container

app = typer.Typer(help="antrean: appointment booking and patient queue.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
keys_app = typer.Typer(help="The keys that seal patient data at rest.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()


def _settings() -> Settings:
    return Settings()


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (ANTREAN_HOST)"),
    port: int = typer.Option(None, help="Port (ANTREAN_PORT)"),
    workers: int = typer.Option(None, help="Server processes (ANTREAN_WORKERS)"),
) -> None:
    """Run the web server (REST API, docs). The embedded SQLite database is upgraded first."""
    import uvicorn

    from antrean.server import NoDelayHttpToolsProtocol, serve_processes

    settings = _settings()
    _prepare_to_serve(settings)
    # Server processes read their settings from the environment: tell them how many there are.
    count = workers or settings.workers
    os.environ["ANTREAN_WORKERS"] = str(count)
    options: dict[str, Any] = {
        "app": "antrean.http:create",
        "factory": True,
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": settings.log_level,
        "access_log": False,
        # The standard asyncio loop, not uvloop: under full load uvloop starved some
        # connections (booking p99 above 1 s against about 120 ms with asyncio; see
        # docs/benchmarks.md). httptools still parses HTTP in C.
        "loop": "asyncio",
        "http": NoDelayHttpToolsProtocol,
    }
    if settings.tls_cert_file is not None:
        options["ssl_certfile"] = str(settings.tls_cert_file)
        options["ssl_keyfile"] = str(settings.tls_key_file)
    if count > 1 and sys.platform.startswith("linux"):
        # A listening socket per process, so connections spread evenly (see serve_processes);
        # elsewhere SO_REUSEPORT does not balance, and uvicorn's shared socket is used.
        code = serve_processes(options, count)
        if code:
            raise typer.Exit(code)
        return
    uvicorn.run(**options, workers=count)


def _prepare_to_serve(settings: Settings) -> None:
    """Before the server processes start: the schema (SQLite upgrades itself), the facility,
    the slot horizon and the closing of earlier days."""
    from antrean.bootstrap import build, ensure_facility
    from antrean.config import MissingDataKeys
    from antrean.persistence.key_check import WrongKeys
    from antrean.persistence.migrate import current_revision, head_revision
    from antrean.persistence.protect import BadKeys

    try:
        container = build(settings, migrate=settings.resolved_database_url.startswith("sqlite"))
    except (InsecureSecret, MissingDataKeys, BadKeys, WrongKeys) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if current_revision(container.db.engine) != head_revision():
        console.print("[red]The database schema is not current: run `antrean db upgrade`.[/red]")
        raise typer.Exit(2)
    ensure_facility(container)
    _extend_slots(container)
    _close_past_days(container)
    container.close()


def _at_start(container: Container, what: str, job: Callable[..., Any]) -> Any:
    """Run a daily job once at start. Another process starting at the same moment may win the
    race; that is reported and the server starts all the same."""
    try:
        return job(container.uow(), actor=container.system(), policy=container.policy)
    except Exception as exc:
        console.print(f"[yellow]{what} not done at start: {exc.__class__.__name__}[/yellow]")
        return None


def _extend_slots(container: Container) -> None:
    """Roll the booking horizon forward on start (also run `antrean generate-slots` daily)."""
    from antrean.services.scheduling import generate_facility_slots

    report = _at_start(container, "Slot generation", generate_facility_slots)
    if report is not None and report.created:
        console.print(f"Slots extended: {report.created} new")


def _close_past_days(container: Container) -> None:
    """End earlier queue days on start (also run `antrean close-day` nightly)."""
    from antrean.services.queue_actions import close_past_days

    _at_start(container, "Closing earlier days", close_past_days)


@app.command()
def worker() -> None:
    """Deliver messages to patients and run the scheduled jobs (reminders) until stopped.

    `antrean serve` runs one inside it already; run this on other machines or processes (set
    ANTREAN_EMBEDDED_WORKER=false on the servers then). Several may run at once on
    PostgreSQL: they share the work and never send a message twice."""
    import signal
    import threading

    from antrean.bootstrap import MessageWorker, build

    settings = _settings()
    container = build(settings)
    job = MessageWorker(container)
    stop = threading.Event()

    def _stop(*_: object) -> None:
        job.stop.set()
        job.wake.set()
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    channels = ", ".join(f"{c.medium.value}={c.transport}" for c in job.deliverer.channels.values())
    console.print(f"Worker started; channels: {channels or 'none (messages are skipped)'}")
    job.run()
    job.deliverer.close()
    container.close()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the schema migrations (SQLite or PostgreSQL)."""
    from antrean.bootstrap import open_database
    from antrean.persistence.migrate import current_revision, upgrade

    settings = _settings()
    db = open_database(settings)
    upgrade(db.engine, revision)
    console.print(f"Database at revision [bold]{current_revision(db.engine)}[/bold]")
    db.dispose()


@app.command("backup")
def backup_command(
    output: Path = typer.Argument(
        None, help="Where to write it (default: DATA_DIR/backups/antrean-<time>.backup)"
    ),
    new_key: bool = typer.Option(False, "--new-key", help="Print a new backup key and stop"),
) -> None:
    """An encrypted backup of the whole database, taken while the server keeps running. The
    key comes from ANTREAN_BACKUP_KEY or ANTREAN_BACKUP_KEY_FILE."""
    from antrean.backup import BackupError, backup

    if new_key:
        from antrean.backup import new_key as make_key

        print(make_key())
        return
    settings = _settings()
    try:
        key = _backup_key(settings)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        target = output or settings.data_dir / "backups" / f"antrean-{stamp}.backup"
        start = time.perf_counter()
        size = backup(settings.resolved_database_url, target, key)
    except BackupError as exc:
        console.print(f"[red]Backup failed:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"Backup written to [bold]{target}[/bold] "
        f"({size / 1_048_576:.1f} MiB in {time.perf_counter() - start:.1f} s)"
    )


@app.command("restore")
def restore_command(
    source: Path = typer.Argument(..., exists=True, dir_okay=False, help="The backup file"),
    force: bool = typer.Option(False, "--force", help="Replace a database that holds data"),
) -> None:
    """Put a backup back in place of the database (stop the servers first). Every part of the
    file is checked before the database is touched."""
    from antrean.backup import BackupError, restore

    settings = _settings()
    try:
        header = restore(settings.resolved_database_url, source, _backup_key(settings), force=force)
    except BackupError as exc:
        console.print(f"[red]Restore failed:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"Restored the {header.database} backup made at {header.created_at}.")


def _backup_key(settings: Settings) -> bytes:
    from antrean.backup import BackupError, load_key

    if settings.backup_key:
        return load_key(settings.backup_key)
    if settings.backup_key_file is not None:
        try:
            return load_key(settings.backup_key_file.read_text())
        except OSError as exc:
            raise BackupError(f"Cannot read the backup key file: {exc}") from None
    raise BackupError(
        "Set ANTREAN_BACKUP_KEY or ANTREAN_BACKUP_KEY_FILE (make a key with "
        "`antrean backup --new-key` and keep it apart from the backups)."
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk every chain of the audit log from its first entry; name the first entry that was
    altered, removed or inserted. Exit status 1 when one was."""
    from antrean.bootstrap import keyring, open_database
    from antrean.persistence.audit_store import SqlAudit

    settings = _settings()
    _keyring(settings, keyring)
    db = open_database(settings)
    broken = 0
    try:
        with db.engine.connect() as conn:
            log = SqlAudit(conn)
            facilities = log.facilities()
            for facility_id in facilities:
                for report in log.verify(facility_id):
                    where = f"facility {facility_id}, chain {report.chain}"
                    if report.broken is None:
                        console.print(
                            f"{where}: {report.entries} entries, intact "
                            f"(head {report.head_seq}: {report.head_hash[:16]})"
                        )
                    else:
                        broken += 1
                        console.print(f"[red]{where}: {report.broken.message}[/red]")
    finally:
        db.dispose()
    if not facilities:
        console.print("The audit log is empty.")
    if broken:
        raise typer.Exit(1)
    console.print("Every chain holds.")


@keys_app.command("new")
def keys_new(
    key_id: str = typer.Option(
        None, "--id", help="Print only a new data key with this id, to put first in the list"
    ),
) -> None:
    """Print a new key list (a data key and the index key) for ANTREAN_DATA_KEYS_FILE."""
    from antrean.persistence.protect import BadKeys, new_key, new_key_list, parse_keys

    if key_id is None:
        print(new_key_list(), end="")
        return
    line = f"{key_id}={new_key()}"
    try:
        parse_keys(f"{line}\nindex={new_key()}")
    except BadKeys as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    print(line)


@keys_app.command("status")
def keys_status() -> None:
    """How many stored values each data key sealed."""
    from antrean.bootstrap import keyring, open_database
    from antrean.persistence.key_rotation import key_usage

    settings = _settings()
    ring = _keyring(settings, keyring)
    db = open_database(settings)
    try:
        usage = key_usage(db, ring)
    finally:
        db.dispose()
    for key_id, count in usage.by_key.items():
        mark = " (seals new values)" if key_id == ring.current else ""
        console.print(f"key {key_id}: {count} values{mark}")
    if usage.unknown:
        console.print(f"[red]{usage.unknown} values sealed with a key not in the list[/red]")
    stale = usage.not_current(ring.current)
    console.print(
        "Every value is sealed with the current key."
        if not stale
        else f"{stale} values to move: run `antrean keys rotate`."
    )


@keys_app.command("rotate")
def keys_rotate(
    batch: int = typer.Option(500, min=1, max=10_000, help="Rows per transaction"),
) -> None:
    """Seal every stored value again with the first key of the list, while the server keeps
    serving. Put the new key first, restart the servers, run this; then the old key can go."""
    from rich.progress import Progress

    from antrean.bootstrap import keyring, open_database
    from antrean.persistence.key_rotation import key_usage, rotate, total_rows

    settings = _settings()
    ring = _keyring(settings, keyring)
    db = open_database(settings)
    try:
        with Progress(console=console) as bar:
            task = bar.add_task(f"Sealing with key {ring.current}", total=total_rows(db))
            moved = rotate(db, ring, batch=batch, progress=lambda n: bar.advance(task, n))
        left = key_usage(db, ring).not_current(ring.current)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    console.print(f"{moved} values sealed again with key {ring.current}.")
    if left:
        console.print(
            f"[red]{left} values still use another key:[/red] a server still seals with an old "
            "key list. Restart every server with the new list and run this again."
        )
        raise typer.Exit(1)
    console.print("No value uses another key: the old keys can be removed from the list.")


def _keyring(settings: Settings, make: Callable[[Settings], Any]) -> Any:
    from antrean.config import MissingDataKeys
    from antrean.persistence.protect import BadKeys

    try:
        return make(settings)
    except (MissingDataKeys, BadKeys) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command("create-admin")
def create_admin(
    username: str = typer.Option(..., prompt=True),
    password: str = typer.Option(None, help="Asked for when not given"),
    full_name: str = typer.Option("Administrator"),
) -> None:
    """Create an admin account."""
    from antrean.bootstrap import build
    from antrean.domain.errors import AntreanError
    from antrean.domain.identity import Role, StaffAccountDraft
    from antrean.services.accounts import create_user

    if password is None:
        password = (
            getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
        )
    container = build(_settings(), migrate=True)
    try:
        draft = StaffAccountDraft(
            username=username,
            password=password,
            roles=frozenset({Role.ADMIN}),
            full_name=full_name,
        )
        user = create_user(
            container.uow(), actor=container.system(), hasher=container.passwords, draft=draft
        )
    except AntreanError as exc:
        console.print(f"[red]{exc.message('en')}[/red]")
        raise typer.Exit(1) from None
    finally:
        container.close()
    console.print(f"Admin [bold]{user.username}[/bold] created.")


@app.command("generate-slots")
def generate_slots() -> None:
    """Bring bookable slots in step with schedules over the booking horizon."""
    from antrean.bootstrap import build
    from antrean.services.scheduling import generate_facility_slots

    container = build(_settings(), migrate=True)
    with console.status("Generating slots..."):
        report = generate_facility_slots(
            container.uow(), actor=container.system(), policy=container.policy
        )
    container.close()
    console.print(
        f"created {report.created}, removed {report.removed}, deactivated {report.deactivated}, "
        f"conflicts {report.conflicts}"
    )


@app.command("close-day")
def close_day() -> None:
    """End earlier days: open tickets become no-shows, unattended bookings no-shows.

    Run it each night after the clinics close (cron or a systemd timer); `serve` runs it on start.
    """
    from antrean.bootstrap import build
    from antrean.services.queue_actions import close_past_days

    container = build(_settings(), migrate=True)
    result = close_past_days(container.uow(), actor=container.system(), policy=container.policy)
    container.close()
    console.print(
        f"tickets: {result.no_shows} no-shows, {result.finished} finished; "
        f"appointments: {result.appointments_no_show} no-shows"
    )


@app.command()
def simulate(
    days: int = typer.Option(20, min=1, max=10_000, help="Clinic days to simulate"),
    arrivals_per_hour: float = typer.Option(10.0, min=0.1),
    counters: int = typer.Option(2, min=1, max=50),
    mean_service_minutes: float = typer.Option(10.0, min=0.5),
    typical_minutes: float = typer.Option(15.0, min=0.5, help="The clinic's stated duration"),
    seed: int = typer.Option(20261122),
) -> None:
    """Simulate clinic days faster than real time and report how good the wait estimates are."""
    import random

    from rich.progress import track

    from antrean.simulation import SimulationConfig, simulate_day

    cfg = SimulationConfig(
        days=days,
        arrivals_per_hour=arrivals_per_hour,
        counters=counters,
        mean_service_minutes=mean_service_minutes,
        typical_minutes=typical_minutes,
        seed=seed,
    )
    rng = random.Random(cfg.seed)
    errors: list[float] = []
    naive: list[float] = []
    within = patients = 0
    for _ in track(range(cfg.days), description="Simulating", console=console):
        day = simulate_day(cfg, rng)
        errors += day.abs_errors
        naive += day.naive_abs_errors
        within += day.within_range
        patients += day.patients
    mae = sum(errors) / max(len(errors), 1)
    naive_mae = sum(naive) / max(len(naive), 1)
    console.print(
        f"{patients} patients over {cfg.days} days, {cfg.counters} counters, "
        f"{cfg.arrivals_per_hour}/h arriving, service mean {cfg.mean_service_minutes} min"
    )
    console.print(f"mean absolute error of the estimated call time: {mae:.1f} min")
    console.print(f"  with the stated duration only (no learning): {naive_mae:.1f} min")
    console.print(f"called within the given range: {within / max(patients, 1):.0%}")


@app.command()
def demo(
    patients: int = typer.Option(200, min=1, max=100_000),
    force: bool = typer.Option(False, help="Load even if the database already has clinics"),
) -> None:
    """Load a realistic Indonesian demo clinic: poli, doctors, schedules, patients, bookings."""
    from antrean.bootstrap import build
    from antrean.demo import load_demo

    container = build(_settings(), migrate=True)
    try:
        load_demo(container, patients=patients, force=force, console=console)
    finally:
        container.close()


def main() -> None:
    from pydantic import ValidationError

    from antrean.config import MissingDataKeys
    from antrean.persistence.key_check import WrongKeys
    from antrean.persistence.protect import BadKeys

    try:
        app()
    except (WrongKeys, MissingDataKeys, BadKeys) as exc:
        # Keys that are missing, malformed or not this database's: the reason, not a traceback.
        console.print(f"[red]{exc}[/red]")
        raise SystemExit(2) from None
    except ValidationError as exc:
        # Settings the environment gives that cannot stand: each reason, not a traceback.
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            reason = str(error["msg"]).removeprefix("Value error, ")
            console.print(
                f"[red]{('ANTREAN_' + where.upper() + ': ') if where else ''}{reason}[/red]"
            )
        raise SystemExit(2) from None

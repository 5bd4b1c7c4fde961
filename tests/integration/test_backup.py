"""`antrean backup` while the server takes bookings, and `antrean restore` into another
database: everything acknowledged before the backup began is in it, it is consistent, a server
runs on it, and a damaged file, a wrong key or a database already in use are refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import and_, create_engine, func, select, text

from antrean.backup import new_key
from antrean.persistence import tables as t
from antrean.testing.live_server import running_server
from tests.integration.conftest import SECRET, empty_pg_database
from tests.integration.test_races import Seeded

pytestmark = pytest.mark.slow


def antrean(*args: str, db_url: str, data: Path, key: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANTREAN_DATABASE_URL": db_url,
        "ANTREAN_DATA_DIR": str(data),
        "ANTREAN_SECRET_KEY": SECRET,
        "ANTREAN_ENVIRONMENT": "test",
        "ANTREAN_BACKUP_KEY": key,
    }
    return subprocess.run(
        [sys.executable, "-m", "antrean", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


class Writer(threading.Thread):
    """Books one patient after another over HTTP until told to stop."""

    def __init__(self, base: str, world: Seeded) -> None:
        super().__init__(daemon=True)
        self.base, self.world = base, world
        self.acked: list[str] = []
        self.stop = threading.Event()
        self.enough = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            token = client.post(
                "/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
            ).json()["access_token"]
            for n, pid in enumerate(self.world.patient_ids):
                if self.stop.is_set():
                    return
                r = client.post(
                    "/api/v1/appointments",
                    json={"slot_id": self.world.slots[n // 10].id, "patient_id": pid},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert r.status_code == 201, r.text
                self.acked.append(r.json()["code"])
                if len(self.acked) == 30:
                    self.enough.set()


@pytest.fixture
def restore_target(db_url: str, tmp_path: Path):
    """An empty database of the same kind to restore into."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'antrean.db'}"
        return
    with empty_pg_database("antrean_restore") as url:
        yield url


def count(url: str, stmt) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    with engine.connect() as conn:
        value = int(conn.execute(stmt).scalar_one())
    engine.dispose()
    return value


def test_a_backup_taken_while_the_server_writes_restores_whole(db_url, tmp_path, restore_target):
    data = tmp_path / "data"
    world = Seeded(db_url, data, patients_count=300, capacity=10)
    key = new_key()
    target_data = tmp_path / "restored"
    target_data.mkdir()
    backup_file = tmp_path / "backups" / "clinic.backup"
    with running_server(db_url, data, secret=SECRET) as base:
        writer = Writer(base, world)
        writer.start()
        assert writer.enough.wait(60)
        before = list(writer.acked)  # acknowledged before the backup began
        made = antrean("backup", str(backup_file), db_url=db_url, data=data, key=key)
        writer.stop.set()
        writer.join(60)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Backup written to" in made.stdout
    raw = backup_file.read_bytes()
    assert b"Pasien" not in raw and b"SQLite format" not in raw  # nothing readable in it
    assert not list(backup_file.parent.glob("*.partial"))

    done = antrean("restore", str(backup_file), db_url=restore_target, data=target_data, key=key)
    assert done.returncode == 0, done.stdout + done.stderr
    a, s = t.appointment, t.slot
    restored = count(restore_target, select(func.count()).select_from(a))
    assert len(before) <= restored <= len(writer.acked)
    codes = set()
    engine = create_engine(restore_target)
    with engine.connect() as conn:
        codes = set(conn.execute(select(a.c.code)).scalars())
        held = (
            select(s.c.booked, func.count(a.c.id).label("held"))
            .select_from(s.outerjoin(a, and_(a.c.slot_id == s.c.id, a.c.status == "booked")))
            .group_by(s.c.id, s.c.booked)
        )
        assert all(row.booked == row.held for row in conn.execute(held)), "one moment's copy"
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    engine.dispose()
    assert set(before) <= codes

    # A server runs on the restored database with the clinic's data keys (kept apart from the
    # backup, as they must be), and finds a booking made before the backup.
    shutil.copy(data / "data_keys", target_data / "data_keys")
    with running_server(restore_target, target_data, secret=SECRET, workers=1) as base:
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
        ).json()["access_token"]
        r = httpx.get(
            f"{base}/api/v1/appointments/{before[0]}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200

    # Over a database that holds data: refused without --force, nothing changed.
    again = antrean("restore", str(backup_file), db_url=restore_target, data=target_data, key=key)
    assert again.returncode == 1 and "--force" in again.stdout
    # A damaged file, or another key: refused before the database is touched.
    damaged = tmp_path / "damaged.backup"
    blob = bytearray(raw)
    blob[len(blob) // 2] ^= 0xFF
    damaged.write_bytes(bytes(blob))
    for file, with_key, says in (
        (damaged, key, "damaged or was altered"),
        (backup_file, new_key(), "another key"),
    ):
        refused = antrean(
            "restore", str(file), "--force", db_url=restore_target, data=target_data, key=with_key
        )
        assert refused.returncode == 1 and says in refused.stdout, refused.stdout
    assert count(restore_target, select(func.count()).select_from(a)) == restored
    forced = antrean(
        "restore", str(backup_file), "--force", db_url=restore_target, data=target_data, key=key
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert count(restore_target, select(func.count()).select_from(a)) == restored


def test_backup_without_a_key_says_how_to_make_one(db_url, tmp_path):
    done = antrean("backup", db_url=db_url, data=tmp_path, key="")
    assert done.returncode == 1 and "antrean backup --new-key" in done.stdout
    made = antrean("backup", "--new-key", db_url=db_url, data=tmp_path, key="")
    assert made.returncode == 0 and len(made.stdout.strip()) == 44

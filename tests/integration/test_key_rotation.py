"""`antrean keys rotate` while the server takes bookings: every value ends up sealed with the
new key, the old key can go, and no booking or field is lost or garbled."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from antrean.persistence import tables as t
from antrean.persistence.engine import create_database
from antrean.persistence.key_rotation import key_usage, rotate
from antrean.persistence.protect import Keyring, Keys, new_key, parse_keys, sealed_columns
from antrean.testing.live_server import start_server, stop_server
from tests.integration.conftest import SECRET
from tests.integration.test_races import Seeded

pytestmark = pytest.mark.slow

PATIENTS = 240
AT_ONCE = 8
START_ROTATION_AFTER = 20  # acknowledged bookings


def _new_first(keys_file: Path) -> Keys:
    """Put a new data key in front of the list (it seals from now on); the new keys."""
    keys_file.write_text(f"2={new_key()}\n" + keys_file.read_text())
    return parse_keys(keys_file.read_text())


def _only(keys: Keys, key_id: str) -> Keyring:
    return Keyring(Keys(tuple((i, k) for i, k in keys.data if i == key_id), keys.index))


def _open_everything(db_url: str, ring: Keyring) -> int:
    """Read every sealed value of every table through its column type; how many."""
    db = create_database(db_url, keyring=ring)
    opened = 0
    try:
        with db.engine.connect() as conn:
            for _table, columns in sealed_columns(t.metadata.sorted_tables):
                for row in conn.execute(select(*columns)):
                    opened += sum(1 for v in row if v not in (None, ""))
    finally:
        db.dispose()
    return opened


def test_keys_rotate_while_the_server_takes_bookings(db_url, tmp_path):
    data = tmp_path / "data"
    world = Seeded(db_url, data, patients_count=PATIENTS, capacity=10)
    keys = _new_first(data / "data_keys")
    env = {
        **os.environ,
        "ANTREAN_DATABASE_URL": db_url,
        "ANTREAN_DATA_DIR": str(data),
        "ANTREAN_ENVIRONMENT": "test",
        "ANTREAN_SECRET_KEY": SECRET,
    }
    base, proc = start_server(
        db_url,
        data,
        workers=2,
        secret=SECRET,
        extra_env={"ANTREAN_LOG_LEVEL": "critical", "ANTREAN_EMBEDDED_WORKER": "false"},
    )
    rotation: list[subprocess.Popen[bytes]] = []
    acked: dict[int, str] = {}  # patient id -> booking code
    acked_while_rotating = 0
    lock = threading.Lock()

    def on_ack(patient_id: int, code: str) -> None:
        nonlocal acked_while_rotating
        with lock:
            acked[patient_id] = code
            if len(acked) == START_ROTATION_AFTER:
                rotation.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "antrean", "keys", "rotate", "--batch", "20"],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                    )
                )
            elif rotation and rotation[0].poll() is None:
                acked_while_rotating += 1

    async def book_all() -> list[int]:
        r = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "ops", "password": "operator-password"}
        )
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        gate = asyncio.Semaphore(AT_ONCE)
        statuses: list[int] = []
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def one(n: int, patient_id: int) -> None:
                body = {
                    "slot_id": world.slots[n // 10].id,
                    "patient_id": patient_id,
                    "note": f"Catatan pasien {patient_id}",
                }
                async with gate:
                    r = await client.post("/api/v1/appointments", json=body, headers=headers)
                statuses.append(r.status_code)
                if r.status_code == 201:
                    on_ack(patient_id, r.json()["code"])

            await asyncio.gather(*(one(n, pid) for n, pid in enumerate(world.patient_ids)))
        return statuses

    try:
        statuses = asyncio.run(book_all())
        assert rotation, "the rotation started"
        output, _ = rotation[0].communicate(timeout=300)
    finally:
        stop_server(proc)
    assert rotation[0].returncode == 0, output.decode()
    assert b"the old keys can be removed" in output
    assert statuses.count(201) == PATIENTS, sorted(set(statuses))
    assert acked_while_rotating > 0, "bookings were taken while the rotation ran"

    # The old key removed from the list: everything still opens, all of it with key 2.
    only_new = _only(keys, "2")
    db = create_database(db_url, keyring=only_new)
    usage = key_usage(db, only_new)
    assert usage.unknown == 0 and usage.by_key["2"] > PATIENTS * 3
    with db.engine.connect() as conn:
        stored = dict(conn.execute(select(t.appointment.c.patient_id, t.appointment.c.note)).all())
        names = dict(conn.execute(select(t.patient.c.id, t.patient.c.name)).all())
        count = conn.execute(select(func.count()).select_from(t.appointment)).scalar_one()
    db.dispose()
    assert count == PATIENTS
    assert stored == {pid: f"Catatan pasien {pid}" for pid in acked}
    assert sorted(names.values()) == sorted(f"Pasien {n}" for n in range(PATIENTS))
    assert _open_everything(db_url, only_new) == usage.by_key["2"]


def test_rotation_moves_only_old_values_and_a_second_run_has_nothing_to_do(container, tmp_path):
    """In process: values sealed with key 1 move to key 2, the count says so, and a value
    written after the new key came first is left as it is."""
    from datetime import date

    from antrean.domain.patients import PatientDraft
    from antrean.services.patients import register_patient
    from antrean.testing.seed import ADMIN

    c = container
    for n in range(30):
        register_patient(
            c.uow(),
            actor=ADMIN,
            policy=c.policy,
            phones=c.phones,
            draft=PatientDraft(name=f"Lama {n}", birth_date=date(1990, 1, 1), phone="08121111222"),
        )
    keys_file = c.settings.data_dir / "data_keys"
    keys = _new_first(keys_file)
    ring = Keyring(keys)
    db = create_database(str(c.db.engine.url.render_as_string(False)), keyring=ring)
    before = key_usage(db, ring)
    assert before.by_key["2"] == 0 and before.by_key["1"] >= 30 * 4
    moved = rotate(db, ring, batch=7)
    after = key_usage(db, ring)
    assert moved == before.by_key["1"]
    assert after.by_key == {"2": before.by_key["1"], "1": 0} and after.unknown == 0
    assert rotate(db, ring, batch=7) == 0
    db.dispose()
    assert (
        _open_everything(str(c.db.engine.url.render_as_string(False)), _only(keys, "2"))
        == (after.by_key["2"])
    )

"""A server or command given keys that are not the database's stops before it writes: another
data key list, a list that lost a key still in use, another index key, or sealing switched the
other way. The right list, with a new key put first, still opens it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from antrean.bootstrap import build, ensure_facility
from antrean.persistence import tables as t
from antrean.persistence.key_check import WrongKeys
from antrean.persistence.protect import INDEX_KEY_NAME, new_key, new_key_list
from tests.integration.conftest import SECRET, make_settings


def _keys(data: str, index: str, data_id: str = "1") -> str:
    return f"{data_id}={data}\n{INDEX_KEY_NAME}={index}\n"


def _open(db_url, tmp_path, keys: str, *, sealing: bool = True):
    return build(make_settings(db_url, tmp_path / "data", data_keys=keys, data_encryption=sealing))


def test_keys_not_the_databases_are_refused_before_anything_is_written(db_url, tmp_path):
    data, index = new_key(), new_key()
    first = _open(db_url, tmp_path, _keys(data, index))
    ensure_facility(first)
    with first.db.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(t.data_key_check)).scalar_one()
    first.close()
    assert before == 1  # noted by the first process that found none

    refused = [
        (new_key_list(), "do not open"),  # another list altogether
        (_keys(new_key(), index, data_id="2"), "do not open"),  # lost the data key in use
        (_keys(data, new_key()), "index key"),  # the data key, another index key
    ]
    for keys, told in refused:
        with pytest.raises(WrongKeys, match=told):
            _open(db_url, tmp_path, keys)

    # A new key put first, the one in use kept below it: the database still opens.
    rotated = f"2={new_key()}\n1={data}\n{INDEX_KEY_NAME}={index}\n"
    _open(db_url, tmp_path, rotated).close()


def test_sealing_switched_either_way_is_refused(db_url, tmp_path):
    _open(db_url, tmp_path, new_key_list()).close()
    with pytest.raises(WrongKeys, match="ANTREAN_DATA_ENCRYPTION=false cannot open"):
        _open(db_url, tmp_path, new_key_list(), sealing=False)


def test_a_database_written_plain_refuses_sealing_later(db_url, tmp_path):
    _open(db_url, tmp_path, new_key_list(), sealing=False).close()
    with pytest.raises(WrongKeys, match="written with ANTREAN_DATA_ENCRYPTION=false"):
        _open(db_url, tmp_path, new_key_list())


def test_serve_with_another_machines_keys_stops_with_the_reason(db_url, tmp_path):
    """Two data directories, two generated key files, one database: the second server stops
    (exit 2) and says why, instead of sealing values the first cannot open."""
    _open(db_url, tmp_path, new_key_list()).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTREAN_")} | {
        "ANTREAN_DATABASE_URL": db_url,
        "ANTREAN_DATA_DIR": str(tmp_path / "elsewhere"),
        "ANTREAN_ENVIRONMENT": "test",
        "ANTREAN_SECRET_KEY": SECRET,
    }
    r = subprocess.run(
        [sys.executable, "-m", "antrean", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "do not open this database" in " ".join(r.stdout.split())
    assert "Traceback" not in r.stdout + r.stderr

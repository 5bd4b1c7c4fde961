"""`antrean serve` on a fresh machine: it makes and upgrades its SQLite file, then serves."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from antrean.testing.live_server import free_port, wait_ready


def test_serve_creates_the_embedded_database_and_answers(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "ANTREAN_DATA_DIR": str(tmp_path / "data"),
        "ANTREAN_PORT": str(port),
        "ANTREAN_LOG_LEVEL": "warning",
    }
    env.pop("ANTREAN_DATABASE_URL", None)
    env.pop("ANTREAN_SECRET_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "antrean", "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        assert httpx.get(f"{base}/api/v1/clinics").json() == []
        assert (tmp_path / "data" / "antrean.db").exists()
        assert (tmp_path / "data" / "secret_key").exists()
        r = httpx.post(
            f"{base}/api/v1/auth/register",
            json={
                "username": "pasien1",
                "password": "kata-sandi-1",
                "name": "Pasien Satu",
                "birth_date": "2000-01-01",
            },
        )
        assert r.status_code == 201
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_serve_refuses_a_weak_secret_in_production(tmp_path):
    env = {
        **os.environ,
        "ANTREAN_DATA_DIR": str(tmp_path / "data"),
        "ANTREAN_ENVIRONMENT": "production",
        "ANTREAN_SECRET_KEY": "changeme",
    }
    r = subprocess.run(
        [sys.executable, "-m", "antrean", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "weak" in r.stdout

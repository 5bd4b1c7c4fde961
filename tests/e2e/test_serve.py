"""`antrean serve` on a fresh machine: it makes and upgrades its SQLite file, then serves."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

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


@pytest.mark.parametrize(
    ("given", "told"),
    [
        pytest.param({"ANTREAN_SECRET_KEY": "changeme", "keys": True}, "weak", id="weak-secret"),
        pytest.param({"ANTREAN_SECRET_KEY": "s" * 48}, "antrean keys new", id="no-data-keys"),
        pytest.param(
            {"ANTREAN_SECRET_KEY": "s" * 48, "ANTREAN_DATA_KEYS": "a=short"},
            "base64",
            id="bad-data-keys",
        ),
        pytest.param(
            {"ANTREAN_SECRET_KEY": "s" * 48, "ANTREAN_PASSWORD_HASHING": "fast", "keys": True},
            "ANTREAN_PASSWORD_HASHING=fast is refused in production",
            id="test-password-hashing",
        ),
    ],
)
def test_serve_refuses_to_start_in_production_without_safe_settings(tmp_path, given, told):
    """Production refuses a guessable secret and a missing or malformed data key list before
    anything starts, with the reason and the configuration exit code (2)."""
    env = {
        **os.environ,
        "ANTREAN_DATA_DIR": str(tmp_path / "data"),
        "ANTREAN_ENVIRONMENT": "production",
        **{k: v for k, v in given.items() if k != "keys"},
    }
    env.pop("ANTREAN_DATA_KEYS_FILE", None)
    if "ANTREAN_PASSWORD_HASHING" not in given:
        env.pop("ANTREAN_PASSWORD_HASHING", None)  # the suite's own cheap hashing
    if given.get("keys"):
        keys = subprocess.run(
            [sys.executable, "-m", "antrean", "keys", "new"],
            capture_output=True,
            text=True,
            check=True,
        )
        env["ANTREAN_DATA_KEYS"] = keys.stdout.strip()
    r = subprocess.run(
        [sys.executable, "-m", "antrean", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert told in " ".join(r.stdout.split()), r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _server_processes(pid: int, port: int) -> dict[int, int]:
    """Server processes of `antrean serve` (the children holding a socket on the port), with
    how many accepted connections each holds."""
    listening, established = set(), {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) != port:
                continue
            if fields[3] == "0A":  # listening
                listening.add(fields[9])
            elif fields[3] == "01":  # established
                established[fields[9]] = True
    counts: dict[int, int] = {}
    for child in _children(pid):
        inodes = set()
        for fd in Path(f"/proc/{child}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        if inodes & listening:
            counts[child] = len(inodes & set(established))
    return counts


def _serve(tmp_path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ANTREAN_DATA_DIR": str(tmp_path / "data"),
        "ANTREAN_PORT": str(port),
        "ANTREAN_WORKERS": str(workers),
        "ANTREAN_LOG_LEVEL": "warning",
        "ANTREAN_ENVIRONMENT": "test",
        "ANTREAN_SECRET_KEY": "e2e-secret-" + "x" * 40,
    }
    env.pop("ANTREAN_DATABASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "antrean", "serve"], env=env)


def _until(condition, timeout: float = 20.0):
    """Wait for a state the server reaches by itself (polling what it shows, not sleeping it
    off)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the server did not get there in time")


def test_server_processes_share_connections_and_come_back(tmp_path):
    port = free_port()
    proc = _serve(tmp_path, port, workers=2)
    base = f"http://127.0.0.1:{port}"
    clients = []
    try:
        wait_ready(base, proc)
        servers = _until(
            lambda: (
                len(_server_processes(proc.pid, port)) == 2 and _server_processes(proc.pid, port)
            )
        )
        assert len(servers) == 2, "each server process listens with a socket of its own"
        # A burst of 40 kept-alive connections, as a load balancer or load test opens them.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        spread = _until(
            lambda: (c := _server_processes(proc.pid, port)) and sum(c.values()) >= 40 and c
        )
        assert min(spread.values()) >= 8, f"connections spread over both processes: {spread}"
        for client in clients:
            client.close()
        # A server process that dies is replaced, and the server keeps answering.
        victim = next(iter(servers))
        os.kill(victim, signal.SIGKILL)
        replaced = _until(
            lambda: (
                (now := set(_server_processes(proc.pid, port)))
                and len(now) == 2
                and victim not in now
            )
        )
        assert replaced
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    finally:
        for client in clients:
            client.close()
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_serve_stops_when_the_port_is_taken(tmp_path):
    port = free_port()
    taken = socket.socket()
    taken.bind(("127.0.0.1", port))
    taken.listen()
    try:
        proc = _serve(tmp_path, port, workers=2)
        assert proc.wait(timeout=60) != 0
    finally:
        taken.close()


def test_a_setting_that_cannot_be_read_is_named_not_a_traceback(tmp_path):
    env = {**os.environ, "ANTREAN_DATA_DIR": str(tmp_path / "data"), "ANTREAN_WORKERS": "dua"}
    r = subprocess.run(
        [sys.executable, "-m", "antrean", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ANTREAN_WORKERS" in r.stdout and "integer" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr

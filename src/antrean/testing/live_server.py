"""A real server: `antrean serve` in child processes, on a free port, against a given database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    db_url: str,
    data_dir: Path,
    *,
    workers: int = 2,
    secret: str,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run `antrean serve` with `workers` processes; yields the base URL once it is ready."""
    base, proc = start_server(db_url, data_dir, workers=workers, secret=secret, extra_env=extra_env)
    try:
        yield base
    finally:
        stop_server(proc)


def stop_server(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """Ask the server to stop (SIGTERM: it finishes what it is doing); kill it after `grace`."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_server(
    db_url: str,
    data_dir: Path,
    *,
    workers: int = 2,
    secret: str,
    extra_env: dict[str, str] | None = None,
    own_group: bool = False,
) -> tuple[str, subprocess.Popen[bytes]]:
    """`antrean serve` started and ready: its base URL and process, for the caller to stop.
    With `own_group`, its processes form a process group of their own, so one
    `os.killpg(proc.pid, ...)` reaches every one of them."""
    port = free_port()
    env = {
        **os.environ,
        "ANTREAN_DATABASE_URL": db_url,
        "ANTREAN_DATA_DIR": str(data_dir),
        "ANTREAN_SECRET_KEY": secret,
        "ANTREAN_ENVIRONMENT": "test",
        **(extra_env or {}),
    }
    env.setdefault("ANTREAN_LOG_LEVEL", "warning")
    cmd = [sys.executable, "-m", "antrean", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, start_new_session=own_group)
    scheme = "https" if env.get("ANTREAN_TLS_CERT_FILE") else "http"
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return base, proc


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Poll /readyz until the server answers: the server signals readiness, nothing is slept off."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            # Readiness only: a test's own self-signed certificate is checked by the test.
            if httpx.get(f"{base}/readyz", timeout=1.0, verify=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not become ready")

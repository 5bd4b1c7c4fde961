"""/healthz latency on a live server while clients sign in, against the same probe left alone.

    python bench/signin_latency.py [--db postgresql] [--workers N] [--signers K] [--duration 10]

Signing in checks an argon2 password hash (about 100 ms of CPU). This starts the real server on
a fresh database with one staff account made by `antrean create-admin`, then:
1. idle: one sequential client asks /healthz every 10 ms for --duration seconds;
2. loaded: --signers clients each sign in back to back (the next once the answer is in) while
   the same /healthz probe runs, for another --duration seconds.
Prints sign-ins/s, sign-in p50/p99, /healthz p50/p99/max idle and loaded and their ratio, and
whether the target holds: /healthz under load p50 < 25 ms and p99 < 150 ms (exit 0, else 1).

Every request opens a new connection: each server process listens on its own socket
(SO_REUSEPORT) and the kernel picks the process per connection, so a kept-alive probe would stay
on one process and might never meet a signer, or always meet one. Each request's wall time,
connecting included, is taken with time.perf_counter().
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from antrean.testing.live_server import running_server

sys.path.insert(0, str(Path(__file__).parent))
from databases import scratch_database

SECRET = "benchmark-secret-" + "b" * 40
USERNAME = "bench"
PASSWORD = "bench-password"
TOKEN_PATH = "/api/v1/auth/token"
TARGET_P50_MS = 25.0
TARGET_P99_MS = 150.0


def create_account(url: str, workdir: Path) -> None:
    """The staff account, through the command line with the server's own environment."""
    env = {
        **os.environ,
        "ANTREAN_DATABASE_URL": url,
        "ANTREAN_DATA_DIR": str(workdir),
        "ANTREAN_SECRET_KEY": SECRET,
        "ANTREAN_ENVIRONMENT": "test",
    }
    env.setdefault("ANTREAN_LOG_LEVEL", "warning")
    cmd = [sys.executable, "-m", "antrean", "create-admin"]
    cmd += ["--username", USERNAME, "--password", PASSWORD]
    done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"create-admin exited with {done.returncode}")


def _client(base: str) -> httpx.Client:
    # "Connection: close": a new connection, so a new pick of server process, for each request.
    return httpx.Client(base_url=base, headers={"Connection": "close"}, timeout=30.0)


@dataclass
class Samples:
    ms: list[float] = field(default_factory=list)
    failed: int = 0

    def pick(self, q: float) -> float:
        """Nearest-rank percentile, in ms."""
        if not self.ms:
            return float("nan")
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def max(self) -> float:
        return max(self.ms) if self.ms else float("nan")


def probe(base: str, until: float, interval: float, out: Samples) -> None:
    """One sequential client: GET /healthz, then wait out the rest of `interval`."""
    with _client(base) as client:
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                ok = client.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - start
            if ok:
                out.ms.append(elapsed * 1000)
            else:
                out.failed += 1
            time.sleep(max(0.0, interval - elapsed))


def sign_in(client: httpx.Client) -> bool:
    try:
        r = client.post(TOKEN_PATH, data={"username": USERNAME, "password": PASSWORD})
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and "access_token" in r.json()


def signer(base: str, until: float, out: Samples) -> None:
    """One client signing in back to back, each time once the previous answer is in."""
    with _client(base) as client:
        while time.perf_counter() < until:
            start = time.perf_counter()
            ok = sign_in(client)
            elapsed = time.perf_counter() - start
            if ok:
                out.ms.append(elapsed * 1000)
            else:
                out.failed += 1


def measure(
    base: str, *, signers: int, duration: float, interval: float
) -> tuple[Samples, Samples, float]:
    """The probe for `duration` seconds alongside `signers` signing-in clients.
    Returns the probe's samples, all sign-ins' samples and the time the signers ran."""
    health, signs = Samples(), [Samples() for _ in range(signers)]
    until = time.perf_counter() + duration
    threads = [threading.Thread(target=signer, args=(base, until, s)) for s in signs]
    threads.append(threading.Thread(target=probe, args=(base, until, interval, health)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join()
    ran = time.perf_counter() - started  # the last sign-in may end after the deadline
    threads[-1].join()
    merged = Samples([ms for s in signs for ms in s.ms], sum(s.failed for s in signs))
    return health, merged, ran


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--signers", type=int, default=2, help="clients signing in at once")
    parser.add_argument("--duration", type=float, default=10, help="seconds, each phase")
    parser.add_argument(
        "--interval", type=float, default=0.01, help="seconds between /healthz probes"
    )
    args = parser.parse_args()
    with scratch_database(args.db) as (url, workdir):
        return _run(args, url, workdir)


def _run(args: argparse.Namespace, url: str, workdir: Path) -> int:
    print(f"creating the account on {args.db} ...", flush=True)
    create_account(url, workdir)
    with running_server(url, workdir, secret=SECRET, workers=args.workers) as base:
        # Warm-up, and a check that signing in works at all: a few new connections, so each
        # server process most likely answers some.
        with _client(base) as client:
            for _ in range(10):
                client.get("/healthz")
            if not all(sign_in(client) for _ in range(2 * args.workers)):
                print("signing in failed before the run", file=sys.stderr)
                return 2
        print(f"idle: /healthz for {args.duration:g}s ...", flush=True)
        idle, _, _ = measure(base, signers=0, duration=args.duration, interval=args.interval)
        print(f"loaded: {args.signers} signer(s) for {args.duration:g}s ...", flush=True)
        loaded, signs, ran = measure(
            base, signers=args.signers, duration=args.duration, interval=args.interval
        )

    print(
        f"\n== sign-in latency: {args.db}, {args.workers} server process(es), "
        f"{args.signers} signer(s), {args.duration:g}s each phase =="
    )

    def line(label: str, s: Samples) -> str:
        return (
            f"{label:<15} p50 {s.pick(0.5):7.2f} ms   p99 {s.pick(0.99):7.2f} ms   "
            f"max {s.max:7.2f} ms   n {len(s.ms)}   failed {s.failed}"
        )

    print(line("healthz idle", idle))
    if args.signers:
        print(
            f"{'sign-ins':<15} {len(signs.ms) / ran:6.1f} /s   p50 {signs.pick(0.5):7.2f} ms   "
            f"p99 {signs.pick(0.99):7.2f} ms   n {len(signs.ms)}   failed {signs.failed}"
        )
    print(line("healthz loaded", loaded))
    print(
        f"{'ratio':<15} loaded/idle p50 {loaded.pick(0.5) / idle.pick(0.5):.1f}x   "
        f"p99 {loaded.pick(0.99) / idle.pick(0.99):.1f}x"
    )
    holds = (
        loaded.pick(0.5) < TARGET_P50_MS
        and loaded.pick(0.99) < TARGET_P99_MS
        and loaded.failed == 0
        and idle.failed == 0
        and signs.failed == 0
        and (args.signers == 0 or len(signs.ms) > 0)
    )
    print(
        f"{'target':<15} /healthz under load p50 < {TARGET_P50_MS:g} ms and "
        f"p99 < {TARGET_P99_MS:g} ms, no failed requests: " + ("HOLDS" if holds else "MISSED")
    )
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())

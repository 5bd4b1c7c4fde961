"""The web pages' speed and weight on a live server with the demo clinic, measured in Debian's
chromium (driven by Playwright) and over plain HTTP, each against a baseline of the same run.

    python bench/web.py [--db sqlite|postgresql] [--repeat 7] [--streams 1000]

1. Server render time: sequential GETs of the patient booking pages on one kept-alive
   connection (p50, p99), against /healthz on the same connection (the baseline).
2. Weight: the bytes chromium transfers for a page with an empty cache (HTML, CSS, scripts,
   icon; compressed, headers included), against the 60 KB budget.
3. Load: when the `load` event fires, median of --repeat fresh visits, unthrottled and with
   chromium emulating a slow mobile link (1.6 Mbps down, 750 kbps up, 150 ms round trip) and
   a 4x slower CPU; against a blank page's load in the same conditions.
4. Live connections on one server process: --streams waiting-room boards on their event
   stream, one call made, and when each board has received the new board (the stream carries
   it); then --streams ticket pages of one line (each its own ticket), one call made, when each
   page has the event, and when all have fetched their fresh card after their random wait (as
   the page's script does). /healthz latency with all of them open, against the same probe
   before they were opened.

Targets (exit 1 when one is missed): booking page under 60 KB, render p50 under 10 ms, load
under 300 ms unthrottled and under 1.5 s throttled, every stream served.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from databases import scratch_database

from antrean.testing.live_server import running_server

SECRET = "benchmark-secret-" + "w" * 40
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BUDGET_BYTES = 60 * 1024
TARGET_RENDER_MS = 10.0
TARGET_LOAD_MS = 300.0
TARGET_SLOW_LOAD_MS = 1500.0
SLOW_LINK = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1.6e6 / 8,
    "uploadThroughput": 750e3 / 8,
}


def load_demo(url: str, workdir: Path) -> dict[str, str]:
    """The demo clinic through the command line; returns the device links it printed."""
    env = {
        **os.environ,
        "ANTREAN_DATABASE_URL": url,
        "ANTREAN_DATA_DIR": str(workdir),
        "ANTREAN_SECRET_KEY": SECRET,
        "ANTREAN_ENVIRONMENT": "test",
        "ANTREAN_LOG_LEVEL": "warning",
    }
    out = subprocess.run(
        [sys.executable, "-m", "antrean", "demo", "--patients", "200"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(re.findall(r"/(display|kiosk)/([A-Za-z0-9_-]+)", out))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def booking_paths(base: str) -> dict[str, str]:
    """The booking flow's pages for the first clinic with free times: clinic list, services,
    doctors, the date strip and the times of the first free day."""
    client = httpx.Client(base_url=base)
    html = client.get("/book").text
    clinic = re.findall(r'href="(/book\?clinic=\d+)"', html)[0]
    service = re.findall(r'href="(/book\?[^"]*service=\d+)"', client.get(clinic).text)[0]
    service = service.replace("&amp;", "&")
    doctor = re.findall(r'href="(/book\?[^"]*doctor=any)"', client.get(service).text)[0]
    doctor = doctor.replace("&amp;", "&")
    day = re.findall(r'href="(/book\?[^"]*day=[\d-]+)"', client.get(doctor).text)[0]
    return {
        "clinics": "/book",
        "services": clinic,
        "doctors": service,
        "days": doctor,
        "times": day.replace("&amp;", "&"),
    }


def render_times(base: str, paths: dict[str, str], rounds: int) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base) as client:
        for name, path in {"/healthz (baseline)": "/healthz", **paths}.items():
            for _ in range(20):  # warm: templates compiled, connection open
                client.get(path)
            took = []
            for _ in range(rounds):
                start = time.perf_counter()
                r = client.get(path)
                took.append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            found[name] = {"p50": percentile(took, 0.5), "p99": percentile(took, 0.99)}
    return found


def browser_figures(base: str, pages: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    found: dict[str, dict[str, float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path in {"/healthz (baseline)": "/healthz", **pages}.items():
            row: dict[str, float] = {}
            for slow in (False, True):
                loads, weights = [], []
                for _ in range(repeat):
                    load, weight = _visit(browser, base + path, slow=slow)
                    loads.append(load)
                    weights.append(weight)
                row["slow_ms" if slow else "load_ms"] = statistics.median(loads)
                row["bytes"] = statistics.median(weights)
            found[name] = row
        browser.close()
    return found


def _visit(browser: Any, url: str, *, slow: bool) -> tuple[float, float]:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if slow:
        cdp.send("Network.emulateNetworkConditions", SLOW_LINK)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    sizes: dict[str, float] = {}

    def finished(event: dict[str, Any]) -> None:
        sizes[event["requestId"]] = event["encodedDataLength"]

    cdp.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="load")
    load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    # Every request the page made has finished loading by its load event; the CDP events
    # may still be on their way: wait for as many as the page's resource entries.
    wanted = page.evaluate("performance.getEntriesByType('resource').length") + 1
    deadline = time.monotonic() + 5
    while len(sizes) < wanted and time.monotonic() < deadline:
        page.wait_for_timeout(10)
    context.close()
    return float(load), sum(sizes.values())


async def _open(host: str, port: int, path: str) -> tuple[asyncio.StreamReader, Any]:
    """A bare HTTP/1.1 event-stream reader (cheap enough to open a thousand), returned once the
    stream's first event (the current state) is in: the next event is a change."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
    writer.write((request + "\r\n").encode())
    await writer.drain()
    await _next_event(reader)
    return reader, writer


async def _next_event(reader: asyncio.StreamReader) -> tuple[float, str]:
    """When the next whole event had arrived (its data may span many lines), and its id."""
    event_id, has_data = "", False
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("stream closed")
        if line.startswith(b"id:"):
            event_id = line[3:].strip().decode()
        elif line.startswith(b"data:"):
            has_data = True
        elif line.strip() == b"" and has_data:
            return time.perf_counter(), event_id
        # chunked-encoding size lines and comments are skipped


async def _get(host: str, port: int, path: str, wait: float = 0.0) -> float:
    if wait:
        await asyncio.sleep(wait)  # a page's own random wait before it fetches (as app.js)
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nHX-Request: true\r\nConnection: close\r\n"
    writer.write((request + "\r\n").encode())
    await writer.drain()
    await reader.read()
    writer.close()
    return time.perf_counter()


async def _probe(base: str, count: int = 200) -> float:
    async with httpx.AsyncClient(base_url=base) as client:
        took = []
        for _ in range(count):
            start = time.perf_counter()
            await client.get("/healthz")
            took.append((time.perf_counter() - start) * 1000)
    return percentile(took, 0.5)


async def streams(base: str, display: str, streams_wanted: int) -> dict[str, Any]:
    url = httpx.URL(base)
    host, port = url.host, url.port or 80
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        token = (
            await api.post(
                "/api/v1/auth/token", data={"username": "operator", "password": "operator-demo-123"}
            )
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        igd = next(k["id"] for k in (await api.get("/api/v1/clinics")).json() if k["code"] == "IGD")
        codes = []
        for n in range(streams_wanted):
            r = await api.post(
                "/api/v1/queue/walk-ins",
                headers=auth,
                json={"clinic_id": igd, "name": f"Pasien {n}", "birth_date": "1980-01-01"},
            )
            codes.append(r.json()["status_code"])
        idle = await _probe(base)

        boards = []
        for start in range(0, streams_wanted, 200):
            boards += await asyncio.gather(
                *(
                    _open(host, port, f"/display/{display}/events")
                    for _ in range(min(200, streams_wanted - start))
                )
            )
        with_boards = await _probe(base)
        waiting = [asyncio.create_task(_next_event(r)) for r, _ in boards]
        sent = time.perf_counter()
        await api.post(
            f"/api/v1/clinics/{igd}/queue/call-next", headers=auth, json={"counter": "Bed 1"}
        )
        got = await asyncio.wait_for(asyncio.gather(*waiting), timeout=60)
        event_ms = [(t - sent) * 1000 for t, _ in got]
        for _, writer in boards:
            writer.close()

        # Ticket pages: every phone of the line hears each call ("line"), and fetches its
        # card again after a random wait of 0.5 to 4.5 s, as the page's script does.
        tickets = []
        for start in range(0, streams_wanted, 200):
            batch = codes[start : start + 200]
            tickets += await asyncio.gather(*(_open(host, port, f"/t/{c}/events") for c in batch))
        with_tickets = await _probe(base)
        waiting = [asyncio.create_task(_next_event(r)) for r, _ in tickets]
        sent = time.perf_counter()
        await api.post(
            f"/api/v1/clinics/{igd}/queue/call-next", headers=auth, json={"counter": "Bed 2"}
        )
        got = await asyncio.wait_for(asyncio.gather(*waiting), timeout=60)
        ticket_ms = [(t - sent) * 1000 for t, _ in got]
        rng = random.Random(7)
        fetches = asyncio.gather(
            *(_get(host, port, f"/t/{c}", wait=0.5 + rng.random() * 4) for c in codes)
        )
        during = await _probe(base, count=100)
        fetched = await asyncio.wait_for(fetches, timeout=120)
        fetched_ms = [(t - sent) * 1000 for t in fetched]
        for _, writer in tickets:
            writer.close()
    return {
        "open": len(boards),
        "healthz_idle_ms": idle,
        "healthz_with_boards_ms": with_boards,
        "healthz_with_tickets_ms": with_tickets,
        "board_event_p50": percentile(event_ms, 0.5),
        "board_event_p99": percentile(event_ms, 0.99),
        "ticket_event_p50": percentile(ticket_ms, 0.5),
        "ticket_event_p99": percentile(ticket_ms, 0.99),
        "tickets_refetched_max": max(fetched_ms),
        "healthz_during_refetch_ms": during,
        "tickets_open": len(tickets),
    }


def report(db: str, renders: dict[str, Any], browser: dict[str, Any], live: dict[str, Any]) -> None:
    print(f"\nweb pages, {db}, one server process\n")
    print("server render (sequential, kept-alive)   p50 ms   p99 ms   p50 / baseline")
    base_p50 = renders["/healthz (baseline)"]["p50"]
    for name, row in renders.items():
        ratio = row["p50"] / base_p50
        print(f"  {name:38} {row['p50']:7.2f}  {row['p99']:7.2f}   {ratio:6.1f}x")
    print("\nin chromium, empty cache      bytes  load ms  slow-link+4x CPU ms  slow / baseline")
    blank = browser["/healthz (baseline)"]
    for name, row in browser.items():
        ratio = row["slow_ms"] / blank["slow_ms"]
        print(
            f"  {name:26} {row['bytes']:8.0f} {row['load_ms']:8.0f} {row['slow_ms']:12.0f}"
            f"          {ratio:5.1f}x"
        )
    v = live
    print(
        f"\n{v['open']} boards on one process: each has the new board (pushed, rendered once)"
        f" p50 {v['board_event_p50']:.0f} ms, p99 {v['board_event_p99']:.0f} ms after the call"
    )
    print(
        f"{v['tickets_open']} ticket pages of one line: each has the call's event"
        f" p50 {v['ticket_event_p50']:.0f} ms, p99 {v['ticket_event_p99']:.0f} ms; all have"
        f" fetched their fresh card {v['tickets_refetched_max'] / 1000:.1f} s after the call"
        f" (random waits of 0.5-4.5 s); /healthz p50 meanwhile"
        f" {v['healthz_during_refetch_ms']:.2f} ms"
    )
    ratio = v["healthz_with_tickets_ms"] / v["healthz_idle_ms"]
    print(
        f"/healthz p50: idle {v['healthz_idle_ms']:.2f} ms, with boards open"
        f" {v['healthz_with_boards_ms']:.2f} ms, with ticket pages open"
        f" {v['healthz_with_tickets_ms']:.2f} ms ({ratio:.1f}x idle)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args()
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    with scratch_database(args.db) as (url, workdir):
        links = load_demo(url, workdir)
        env = {"ANTREAN_LOG_LEVEL": "warning"}
        with running_server(url, workdir, secret=SECRET, workers=1, extra_env=env) as base:
            paths = booking_paths(base)
            renders = render_times(base, paths, args.rounds)
            pages = {
                "booking: clinics": paths["clinics"],
                "booking: times": paths["times"],
                "sign in": "/login",
            }
            browser = browser_figures(base, pages, args.repeat)
            live = asyncio.run(streams(base, links["display"], args.streams))
    report(args.db, renders, browser, live)
    booking = browser["booking: clinics"]
    checks = {
        f"booking page under {BUDGET_BYTES // 1024} KB": booking["bytes"] < BUDGET_BYTES,
        f"render p50 under {TARGET_RENDER_MS:.0f} ms": all(
            r["p50"] < TARGET_RENDER_MS for r in renders.values()
        ),
        f"load under {TARGET_LOAD_MS:.0f} ms": booking["load_ms"] < TARGET_LOAD_MS,
        f"slow-link load under {TARGET_SLOW_LOAD_MS:.0f} ms": booking["slow_ms"]
        < TARGET_SLOW_LOAD_MS,
        f"{args.streams} streams served": live["open"] == args.streams == live["tickets_open"],
    }
    print()
    for name, ok in checks.items():
        print(f"  {'met' if ok else 'MISSED'}: {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

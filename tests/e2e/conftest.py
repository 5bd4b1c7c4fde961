"""Real-browser tests: a real `antrean serve` process with the demo clinic, driven by Debian's
Chromium through Playwright, as a patient on a small phone would use the pages.

Nothing here may be skipped: without Chromium the tests fail with what to install (CI installs
it, see `.ci/run`), and a skip of any test in this folder is turned into a failure.

Every page opened through `open_page` is watched: at the end of the test there must have been
no console error, no uncaught script error, no request to a host other than this machine, and
no unhandled error in the server's log.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from antrean.testing.live_server import free_port, stop_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # A safety net under the request check below: no name but this machine's resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# Web assertions wait as long as actions may (10 s), not Playwright's 5 s: in CI the pages run
# on two cores beside load and crash tests, and one step of the booking pages once failed its
# 5 s wait there (it passed alone and in the e2e suite on its own).
expect.set_options(timeout=10_000)
PHONE = {"width": 360, "height": 740}  # a small Android phone, the patients' usual screen
BLOCKING_IMPACTS = ("serious", "critical")

DEMO = {
    "patient": ("pasien", "pasien-demo-123"),
    "operator": ("operator", "operator-demo-123"),
    "doctor": ("dokter", "dokter-demo-123"),
    "admin": ("admin", "admin-demo-123"),
}

# --- the folder: marked, collected with the rest, never skipped ------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: real-browser test against a real server process")


def _in_this_folder(item: pytest.Item) -> bool:
    return HERE in Path(item.path).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _in_this_folder(item):
            item.add_marker(pytest.mark.e2e)


OUTCOMES = pytest.StashKey[dict[str, str]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A skipped end-to-end test fails: these tests must run wherever the suite runs."""
    report = yield
    item.stash.setdefault(OUTCOMES, {})[report.when] = report.outcome
    if report.skipped and not hasattr(report, "wasxfail") and _in_this_folder(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"end-to-end tests must not be skipped ({reason})"
    return report


# --- the server ---------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    log: Path

    def log_size(self) -> int:
        return self.log.stat().st_size

    def errors_since(self, offset: int) -> str:
        """Unhandled errors the server logged after `offset` (a 500 logs a traceback)."""
        with self.log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        return text if ("Traceback" in text or "ERROR" in text) else ""


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`antrean serve` on a free port, on a fresh data folder with the demo clinic loaded.
    Package-scoped: started once for this folder and stopped when its last test is done."""
    data = tmp_path_factory.mktemp("e2e-data")
    antrean = Path(sys.executable).parent / "antrean"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTREAN_")}
    env |= {
        "ANTREAN_DATA_DIR": str(data),
        "ANTREAN_ENVIRONMENT": "development",
        "ANTREAN_LOG_LEVEL": "warning",
    }
    demo = subprocess.run(
        [str(antrean), "demo", "--patients", "40"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert demo.returncode == 0, f"`antrean demo` failed:\n{demo.stdout}\n{demo.stderr}"
    port = free_port()
    env |= {"ANTREAN_PORT": str(port), "ANTREAN_HOST": "127.0.0.1"}
    log = data / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(antrean), "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield Server(url=url, log=log)
    finally:
        stop_server(proc)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Poll /healthz until the server answers: its own signal that it is up, not a guess."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`antrean serve` exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"`antrean serve` did not answer /healthz within {timeout:.0f} s:\n{_tail(log)}")


@pytest.fixture(scope="package")
def base_url(live_server: Server) -> str:
    return live_server.url


# --- the API, for what a test sets up or checks behind the pages ------------------------------


@dataclass
class Api:
    """The REST API of the server under test, signed in as one of the demo accounts."""

    url: str

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {}
        if role is not None:
            username, password = DEMO[role]
            r = httpx.post(
                f"{self.url}/api/v1/auth/token",
                data={"username": username, "password": password},
                timeout=10.0,
            )
            assert r.status_code == 200, r.text
            headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=10.0)


@pytest.fixture(scope="package")
def api(base_url: str) -> Api:
    return Api(base_url)


# --- the browser and its pages ------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the end-to-end tests drive Debian's Chromium. Install it "
            "with `apt-get install chromium` (.ci/run does it in CI).",
            pytrace=False,
        )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@dataclass
class Watch:
    """What went wrong in the browser while a test used its pages."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect_console_error(self, pattern: str) -> None:
        """A console error the test causes on purpose (the browser logs every 4xx page it
        loads as "Failed to load resource")."""
        self.expected.append(re.compile(pattern))

    def expect_status(self, status: int) -> None:
        self.expect_console_error(rf"^Failed to load resource: .* status of {status} ")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        self.console_errors.append(f"{message.text} (at {where})")

    def problems(self) -> list[str]:
        unexpected = [e for e in self.console_errors if not any(p.search(e) for p in self.expected)]
        return (
            [f"console error: {e}" for e in unexpected]
            + [f"uncaught script error: {e}" for e in self.page_errors]
            + [f"request left the machine: {u}" for u in self.foreign_requests]
        )


@dataclass
class Browsing:
    """Pages of one test: each in a context of its own, watched until the test ends."""

    browser: Browser
    watch: Watch = field(default_factory=Watch)
    contexts: list[BrowserContext] = field(default_factory=list)

    def open(self, **options: Any) -> Page:
        settings: dict[str, Any] = {
            "viewport": PHONE,
            "is_mobile": True,
            "has_touch": True,
            "device_scale_factor": 1,
            "timezone_id": "Asia/Jakarta",
            "locale": "id-ID",
        }
        settings.update(options)
        context = self.browser.new_context(**settings)
        context.set_default_timeout(10_000)
        self.contexts.append(context)

        def on_request(request: Any) -> None:
            if urlsplit(request.url).hostname not in LOCAL_HOSTS and not request.url.startswith(
                ("data:", "blob:", "about:")
            ):
                self.watch.foreign_requests.append(request.url)

        context.on("request", on_request)
        page = context.new_page()
        page.on("console", self.watch.on_console)
        page.on("pageerror", lambda error: self.watch.page_errors.append(str(error)))
        return page

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(PlaywrightError):
                context.close()


@pytest.fixture
def browsing(
    request: pytest.FixtureRequest, browser: Browser, live_server: Server
) -> Iterator[Browsing]:
    offset = live_server.log_size()
    browsing = Browsing(browser)
    try:
        yield browsing
        problems = browsing.watch.problems()
        errors = live_server.errors_since(offset)
        if errors:
            problems.append(f"the server logged an error:\n{errors}")
        if request.node.stash.get(OUTCOMES, {}).get("call") != "passed":
            # The test failed already: what the browser saw is part of its story, not a second
            # failure.
            print("\n".join(problems), file=sys.stderr)
            return
        assert not problems, "\n".join(problems)
    finally:
        browsing.close()


@pytest.fixture
def watch(browsing: Browsing) -> Watch:
    return browsing.watch


@pytest.fixture
def open_page(browsing: Browsing) -> Callable[..., Page]:
    """A new page in a new browser context (a phone, 360 × 740, unless told otherwise)."""
    return browsing.open


@pytest.fixture
def page(open_page: Callable[..., Page]) -> Page:
    """A patient's phone: 360 × 740, touch, a fresh context (no cookies) per test."""
    return open_page()


# --- checks on a page ---------------------------------------------------------------------------


def axe_violations(page: Page) -> list[str]:
    """Serious and critical accessibility violations axe-core finds on the page as it is."""
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING_IMPACTS:
            continue
        targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:8])
        found.append(
            f"{violation['id']} ({violation['impact']}) on {urlsplit(page.url).path}: "
            f"{violation['help']} -> {targets}"
        )
    return found


def check_accessibility(page: Page) -> None:
    found = axe_violations(page)
    assert not found, "accessibility violations:\n" + "\n".join(found)


@pytest.fixture
def axe() -> Callable[[Page], None]:
    return check_accessibility


def fits_the_screen(page: Page) -> None:
    """Nothing wider than the screen: a phone must not scroll sideways."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"


STICKING_OUT = """() => {
  const name = (el) => el.tagName.toLowerCase()
    + (el.getAttribute("class") || "").split(/\\s+/).filter(Boolean).map((c) => "." + c).join("");
  const out = [];
  for (const el of document.querySelectorAll("main *")) {
    const box = (el.matches(".card") ? el.parentElement : el).closest(".card, main");
    const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (r.width > 1 && (r.right > b.right + 0.5 || r.left < b.left - 0.5)) {
      out.push(`${name(el)} spans ${Math.round(r.left)}-${Math.round(r.right)} px, `
        + `outside ${name(box)} (${Math.round(b.left)}-${Math.round(b.right)} px)`);
    }
  }
  return out;
}"""


def nothing_sticks_out(page: Page) -> None:
    """No element of the page sticks out of its card (or of <main>)."""
    found = page.evaluate(STICKING_OUT)
    assert not found, f"on {urlsplit(page.url).path}:\n" + "\n".join(found[:10])


def save_screenshot(page: Page, name: str) -> Path:
    """The whole page as docs/screenshots/<name>.png (written again on every run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    return save_screenshot

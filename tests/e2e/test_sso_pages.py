"""Staff single sign-on in a real browser, on a 360 px phone and at a desk, in Indonesian and
English: the staff button on the sign-in page, a staff member signing in through the clinic's
OpenID provider and landing on their page, someone whose groups give no role here sent back
with the reason, and a sign-in cancelled at the provider. Each page passes axe-core and fits a
phone's screen; the sign-in page and the refusal have their screenshots in the docs.

The folder's server has no single sign-on, so this module runs its own `antrean serve` next to
a real OpenID provider on loopback (tests/providers/oidc.py), and hands it to the folder's
watch as `live_server`: console errors, requests leaving the machine and errors in the
server's log are checked on it as on every other page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, Response, expect

from antrean.testing.live_server import free_port, stop_server, wait_ready
from tests.e2e.conftest import Server, Watch, fits_the_screen, nothing_sticks_out
from tests.e2e.test_message_pages import SIZES, check
from tests.e2e.test_patient_pages import main, switch_language
from tests.providers.oidc import AUTH, FakeOpenIdProvider

ScreenshotFn = Callable[[Page, str], Path]

CLIENT_ID = "antrean-staff"
CLIENT_SECRET = "klinik-sehat-client-secret"
SECRET_KEY = "sso-pages-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f"  # 48 characters
LABEL = "Klinik Sehat ID"
RETURN = "/login/sso/return"
LANGS = ("id", "en")
# What the visitor reads, in their language.
STAFF = {"id": "Staf klinik", "en": "Clinic staff"}
BUTTON = {"id": f"Masuk dengan {LABEL}", "en": f"Sign in with {LABEL}"}
NO_ROLE = {
    "id": "Akun organisasi Anda belum diberi peran di klinik ini.",
    "en": "Your organisation account has no role at this clinic.",
}
FAILED = {
    "id": "Masuk lewat akun organisasi gagal.",
    "en": "Signing in with your organisation account failed.",
}
PROBLEM = {"id": "Ada yang perlu diperbaiki", "en": "There is a problem"}


@dataclass
class Sso:
    """This module's server and the provider it trusts."""

    url: str
    log: Path
    idp: FakeOpenIdProvider


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sso]:
    data = tmp_path_factory.mktemp("e2e-sso")
    with FakeOpenIdProvider(CLIENT_ID, CLIENT_SECRET, []) as idp:
        idp.add_user(
            "u-rina", preferred_username="rina", name="Rina Kusuma", groups=["clinic-admins"]
        )
        idp.add_user("u-tamu", preferred_username="tamu", name="Tamu Umum", groups=["visitors"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTREAN_")}
        env |= {
            "ANTREAN_DATA_DIR": str(data),
            "ANTREAN_ENVIRONMENT": "test",
            "ANTREAN_SECRET_KEY": SECRET_KEY,
            "ANTREAN_LOG_LEVEL": "warning",
            "ANTREAN_OIDC_ISSUER": idp.issuer,
            "ANTREAN_OIDC_CLIENT_ID": CLIENT_ID,
            "ANTREAN_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "ANTREAN_OIDC_ROLE_MAP": "clinic-admins=admin, front-desk=operator",
            "ANTREAN_OIDC_LABEL": LABEL,
        }
        port = free_port()
        command = [sys.executable, "-m", "antrean", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", "1"]
        log = data / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_ready(url, proc)
            except RuntimeError as exc:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                pytest.fail(f"`antrean serve` with single sign-on: {exc}\n{tail}")
            idp.redirect_uris.append(url + RETURN)
            yield Sso(url=url, log=log, idp=idp)
        finally:
            stop_server(proc)


@pytest.fixture(scope="module")
def live_server(sso: Sso) -> Server:
    """The server the folder's watch checks, for the tests of this module: this one."""
    return Server(url=sso.url, log=sso.log)


@pytest.fixture(autouse=True)
def fresh_provider(sso: Sso) -> None:
    sso.idp.reset()


def staff_button(page: Page) -> Locator:
    return main(page).locator('section.sso a[href^="/login/sso"]')


def error_summary(page: Page) -> Locator:
    return main(page).locator(".error-summary[role=alert]")


def open_sign_in(page: Page, sso: Sso, lang: str, next_url: str = "") -> None:
    if lang != "id":
        switch_language(page, sso.url, lang)
    page.goto(f"{sso.url}/login" + (f"?next={next_url}" if next_url else ""))
    expect(page.locator("html")).to_have_attribute("lang", lang)


def to_the_provider(page: Page, sso: Sso, watch: Watch) -> None:
    """Press the staff button: the provider's own page, with a button per account. (The
    browser may ask the provider for an icon it does not have.)"""
    icon = re.escape(f"{sso.idp.url}/favicon.ico")
    watch.expect_console_error(rf"^Failed to load resource: .* status of 404 .*\(at {icon}\)$")
    staff_button(page).click()
    page.wait_for_url(re.compile(re.escape(sso.idp.issuer + AUTH) + r"\?"))
    expect(page.get_by_role("list", name="Accounts").get_by_role("button")).to_have_count(2)


def back_from_the_provider(page: Page, button: str) -> Response:
    """Press a button on the provider's page; the answer of this site's return address."""
    with page.expect_response(lambda r: urlsplit(r.url).path == RETURN) as answer:
        page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    return answer.value


def token_requests(sso: Sso) -> int:
    return sum(1 for r in sso.idp.requests if r.path.endswith("/token"))


@pytest.mark.parametrize("size", ["phone", "desk"])
@pytest.mark.parametrize("lang", LANGS)
def test_the_sign_in_page_offers_staff_sign_in(
    open_page: Callable[..., Page], sso: Sso, screenshot: ScreenshotFn, lang: str, size: str
):
    found: list[str] = []
    page = open_page(**SIZES[size])
    open_sign_in(page, sso, lang)
    section = main(page).locator("section.sso")
    expect(section.get_by_role("heading", level=2)).to_have_text(STAFF[lang])
    button = staff_button(page)
    expect(button).to_have_accessible_name(BUTTON[lang])
    expect(button).to_have_attribute("href", "/login/sso")
    expect(button).to_be_visible()
    # The password form stays first, for patients; the staff section follows it.
    expect(main(page).locator('form[action="/login"] ~ section.sso')).to_have_count(1)
    check(page, found, f"{lang} {size} /login")
    if size == "phone":
        fits_the_screen(page)
        nothing_sticks_out(page)
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44, f"the staff button is {box} on a phone"
        if lang == "id":
            screenshot(page, "sso-sign-in-phone")
    assert not found, "accessibility violations:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("size", "next_url", "lands_on"),
    [
        pytest.param("phone", "", "/admin", id="phone"),
        pytest.param("desk", "/admin/audit", "/admin/audit", id="desk-with-next"),
    ],
)
def test_a_staff_member_signs_in_through_the_provider(
    open_page: Callable[..., Page],
    sso: Sso,
    watch: Watch,
    size: str,
    next_url: str,
    lands_on: str,
):
    page = open_page(**SIZES[size])
    open_sign_in(page, sso, "id", next_url)
    expected_href = "/login/sso" + (f"?next={next_url}" if next_url else "")
    expect(staff_button(page)).to_have_attribute("href", expected_href)
    to_the_provider(page, sso, watch)
    answer = back_from_the_provider(page, "Sign in as Rina Kusuma")
    assert answer.status == 303, answer.status
    page.wait_for_url(sso.url + lands_on)
    expect(page.locator("header .who")).to_contain_text("Rina Kusuma")
    nav = page.locator("nav.subnav")
    expect(nav.locator(f'a[href="{lands_on}"][aria-current="page"]')).to_have_count(1)
    expect(main(page).get_by_role("heading", level=1)).to_be_visible()
    if lands_on == "/admin":
        expect(main(page).get_by_role("heading", level=1)).to_contain_text("Hari ini")
    expect(page.locator("h1")).to_have_count(1)
    if size == "phone":
        fits_the_screen(page)
    # The code was traded once; the pending sign-in's cookie is gone.
    assert token_requests(sso) == 1
    assert not [c for c in page.context.cookies() if c["name"] == "antrean_sso"]
    assert not watch.problems(), "\n".join(watch.problems())


@pytest.mark.parametrize("size", ["phone", "desk"])
@pytest.mark.parametrize("lang", LANGS)
def test_someone_without_a_staff_group_is_told_why(
    open_page: Callable[..., Page],
    sso: Sso,
    watch: Watch,
    screenshot: ScreenshotFn,
    lang: str,
    size: str,
):
    watch.expect_status(403)
    found: list[str] = []
    page = open_page(**SIZES[size])
    open_sign_in(page, sso, lang)
    to_the_provider(page, sso, watch)
    answer = back_from_the_provider(page, "Sign in as Tamu Umum")
    assert answer.status == 403, answer.status
    summary = error_summary(page)
    expect(summary.get_by_role("heading", level=2)).to_have_text(PROBLEM[lang])
    expect(summary.locator("li")).to_have_count(1)
    expect(summary.locator("li")).to_contain_text(NO_ROLE[lang])
    expect(summary).not_to_contain_text("sso_")
    expect(summary).to_be_focused()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    # Still the sign-in page, signed out, both ways in offered again.
    expect(page.locator("header .who")).to_have_count(0)
    expect(main(page).locator("#username")).to_be_visible()
    expect(staff_button(page)).to_have_accessible_name(BUTTON[lang])
    check(page, found, f"{lang} {size} refused")
    if size == "phone":
        fits_the_screen(page)
        nothing_sticks_out(page)
        if lang == "id":
            screenshot(page, "sso-refused-phone")
    page.goto(f"{sso.url}/admin")
    page.wait_for_url(re.compile(re.escape(sso.url) + r"/login\?next="))
    assert not found, "accessibility violations:\n" + "\n".join(found)


@pytest.mark.parametrize("lang", LANGS)
def test_cancelling_at_the_provider_comes_back_to_sign_in(
    open_page: Callable[..., Page], sso: Sso, watch: Watch, lang: str
):
    watch.expect_status(400)
    found: list[str] = []
    page = open_page()
    open_sign_in(page, sso, lang)
    to_the_provider(page, sso, watch)
    answer = back_from_the_provider(page, "Cancel")
    assert answer.status == 400, answer.status
    assert "error=access_denied" in answer.url
    expect(error_summary(page).locator("li")).to_contain_text(FAILED[lang])
    expect(error_summary(page)).to_be_focused()
    expect(page.locator("header .who")).to_have_count(0)
    expect(main(page).locator("#username")).to_be_visible()
    assert token_requests(sso) == 0
    check(page, found, f"{lang} phone cancelled")
    fits_the_screen(page)
    # Changing one's mind: the staff button on that page starts afresh and signs in.
    to_the_provider(page, sso, watch)
    assert back_from_the_provider(page, "Sign in as Rina Kusuma").status == 303
    page.wait_for_url(f"{sso.url}/admin")
    expect(page.locator("header .who")).to_contain_text("Rina Kusuma")
    assert not found, "accessibility violations:\n" + "\n".join(found)

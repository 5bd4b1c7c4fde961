"""The message pages in a real browser, at a desk (1366 × 768) and on a 360 px phone: the log
for an admin and for the front desk (filters, sending again), the texts and one text's form
for an admin (an unknown placeholder shown next to the field, the preview), and a patient's
own message choices (stopping SMS and turning it on again). Each passes axe-core, fits a
phone's screen, and has its screenshot in the docs.

The demo server has no message channel set up, so its messages are skipped with that reason:
the log has rows to show and to send again. Selectors use ids, addresses and attributes, not
visible words."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Api, Watch, axe_violations, fits_the_screen
from tests.e2e.test_devices_pages import DESK
from tests.e2e.test_patient_pages import main, sign_in

ScreenshotFn = Callable[[Page, str], Path]
SIZES = {"desk": DESK, "phone": {}}


def check(page: Page, found: list[str], step: str) -> None:
    expect(page.locator("h1")).to_have_count(1)
    found.extend(f"[{step}] {v}" for v in axe_violations(page))


def wait_for_a_skipped_message(api: Api, timeout: float = 20) -> None:
    """The server's own worker has handled some of the demo's messages (skipped: no channel)."""
    deadline = time.monotonic() + timeout
    with api.client("operator") as staff:
        assert staff.get("/messages", params={"size": 1}).json()["total"], "the demo made none"
        while time.monotonic() < deadline:
            if staff.get("/messages", params={"state": "skipped", "size": 1}).json()["total"]:
                return
            time.sleep(0.1)
    pytest.fail(f"the server's worker skipped no message within {timeout:.0f} s")


@pytest.mark.parametrize("size", ["desk", "phone"])
@pytest.mark.parametrize("role", ["admin", "operator"])
def test_the_log_for_admins_and_the_front_desk(
    open_page: Callable[..., Page],
    base_url: str,
    api: Api,
    screenshot: ScreenshotFn,
    role: str,
    size: str,
):
    wait_for_a_skipped_message(api)
    found: list[str] = []
    page = open_page(**SIZES[size])
    sign_in(page, base_url, role)
    page.goto(f"{base_url}/admin/messages")
    nav = page.locator("nav.subnav")
    expect(nav.locator('a[href="/admin/messages"][aria-current="page"]')).to_have_count(1)
    texts_link = main(page).locator('a[href="/admin/messages/texts"]')
    expect(texts_link).to_have_count(1 if role == "admin" else 0)
    rows = main(page).locator("table.stack tbody tr th[scope=row]")
    expect(rows).not_to_have_count(0)
    check(page, found, f"{role} {size} /admin/messages")
    if size == "phone":
        fits_the_screen(page)

    # Filter on skipped through the form: the address carries it, the count is marked.
    main(page).locator("#state").select_option("skipped")
    main(page).locator('form[role=search] [type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/admin/messages\?(.*&)?state=skipped"))
    expect(main(page).locator('.counts a[aria-current="true"]')).to_have_count(1)
    expect(main(page).locator('form[action$="/send-again"]')).not_to_have_count(0)
    check(page, found, f"{role} {size} /admin/messages?state=skipped")

    if role == "admin" and size == "desk":
        page.goto(f"{base_url}/admin/messages?state=skipped&size=25")
        screenshot(page, "admin-messages")

    if role == "operator" and size == "desk":
        # Send the newest skipped message again: back on the same filters, with a notice.
        first = main(page).locator('form[action$="/send-again"]').first
        action = first.get_attribute("action")
        first.locator("button").click()
        expect(page).to_have_url(re.compile(r"state=skipped.*&again=\d+$"))
        expect(main(page).locator(".notice.success[role=status]")).to_be_visible()
        message_id = int(re.search(r"/admin/messages/(\d+)/", action or "")[1])  # type: ignore[index]
        with api.client("operator") as staff:
            again = staff.get(f"/messages/{message_id}").json()
        assert again["state"] in ("pending", "sending", "skipped"), again

    assert not found, "accessibility violations:\n" + "\n".join(found)


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_the_texts_and_one_text_for_an_admin(
    open_page: Callable[..., Page],
    base_url: str,
    watch: Watch,
    screenshot: ScreenshotFn,
    size: str,
):
    found: list[str] = []
    page = open_page(**SIZES[size])
    sign_in(page, base_url, "admin")
    page.goto(f"{base_url}/admin/messages")
    main(page).locator('a[href="/admin/messages/texts"]').click()
    expect(page).to_have_url(re.compile(r"/admin/messages/texts$"))
    edit = main(page).locator('a[href="/admin/messages/texts/reminder/id"]')
    expect(edit).to_have_count(1)
    check(page, found, f"{size} /admin/messages/texts")
    if size == "phone":
        fits_the_screen(page)

    edit.click()
    expect(page).to_have_url(re.compile(r"/admin/messages/texts/reminder/id$"))
    expect(main(page).locator(".preview .body-text")).to_have_count(1)
    check(page, found, f"{size} /admin/messages/texts/reminder/id")
    if size == "phone":
        fits_the_screen(page)

    # A typo in a placeholder, previewed: the message next to the body, nothing saved.
    watch.expect_status(400)
    body = main(page).locator("#body")
    original = body.input_value()
    body.fill(original + " {dcotor}")
    main(page).locator('button[name="step"][value="preview"]').click()
    expect(main(page).locator("#body-error")).to_contain_text("{dcotor}")
    expect(body).to_have_attribute("aria-invalid", "true")
    expect(main(page).locator(".error-summary a[href='#body']")).to_have_count(1)
    check(page, found, f"{size} /admin/messages/texts/reminder/id with an error")
    page.goto(f"{base_url}/admin/messages/texts/reminder/id")
    expect(main(page).locator("#body")).to_have_value(original)
    if size == "desk":
        # Last: a screenshot leaves an empty style attribute on the focused field, which a
        # later swap would copy (and the page's CSP refuse).
        screenshot(page, "admin-message-text")

    assert not found, "accessibility violations:\n" + "\n".join(found)


@pytest.mark.parametrize("size", ["phone", "desk"])
def test_a_patient_stops_and_restarts_sms(
    open_page: Callable[..., Page],
    base_url: str,
    screenshot: ScreenshotFn,
    size: str,
):
    found: list[str] = []
    page = open_page(**SIZES[size])
    sign_in(page, base_url, "patient")
    page.goto(f"{base_url}/my/messages")
    sms = main(page).locator('form[action="/my/messages/sms"]')
    expect(sms).to_have_count(1)
    expect(sms.locator('input[name="out"]')).to_have_value("1")
    check(page, found, f"patient {size} /my/messages")
    if size == "phone":
        fits_the_screen(page)

    sms.locator("button").click()
    expect(main(page).locator(".notice.success[role=status]")).to_be_visible()
    expect(sms.locator('input[name="out"]')).to_have_value("0")
    check(page, found, f"patient {size} /my/messages with SMS stopped")
    sms.locator("button").click()  # on again: the demo patient as it was
    expect(sms.locator('input[name="out"]')).to_have_value("1")
    if size == "phone":
        page.goto(f"{base_url}/my/messages")
        screenshot(page, "my-messages")  # last, as on the texts' page

    assert not found, "accessibility violations:\n" + "\n".join(found)


def test_a_bad_e_mail_address_is_shown_next_to_its_field(
    open_page: Callable[..., Page], base_url: str, watch: Watch
):
    page = open_page()
    sign_in(page, base_url, "patient")
    page.goto(f"{base_url}/my/messages")
    watch.expect_status(400)
    email = main(page).locator("#email")
    email.fill("pasien@")
    main(page).locator('form[action="/my/messages"] [type="submit"]').click()
    expect(main(page).locator("#email-error")).to_be_visible()
    expect(email).to_have_attribute("aria-invalid", "true")
    found = axe_violations(page)
    assert not found, "accessibility violations:\n" + "\n".join(found)
    fits_the_screen(page)

"""A patient's pages in a real browser on a 360 px phone: booking with sign-up on the way, form
errors, the language switch, the live ticket page, what a patient may not open, and
accessibility (axe-core) in both languages.

Selectors use roles, ids, links and structure, not visible words: a change of wording or of a
translation must not break a test. Where words are checked, the page is in English."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import (
    DEMO,
    Api,
    Watch,
    axe_violations,
    fits_the_screen,
    nothing_sticks_out,
)

ScreenshotFn = Callable[[Page, str], Path]


def with_and_without_script() -> pytest.MarkDecorator:
    """Run a test with script off (plain forms and links) and on (HTMX)."""
    on = pytest.param(True, id="with-script")
    return pytest.mark.parametrize("script", [pytest.param(False, id="without-script"), on])


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def current_step(page: Page) -> Locator:
    return page.locator('ol.stepper [aria-current="step"]')


def expect_step(page: Page, number: int) -> None:
    """The stepper marks step `number` (1 clinic ... 6 confirm) as the current one."""
    expect(current_step(page)).to_have_text(re.compile(rf"^\s*{number}\."))


def main(page: Page) -> Locator:
    return page.locator("main")


def switch_language(page: Page, base_url: str, lang: str) -> None:
    page.goto(f"{base_url}/lang/{lang}?next=/")
    expect(page.locator("html")).to_have_attribute("lang", lang)


def sign_in(page: Page, base_url: str, role: str, next_url: str = "") -> None:
    username, password = DEMO[role]
    page.goto(f"{base_url}/login" + (f"?next={next_url}" if next_url else ""))
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    main(page).locator('form[action="/login"] [type="submit"]').click()
    expect(page.locator("header .who")).to_be_visible()


def take_igd_number(page: Page) -> str:
    """On /walk-in, signed in as a patient: take a number at the emergency unit (open around
    the clock); returns the ticket's status code, from the address of the ticket page."""
    button = main(page).get_by_role("button", name=re.compile("Instalasi Gawat Darurat"))
    button.click()
    expect(page).to_have_url(re.compile(r"/t/[^/?#]+$"))
    expect(page.locator(".ticket .number")).to_have_text(re.compile(r"\S"))
    return path_of(page).rsplit("/", 1)[1]


def walk_to_confirm(page: Page, base_url: str) -> dict[str, str]:
    """Book, as far as the confirm step: the first clinic, its first service, any doctor, the
    first day with free places, the first free time. Returns the choices in the address."""
    page.goto(f"{base_url}/book")
    expect_step(page, 1)
    main(page).locator("ul.choices a.choice").first.click()
    expect_step(page, 2)
    main(page).locator("ul.choices a.choice").first.click()
    expect_step(page, 3)
    main(page).locator('a.choice[href*="doctor=any"]').click()
    expect_step(page, 4)
    main(page).locator("ul.days a.day").first.click()
    expect_step(page, 5)
    chip = main(page).locator("ul.times a.chip").first
    slot = query_of(chip.get_attribute("href") or "")["slot"]
    chip.click()
    expect_step(page, 6)
    choices = query_of(page.url)
    assert choices["slot"] == slot, "the confirm step is for the time chosen"
    assert {"clinic", "service", "doctor", "day"} <= choices.keys()
    assert choices["doctor"] == "any"
    return choices


# --- a. booking, with a new account made on the way ----------------------------------------


@with_and_without_script()
def test_a_new_patient_signs_up_on_the_way_to_booking(
    open_page: Callable[..., Page],
    base_url: str,
    api: Api,
    screenshot: ScreenshotFn,
    script: bool,
):
    page = open_page(java_script_enabled=script)
    choices = walk_to_confirm(page, base_url)
    # Not signed in: the confirm step offers signing in or up, and no booking form yet.
    expect(main(page).locator('form[action="/book"]')).to_have_count(0)
    expect(page.locator("dl.facts dt")).to_have_count(5)
    fits_the_screen(page)
    nothing_sticks_out(page)
    screenshot(page, "patient-booking")

    signup = main(page).locator('a[href^="/signup?next="]')
    expect(signup).to_have_count(1)
    signup.click()
    expect(page).to_have_url(re.compile(r"/signup\?next="))
    username = f"e2e{uuid.uuid4().hex[:12]}"
    page.locator("#name").fill("Siti Rahmawati")
    page.locator("#birth_date").fill("1991-04-17")
    page.locator("#username").fill(username)
    page.locator("#password").fill("kata-sandi-rahasia-1")
    main(page).locator('form[action="/signup"] [type="submit"]').click()

    # Back on the confirm step, signed in, with the same choices.
    expect(page).to_have_url(re.compile(r"/book\?"))
    expect_step(page, 6)
    assert query_of(page.url) == choices
    expect(page.locator("header .who")).to_contain_text("Siti Rahmawati")
    form = main(page).locator('form[action="/book"]')
    for name, value in choices.items():
        if name != "start":
            expect(form.locator(f'input[type="hidden"][name="{name}"]')).to_have_value(value)
    form.locator('[type="submit"]').click()

    expect(page).to_have_url(re.compile(r"/appointments/[A-Z0-9-]+\?new=1$"))
    code = path_of(page).rsplit("/", 1)[1]
    expect(page.locator(".notice.success[role=status]")).to_be_visible()
    expect(page.locator("dl.facts dd strong").first).to_have_text(code)
    expect(page.locator("figure.qr svg")).to_be_visible()
    fits_the_screen(page)
    nothing_sticks_out(page)
    screenshot(page, "patient-confirmation")

    # The booking is the time chosen, for the new patient.
    with api.client("operator") as staff:
        booked = staff.get(f"/appointments/{code}").json()
    assert str(booked["slot_id"]) == choices["slot"]
    assert booked["day"] == choices["day"]
    assert str(booked["clinic_id"]) == choices["clinic"]
    assert booked["status"] == "booked"

    page.goto(f"{base_url}/my")
    expect(main(page).locator(f'a[href="/appointments/{code}"]')).to_have_count(1)


# --- b. form errors next to their fields ------------------------------------------------------

REQUIRED = ("name", "birth_date", "username", "password")


@with_and_without_script()
def test_b_an_empty_signup_shows_each_message_next_to_its_field(
    open_page: Callable[..., Page], base_url: str, watch: Watch, script: bool
):
    page = open_page(java_script_enabled=script)
    watch.expect_status(400)
    page.goto(f"{base_url}/signup")
    expect(page.locator("[aria-invalid=true]")).to_have_count(0)
    main(page).locator('form[action="/signup"] [type="submit"]').click()

    summary = main(page).locator(".error-summary[role=alert]")
    expect(summary).to_be_visible()
    for name in REQUIRED:
        field = page.locator(f"#{name}")
        expect(field).to_have_attribute("aria-invalid", "true")
        message = page.locator(f".field:has(> #{name}) > .error")
        expect(message).to_have_count(1)
        expect(message).to_have_text(re.compile(r"\S"))
        expect(message).to_have_attribute("id", f"{name}-error")
        expect(field).to_have_attribute("aria-describedby", re.compile(rf"\b{name}-error\b"))
        expect(summary.locator(f'a[href="#{name}"]')).to_have_count(1)
    # Optional fields are not flagged.
    expect(page.locator("[aria-invalid=true]")).to_have_count(len(REQUIRED))
    # A link of the summary takes the patient to the field.
    summary.locator('a[href="#birth_date"]').click()
    expect(page.locator("#birth_date")).to_be_focused()


# --- c. the language switch ----------------------------------------------------------------


@with_and_without_script()
def test_c_the_language_switch_changes_the_page_language(
    open_page: Callable[..., Page], base_url: str, script: bool
):
    page = open_page(java_script_enabled=script)
    page.goto(f"{base_url}/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "id")
    facility = page.locator("header .brand").inner_text().strip()

    page.locator('header a[hreflang="en"]').click()
    expect(page.locator("h1")).to_have_text(f"Welcome to {facility}")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator('header a[hreflang="en"]')).to_have_attribute("aria-current", "true")

    page.locator('header a[hreflang="id"]').click()
    expect(page.locator('header a[hreflang="id"]')).to_have_attribute("aria-current", "true")
    expect(html).to_have_attribute("lang", "id")
    # Remembered: a fresh load is still in Indonesian.
    page.reload()
    expect(html).to_have_attribute("lang", "id")


# --- d. the live ticket page ---------------------------------------------------------------


def test_the_first_form_after_signing_in_is_accepted(page: Page, base_url: str):
    sign_in(page, base_url, "patient", next_url="/walk-in")
    expect(page).to_have_url(re.compile(r"/walk-in$"))
    take_igd_number(page)


def test_d_the_ticket_page_shows_the_call_live(page: Page, base_url: str, api: Api):
    sign_in(page, base_url, "patient")
    # A fresh load of the page (see test_the_first_form_after_signing_in_is_accepted).
    page.goto(f"{base_url}/walk-in")
    take_igd_number(page)
    card = page.locator("section.ticket")
    label = page.locator(".ticket .number").inner_text().strip()
    expect(card).not_to_have_class(re.compile(r"\bis-called\b"))
    page.evaluate("() => { window.__samePage = true; }")

    with api.client("operator") as staff:
        igd = next(c for c in staff.get("/clinics").json() if c["code"] == "IGD")
        counters = staff.get(f"/clinics/{igd['id']}/counters").json()
        counter = counters[0] if counters else "Bed 1"
        called = None
        for _ in range(500):
            r = staff.post(f"/clinics/{igd['id']}/queue/call-next", json={"counter": counter})
            assert r.status_code == 200, f"the queue ran out before {label}: {r.text}"
            if r.json()["label"] == label:
                called = r.json()
                break
        assert called is not None and called["state"] == "called"

    expect(page.locator(".ticket.is-called")).to_be_visible(timeout=2000)
    expect(page.locator(".ticket .number")).to_have_text(label)
    expect(page.locator(".ticket .callout[role=alert]")).to_contain_text(counter)
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded"


# --- e. what a patient may not open ----------------------------------------------------------


STAFF_PAGES = (
    "/console",
    "/console/1",
    "/doctor",
    "/admin",
    "/admin/users",
    "/admin/bookings",
    "/admin/bookings.csv",
)


@pytest.mark.parametrize("staff_page", STAFF_PAGES)
def test_e_a_patient_cannot_open_a_staff_page(
    page: Page, base_url: str, watch: Watch, staff_page: str
):
    """Refused with the site's "not allowed" page, in words, with the way back home."""
    sign_in(page, base_url, "patient")
    watch.expect_status(403)
    response = page.goto(f"{base_url}{staff_page}")
    assert response is not None
    body = page.content()
    assert "Traceback" not in body and 'File "' not in body
    assert response.status == 403, (response.status, path_of(page))
    assert response.headers["content-type"].startswith("text/html")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("header .who")).to_be_visible()
    expect(main(page).locator('a[href="/my"]')).not_to_have_count(0)
    expect(main(page).locator("form, table")).to_have_count(0)


def test_e_a_patient_cannot_open_another_patients_booking(
    page: Page, base_url: str, api: Api, watch: Watch
):
    with api.client("patient") as me:
        my_patient = me.get("/auth/me").json()["patient_id"]
    with api.client("operator") as staff:
        items = staff.get("/appointments", params={"size": 200}).json()["items"]
        other = next(a for a in items if a["patient_id"] != my_patient)
        owner = staff.get(f"/patients/{other['patient_id']}").json()
        doctors = {d["id"]: d["name"] for d in staff.get("/doctors").json()}

    sign_in(page, base_url, "patient")
    watch.expect_status(404)
    response = page.goto(f"{base_url}/appointments/{other['code']}")
    assert response is not None
    assert response.status == 404
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("figure.qr")).to_have_count(0)
    expect(page.locator("dl.facts")).to_have_count(0)
    body = page.locator("body").inner_text()
    assert owner["name"] not in body
    assert owner["mrn"] not in body
    assert doctors.get(other["doctor_id"], "\0") not in body
    assert "Traceback" not in page.content()
    # Its calendar file and its reschedule page are not found either.
    for tail in ("/calendar.ics", "/reschedule"):
        r = page.request.get(f"{base_url}/appointments/{other['code']}{tail}", max_redirects=0)
        assert r.status == 404, (tail, r.status)
        assert owner["name"] not in r.text()


# --- f. accessibility in both languages ------------------------------------------------------


def _first_own_appointment(page: Page) -> str:
    link = main(page).locator('a[href^="/appointments/"]').first
    expect(link).to_be_visible()
    return link.get_attribute("href") or ""


@pytest.mark.parametrize("lang", ["id", "en"])
def test_f_the_patient_pages_pass_axe(page: Page, base_url: str, lang: str):
    found: list[str] = []

    def check(step: str) -> None:
        found.extend(f"[{lang} · {step}] {v}" for v in axe_violations(page))

    switch_language(page, base_url, lang)
    check("home")
    for path in ("/login", "/signup", "/walk-in"):
        page.goto(f"{base_url}{path}")
        check(path)

    page.goto(f"{base_url}/book")
    for step, pick in enumerate(
        (
            "ul.choices a.choice",
            "ul.choices a.choice",
            'a.choice[href*="doctor=any"]',
            "ul.days a.day",
            "ul.times a.chip",
        ),
        start=1,
    ):
        expect_step(page, step)
        check(f"book step {step}")
        main(page).locator(pick).first.click()
    expect_step(page, 6)
    check("book step 6 (signed out)")

    sign_in(page, base_url, "patient", next_url="/my")
    expect(page).to_have_url(re.compile(r"/my$"))
    check("/my")
    page.goto(f"{base_url}{_first_own_appointment(page)}")
    check("an appointment")
    page.goto(f"{base_url}/walk-in")
    check("/walk-in (signed in)")
    take_igd_number(page)
    check("the ticket page")

    assert not found, "accessibility violations:\n" + "\n".join(found)


# --- g. a small phone -------------------------------------------------------------------------

PUBLIC_PAGES = ("/", "/login", "/signup", "/walk-in", "/book", "/book?clinic=1")


@pytest.mark.parametrize(
    ("lang", "path"),
    [(lang, path) for lang in ("id", "en") for path in PUBLIC_PAGES],
)
def test_g_the_public_pages_fit_a_small_phone(page: Page, base_url: str, lang: str, path: str):
    switch_language(page, base_url, lang)
    page.goto(f"{base_url}{path}")
    fits_the_screen(page)
    nothing_sticks_out(page)


# --- the site's icon --------------------------------------------------------------------------


def test_the_site_has_an_icon(page: Page, base_url: str):
    """The icon the pages declare loads (without one, Chromium asks for /favicon.ico on every
    page and logs its 404 as a console error)."""
    page.goto(f"{base_url}/")
    icon = page.locator('head link[rel="icon"]')
    expect(icon).to_have_count(1)
    r = page.request.get(f"{base_url}{icon.get_attribute('href')}")
    assert r.status == 200
    assert r.headers["content-type"].startswith("image/")

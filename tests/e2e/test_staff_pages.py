"""The staff's pages in a real browser on a 1366 × 768 desk screen: the front desk's console
from the keyboard (F2 call next, F3 call again, F4 start, F8 finish, with a visible focus),
the console in English with no Indonesian left, an admin adding a doctor and a weekly session
that patients can then book, accessibility (axe-core) of every staff and admin page in both
languages, the pages a role may not open, and the screenshots of the docs.

Queue actions happen at the emergency unit (IGD), open around the clock, whose queue a test
empties first through the API. Selectors use roles, ids, addresses and data attributes, not
visible words; where words are checked, it is against the message catalogs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Api, Watch, axe_violations
from tests.e2e.test_devices_pages import (
    DESK,
    IGD_COUNTER,
    call_button,
    console_url,
    empty_the_queue,
    give_a_number,
    igd_id,
    indonesian_phrases,
    open_console,
    ticket_state,
    words_left,
)
from tests.e2e.test_patient_pages import main, sign_in

ScreenshotFn = Callable[[Page, str], Path]

FACILITY_ZONE = ZoneInfo("Asia/Jakarta")

# What the focused element shows: its outline must be neither "none" nor 0 px wide.
FOCUS_STYLE = """() => {
  const el = document.activeElement, s = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(), key: el.getAttribute("data-key"),
    text: (el.getAttribute("aria-label") || el.textContent || "").trim().slice(0, 40),
    outline: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
  };
}"""


def clinic_id_of(api: Api, code: str) -> int:
    with api.client("operator") as staff:
        return next(c["id"] for c in staff.get("/clinics").json() if c["code"] == code)


@pytest.fixture
def igd(api: Api) -> int:
    clinic_id = igd_id(api)
    empty_the_queue(api, clinic_id)
    return clinic_id


def switch_to(page: Page, lang: str) -> None:
    """The language links of the page's own header (they reload the page in place)."""
    page.locator(f'header a[hreflang="{lang}"]').click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


# --- a. the console from the keyboard ----------------------------------------------------------


def test_a_the_console_works_from_the_keyboard_with_a_visible_focus(
    open_page: Callable[..., Page], base_url: str, api: Api, igd: int
):
    label = give_a_number(api, igd, "Yuni Permana")["ticket"]
    page = open_console(open_page, base_url, igd)
    expect(call_button(page)).to_be_enabled()

    # Tab from the top of the page to "call next": every stop on the way shows its focus.
    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUS_STYLE)
        stops.append(stop)
        if stop["key"] == "F2":
            break
    assert stops[-1]["key"] == "F2", f"Tab never reached the call-next button: {stops}"
    expect(call_button(page)).to_be_focused()
    hidden = [s for s in stops if s["outline"] == "none" or s["width"] <= 0]
    assert not hidden, f"focus not visible on: {hidden}"

    panel = page.locator("#queue-panel")
    page.keyboard.press("F2")  # call next
    expect(panel.locator(".current .label-big")).to_have_text(label)
    expect(panel.locator(".current .badge.called")).to_have_count(1)
    assert ticket_state(api, igd, label)["state"] == "called"

    page.keyboard.press("F3")  # call again
    expect(panel.locator(".current p .muted")).to_have_text(re.compile(r"\b1\b"))
    assert ticket_state(api, igd, label)["recalls"] == 1

    page.keyboard.press("F4")  # start
    expect(panel.locator(".current .badge.serving")).to_have_count(1)
    assert ticket_state(api, igd, label)["state"] == "serving"

    page.keyboard.press("F8")  # finish
    expect(panel.locator(".current")).to_have_count(0)
    assert ticket_state(api, igd, label)["state"] == "done"
    expect(call_button(page)).to_be_disabled()  # nobody waits now


def test_a_the_transfer_list_offers_the_other_clinics_after_an_action(
    open_page: Callable[..., Page], base_url: str, api: Api, igd: int
):
    label = give_a_number(api, igd, "Rizky Saputra")["ticket"]
    with api.client("operator") as staff:
        others = [c["name"] for c in staff.get("/clinics").json() if c["id"] != igd]
        r = staff.post(f"/clinics/{igd}/queue/call-next", json={"counter": IGD_COUNTER})
        assert r.status_code == 200 and r.json()["label"] == label, r.text
    page = open_console(open_page, base_url, igd)
    options = page.locator('#queue-panel .current select[name="to_clinic"] option')
    expect(options).to_have_text(others)  # the page as loaded

    page.keyboard.press("F3")  # call again, through HTMX: the panel is swapped
    expect(page.locator("#queue-panel .current p .muted")).to_have_text(re.compile(r"\b1\b"))
    expect(options).to_have_text(others)


# --- b. the console in English ---------------------------------------------------------------


def pages_of(client: httpx.Client, path: str) -> list[dict]:
    items: list[dict] = []
    for number in range(1, 50):
        r = client.get(path, params={"page": number, "size": 100})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        if len(items) >= r.json()["total"]:
            return items
    return items


def data_on_the_page(page: Page, api: Api) -> list[str]:
    """What the pages show that is data, not words of the product: the names of the
    facility, clinics, counters, services, doctors, accounts, patients and device links."""
    names = [page.inner_text("header .brand"), page.inner_text("footer.site")]
    names.append(page.inner_text("header .who").split(" · ")[0])
    with api.client("admin") as admin:
        clinics = admin.get("/clinics").json()
        names += [c["name"] for c in clinics]
        for clinic in clinics:
            names += admin.get(f"/clinics/{clinic['id']}/counters").json()
            for t in admin.get(f"/clinics/{clinic['id']}/queue").json():
                names += [t["patient_name"], t["mrn"]]
        names += [s["name"] for s in admin.get("/services").json()]
        for doctor in admin.get("/doctors").json():
            names += [doctor["name"], doctor["specialty"]]
        users = pages_of(admin, "/auth/users")
        names += [u["full_name"] for u in users] + [u["username"] for u in users]
        names += [p["name"] for p in pages_of(admin, "/patients")]
    names += page.eval_on_selector_all(  # the device links' names
        'form[action$="/revoke"]', "els => els.map(f => f.closest('tr').cells[0].textContent)"
    )
    names += ["Cuti pribadi"]  # the reason of the demo's leave
    return names


def test_b_the_console_in_english_has_no_indonesian_left(
    open_page: Callable[..., Page], base_url: str, api: Api, igd: int
):
    """Every kind of content the console has, at once: a patient at the desk, others waiting,
    one done, a search with results, a number just given and both folded sections open."""
    for name in ("Fajar Halim", "Indah Purnomo", "Teguh Nasution"):
        give_a_number(api, igd, name)
    with api.client("operator") as staff:
        done = staff.post(f"/clinics/{igd}/queue/call-next", json={"counter": "Bed 2"}).json()
        for action in ("start", "finish"):
            assert staff.post(f"/queue/tickets/{done['id']}/{action}").status_code == 200
    page = open_console(open_page, base_url, igd)
    phrases = indonesian_phrases()
    assert len(phrases) > 200, "the catalog was not read"
    in_indonesian = words_left(page, phrases, data_on_the_page(page, api))
    assert len(in_indonesian) > 20, f"the check finds no Indonesian on the page: {in_indonesian}"

    switch_to(page, "en")
    call_button(page).click()
    expect(page.locator("#queue-panel .current")).to_have_count(1)

    aside = page.locator('aside[aria-label] form[action$="/patients"]')
    aside.locator("#q").fill("Budi")
    aside.locator('[type="submit"]').click()
    expect(page.locator("#search-results form.found")).not_to_have_count(0)
    page.locator("#search-results form.found").first.locator('[type="submit"]').click()
    expect(page.locator(".card.issued[role=status]")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.eval_on_selector_all("details", "els => els.forEach(d => { d.open = true; })")
    expect(page.locator("#queue-panel .current")).to_have_count(1)
    expect(page.locator("[data-live-status]")).to_have_text(re.compile(r"\S"))

    left = words_left(page, phrases, data_on_the_page(page, api))
    assert not left, f"Indonesian on the English console: {left}"


ENGLISH_PAGES = (
    ("admin", "/console"),
    ("admin", "/admin"),
    ("admin", "/admin/bookings"),
    ("admin", "/admin/clinics"),
    ("admin", "/admin/services"),
    ("admin", "/admin/doctors"),
    ("admin", "/admin/doctors/1"),
    ("admin", "/admin/users"),
    ("admin", "/admin/devices"),
    ("admin", "/admin/settings"),
    ("admin", "/account/two-step"),
    ("doctor", "/doctor"),
)


@pytest.mark.parametrize(("role", "path"), ENGLISH_PAGES)
def test_b_the_staff_pages_in_english_have_no_indonesian_left(
    open_page: Callable[..., Page], base_url: str, api: Api, role: str, path: str
):
    page = open_page(**DESK)
    sign_in(page, base_url, role)
    page.goto(f"{base_url}{path}")
    switch_to(page, "en")
    page.eval_on_selector_all("details", "els => els.forEach(d => { d.open = true; })")
    left = words_left(page, indonesian_phrases(), data_on_the_page(page, api))
    assert not left, f"Indonesian on {path} in English: {left}"


# --- c. a new doctor, bookable ---------------------------------------------------------------


def test_c_a_doctor_and_session_added_by_the_admin_can_be_booked(
    open_page: Callable[..., Page], base_url: str, api: Api
):
    umum = clinic_id_of(api, "UMUM")
    today = datetime.now(FACILITY_ZONE).date()
    day = today + timedelta(days=2)
    if day.weekday() == 6:  # Poli Umum is closed on Sundays
        day += timedelta(days=1)
    name = f"dr. Nadia Uji {uuid.uuid4().hex[:6]}"

    admin = open_page(**DESK)
    sign_in(admin, base_url, "admin")
    admin.goto(f"{base_url}/admin/doctors")
    form = main(admin).locator('form[action="/admin/doctors"]')
    form.locator("#name").fill(name)
    form.locator("#specialty").fill("Dokter Umum")
    form.locator('[type="submit"]').click()
    expect(admin).to_have_url(re.compile(r"/admin/doctors/\d+\?saved=1$"))
    doctor_id = int(re.search(r"/admin/doctors/(\d+)", admin.url)[1])  # type: ignore[index]
    expect(admin.locator("h1")).to_have_text(name)

    session = main(admin).locator(f'form[action="/admin/doctors/{doctor_id}/schedules"]')
    session.locator("#clinic_id").select_option(str(umum))
    session.locator("#weekday").select_option(str(day.weekday()))
    session.locator("#start").fill("09:00")
    session.locator("#end").fill("10:00")
    session.locator("#slot_minutes").fill("15")
    session.locator("#capacity").fill("2")
    session.locator('[type="submit"]').click()
    expect(admin).to_have_url(re.compile(r"\?saved=schedule"))
    rows = admin.locator("#schedules tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("09.00–10.00")

    # A patient's phone: the clinic, its first service, the new doctor, the day, the times.
    phone = open_page()
    phone.goto(f"{base_url}/book")
    main(phone).locator(f'a.choice[href="/book?clinic={umum}"]').click()
    main(phone).locator("ul.choices a.choice").first.click()
    expect(phone).to_have_url(re.compile(r"service=\d+"))
    doctor = main(phone).locator(f'a.choice[href$="&doctor={doctor_id}"]')
    try:
        expect(doctor).to_have_count(1)
    except AssertionError as exc:  # say what the page offered instead
        offered = main(phone).inner_text()[:1200]
        raise AssertionError(f"{exc}\n{phone.url} (the doctor's day {day}):\n{offered}") from None
    expect(doctor.locator("strong")).to_have_text(name)
    doctor.click()
    days = main(phone).locator("ul.days a.day")
    expect(days).not_to_have_count(0)
    offered = [
        datetime.strptime(re.search(r"day=([\d-]+)", h)[1], "%Y-%m-%d").date()  # type: ignore[index]
        for h in days.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    ]
    assert offered[0] == day, (offered, day)
    assert {d.weekday() for d in offered} == {day.weekday()}, offered
    days.first.click()
    expect(main(phone).locator("p.muted")).to_contain_text(name)
    times = main(phone).locator("ul.times a.chip > span")
    expect(times).to_have_text(["09.00", "09.15", "09.30", "09.45"])
    expect(main(phone).locator("ul.times a.chip small").first).to_contain_text("2")


# --- d. accessibility in both languages ----------------------------------------------------


ADMIN_PAGES = (
    "/console",
    "/admin",
    "/admin/bookings",
    "/admin/clinics",
    "/admin/clinics/{igd}",
    "/admin/services",
    "/admin/doctors",
    "/admin/doctors/1",
    "/admin/users",
    "/admin/devices",
    "/admin/settings",
    "/admin/bookings/{code}",
    "/account/two-step",
)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_d_the_staff_pages_pass_axe(
    open_page: Callable[..., Page], base_url: str, api: Api, igd: int, lang: str
):
    found: list[str] = []

    def check(page: Page, step: str) -> None:
        found.extend(f"[{lang} · {step}] {v}" for v in axe_violations(page))

    with api.client("operator") as staff:
        code = staff.get("/appointments", params={"size": 1}).json()["items"][0]["code"]
    for name in ("Lina Hasibuan", "Dimas Gunawan"):
        give_a_number(api, igd, name)

    admin = open_page(**DESK)
    sign_in(admin, base_url, "admin")
    admin.goto(f"{base_url}/admin")
    switch_to(admin, lang)
    for path in ADMIN_PAGES:
        admin.goto(f"{base_url}{path.format(igd=igd, code=code)}")
        expect(admin.locator("h1")).to_have_count(1)
        check(admin, path)

    # The console with a patient at the desk and the walk-in form open.
    admin.goto(console_url(base_url, igd))
    call_button(admin).click()
    expect(admin.locator("#queue-panel .current")).to_have_count(1)
    admin.eval_on_selector_all("details", "els => els.forEach(d => { d.open = true; })")
    check(admin, "/console/{igd} with a call")

    # A leave's preview on a doctor's page.
    admin.goto(f"{base_url}/admin/doctors/1")
    leave = main(admin).locator('form[action="/admin/doctors/1/exceptions"]')
    next_week = datetime.now(FACILITY_ZONE).date() + timedelta(days=7)
    leave.locator("#x_date_from").fill(next_week.isoformat())
    leave.locator('button[name="step"][value="preview"]').click()
    expect(main(admin).locator("#exceptions .notice.warning[role=alert]")).to_be_visible()
    check(admin, "/admin/doctors/1 with a leave's preview")

    doctor = open_page(**DESK)
    sign_in(doctor, base_url, "doctor")
    switch_to(doctor, lang)
    expect(doctor).to_have_url(re.compile(r"/doctor$"))
    check(doctor, "/doctor")
    doctor.goto(console_url(base_url, igd, who="doctor"))
    expect(doctor.locator("#queue-panel")).to_be_visible()
    check(doctor, "/doctor/{igd}")

    assert not found, "accessibility violations:\n" + "\n".join(found)


FIELDS_AND_LABELS = """() => {
  const counts = {};
  for (const el of document.querySelectorAll("[id]")) counts[el.id] = (counts[el.id] || 0) + 1;
  const controls = "input:not([type=hidden]), select, textarea";
  return {
    duplicated: Object.keys(counts).filter((id) => counts[id] > 1),
    unlabelled: [...document.querySelectorAll(controls)]
      .filter((el) => !el.labels.length && !el.getAttribute("aria-label")
        && !el.getAttribute("aria-labelledby"))
      .map((el) => `${el.form ? el.form.getAttribute("action") : ""} ${el.name}`),
    misplaced: [...document.querySelectorAll("label[for]")]
      .filter((label) => label.control === null
        || (label.closest("form") && label.closest("form") !== label.control.form))
      .map((label) => `${label.htmlFor}: ${label.textContent.trim()}`),
  };
}"""


@pytest.mark.parametrize(
    "path",
    [path for path in (*ADMIN_PAGES, "/console/{igd}?counter=Bed%201")],
)
def test_d_every_field_has_a_label_of_its_own(
    open_page: Callable[..., Page], base_url: str, api: Api, path: str
):
    with api.client("operator") as staff:
        code = staff.get("/appointments", params={"size": 1}).json()["items"][0]["code"]
    page = open_page(**DESK)
    sign_in(page, base_url, "admin")
    page.goto(f"{base_url}{path.format(igd=igd_id(api), code=code)}")
    page.eval_on_selector_all("details", "els => els.forEach(d => { d.open = true; })")
    found = page.evaluate(FIELDS_AND_LABELS)
    assert found == {"duplicated": [], "unlabelled": [], "misplaced": []}, found


# --- e. what each role may not open ------------------------------------------------------------


REFUSED = (
    ("patient", "/admin/bookings"),
    ("patient", "/console/1"),
    ("patient", "/doctor"),
    ("operator", "/admin"),
    ("operator", "/admin/devices"),
    ("operator", "/doctor"),
    ("doctor", "/admin/clinics"),
    ("doctor", "/admin/users"),
)


@pytest.mark.parametrize(("role", "path"), REFUSED)
def test_e_a_role_gets_the_not_allowed_page(
    open_page: Callable[..., Page], base_url: str, watch: Watch, role: str, path: str
):
    page = open_page(**DESK)
    sign_in(page, base_url, role)
    home = page.url
    watch.expect_status(403)
    response = page.goto(f"{base_url}{path}")
    assert response is not None
    assert response.status == 403, (response.status, path)
    assert response.headers["content-type"].startswith("text/html")
    body = page.content()
    assert "Traceback" not in body and 'File "' not in body
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("header .who")).to_be_visible()
    expect(main(page).locator("form, table")).to_have_count(0)
    back = main(page).locator("a.button[href]")
    expect(back).to_have_count(1)
    back.click()
    expect(page).to_have_url(home)


@pytest.mark.parametrize("role", ["operator", "doctor"])
def test_e_the_bookings_page_offers_staff_only_pages_they_may_open(
    open_page: Callable[..., Page], base_url: str, role: str
):
    page = open_page(**DESK)
    sign_in(page, base_url, role)
    response = page.goto(f"{base_url}/admin/bookings")
    assert response is not None and response.status == 200
    links = page.eval_on_selector_all(
        "main a[href^='/']", "els => [...new Set(els.map(e => e.getAttribute('href')))]"
    )
    assert links
    refused = [h for h in links if page.request.get(f"{base_url}{h}").status == 403]
    assert not refused, f"links on /admin/bookings the {role} may not open: {refused}"


# --- f. screenshots ----------------------------------------------------------------------------


def test_f_screenshots_of_the_staff_pages(
    open_page: Callable[..., Page], base_url: str, api: Api, igd: int, screenshot: ScreenshotFn
):
    for name in ("Bambang Siregar", "Mega Wulandari", "Arif Santoso", "Putri Hidayat"):
        give_a_number(api, igd, name)
    with api.client("operator") as staff:
        r = staff.post(f"/clinics/{igd}/queue/call-next", json={"counter": "Bed 2"})
        assert r.status_code == 200, r.text
    console = open_console(open_page, base_url, igd)
    console.keyboard.press("F2")
    expect(console.locator("#queue-panel .current")).to_have_count(1)
    screenshot(console, "operator-console")

    doctor = open_page(**DESK)
    sign_in(doctor, base_url, "doctor")
    expect(doctor).to_have_url(re.compile(r"/doctor$"))
    screenshot(doctor, "doctor-day")

    admin = open_page(**DESK)
    sign_in(admin, base_url, "admin")
    expect(admin).to_have_url(re.compile(r"/admin$"))
    expect(admin.locator("#figures tbody tr")).not_to_have_count(0)
    screenshot(admin, "admin-dashboard")
    today = datetime.now(FACILITY_ZONE).date()
    days = f"from={today.isoformat()}&to={(today + timedelta(days=1)).isoformat()}"
    admin.goto(f"{base_url}/admin/bookings?{days}&size=25")
    expect(admin.locator("tbody tr a[href^='/admin/bookings/']")).not_to_have_count(0)
    screenshot(admin, "admin-bookings")

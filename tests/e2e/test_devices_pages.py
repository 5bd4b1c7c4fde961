"""The waiting room's devices in a real browser: the TV board and a patient's ticket page
following the front desk's calls live (and its undo), the ticket kiosk taking a number and
printing an 80 mm ticket, the display and kiosk links an admin makes and revokes, the
device pages in English with no Indonesian left, accessibility (axe-core) in both languages,
and the screenshots of the docs.

The devices open by their secret links, made here as an admin makes them, on /admin/devices.
Every queue action happens at the emergency unit (IGD), open around the clock, whose queue a
test empties first (through the API) so that the number it calls is the one it expects.

Selectors use ids, classes, data attributes and addresses, not visible words. The helpers
below are shared with the staff pages' tests (test_staff_pages.py)."""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import ROOT, Api, Browsing, Watch, axe_violations
from tests.e2e.test_patient_pages import main, sign_in

ScreenshotFn = Callable[[Page, str], Path]

DESK = {"viewport": {"width": 1366, "height": 768}, "is_mobile": False, "has_touch": False}
TV = {"viewport": {"width": 1920, "height": 1080}, "is_mobile": False, "has_touch": False}
KIOSK = {"viewport": {"width": 1024, "height": 768}, "is_mobile": False, "has_touch": True}
IGD_COUNTER = "Bed 1"
LIVE_WITHIN_MS = 2000  # a call reaches the board and the patient's phone within 2 s
MM = 96 / 25.4  # CSS pixels per millimetre
PT_PER_MM = 72 / 25.4  # PDF points per millimetre
CATALOG = ROOT / "src/antrean/adapters/web/locale/id/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")

# Every event stream a page opens tells the test when it delivered its first event (the
# board itself, or the "snapshot" a live part starts with): from then on the page is
# subscribed, and what changes on the server reaches it by the stream alone.
HEARD_STREAMS = """(() => {
  const Original = window.EventSource;
  window.__heard = [];
  window.EventSource = class extends Original {
    constructor(url, init) {
      super(url, init);
      for (const type of ["board", "snapshot"]) {
        this.addEventListener(type, () => window.__heard.push(type));
      }
    }
  };
})();"""

# window.print, recorded instead of opening the browser's print dialog.
RECORD_PRINT = "window.__printed = 0; window.print = () => { window.__printed += 1; };"


# --- helpers shared with the staff pages' tests --------------------------------------------


@dataclass(frozen=True)
class Links:
    """A display link and a kiosk link, for every clinic of the demo, and their names."""

    display: str
    kiosk: str
    names: tuple[str, ...] = ()

    @property
    def kiosk_token(self) -> str:
        return urlsplit(self.kiosk).path.rsplit("/", 1)[1]


def make_device_link(page: Page, base_url: str, kind: str, name: str) -> str:
    """On /admin/devices, signed in as an admin: a link of `kind` ("display" or "kiosk") for
    every clinic. Returns its address, shown once, with its QR code."""
    page.goto(f"{base_url}/admin/devices")
    form = main(page).locator('form[action="/admin/devices"]')
    form.locator(f'input[name="kind"][value="{kind}"]').check()
    form.locator("#name").fill(name)
    boxes = form.locator('input[name="clinic_ids"]')
    expect(boxes).not_to_have_count(0)
    for box in boxes.all():
        box.check()
    form.locator('[type="submit"]').click()
    made = main(page).locator(".card.issued[role=status]")
    expect(made).to_be_visible()
    expect(made.locator("figure.qr svg")).to_be_visible()
    url = made.locator("a[href]").get_attribute("href") or ""
    assert re.fullmatch(rf"{re.escape(base_url)}/{kind}/[A-Za-z0-9_-]{{20,}}", url), url
    expect(made.locator("a[href]")).to_have_text(url)
    return url


def device_links(browser: Browser, base_url: str) -> Links:
    """A display link and a kiosk link made by the admin in a browser of their own."""
    browsing = Browsing(browser)
    try:
        page = browsing.open(**DESK)
        sign_in(page, base_url, "admin")
        suffix = uuid.uuid4().hex[:6]
        names = (f"TV ruang tunggu {suffix}", f"Kios tiket {suffix}")
        links = Links(
            display=make_device_link(page, base_url, "display", names[0]),
            kiosk=make_device_link(page, base_url, "kiosk", names[1]),
            names=names,
        )
        problems = browsing.watch.problems()
        assert not problems, "\n".join(problems)
        return links
    finally:
        browsing.close()


def igd_id(api: Api) -> int:
    with api.client("operator") as staff:
        return next(c["id"] for c in staff.get("/clinics").json() if c["code"] == "IGD")


def empty_the_queue(api: Api, clinic_id: int) -> None:
    """Nobody waiting, called or in service at the clinic: what earlier tests left is
    cancelled or finished, so the next call is for the number a test gives out."""
    with api.client("operator") as staff:
        for ticket in staff.get(f"/clinics/{clinic_id}/queue").json():
            action = {"waiting": "cancel", "called": "cancel", "serving": "finish"}.get(
                ticket["state"]
            )
            if action:
                r = staff.post(f"/queue/tickets/{ticket['id']}/{action}")
                assert r.status_code == 200, r.text
        left = [
            t["label"]
            for t in staff.get(f"/clinics/{clinic_id}/queue").json()
            if t["state"] in ("waiting", "called", "serving")
        ]
    assert not left, f"still in line: {left}"


def give_a_number(api: Api, clinic_id: int, name: str, birth_date: str = "1980-05-17") -> dict:
    """A walk-in registered by the front desk (the API): the ticket's label and status code."""
    with api.client("operator") as staff:
        r = staff.post(
            "/queue/walk-ins",
            json={"clinic_id": clinic_id, "name": name, "birth_date": birth_date},
        )
    assert r.status_code == 201, r.text
    return r.json()


def ticket_state(api: Api, clinic_id: int, label: str) -> dict:
    with api.client("operator") as staff:
        return next(
            t for t in staff.get(f"/clinics/{clinic_id}/queue").json() if t["label"] == label
        )


def console_url(
    base_url: str, clinic_id: int, counter: str = IGD_COUNTER, who: str = "console"
) -> str:
    return f"{base_url}/{who}/{clinic_id}?counter={counter.replace(' ', '%20')}"


def open_console(
    open_page: Callable[..., Page], base_url: str, clinic_id: int, role: str = "operator"
) -> Page:
    """The front desk's console for the clinic's counter "Bed 1", on a 1366 × 768 screen,
    subscribed to the clinic's events."""
    page = open_page(**DESK)
    page.add_init_script(HEARD_STREAMS)
    sign_in(page, base_url, role)
    page.goto(console_url(base_url, clinic_id))
    expect(page.locator("#queue-panel")).to_be_visible()
    wait_until_subscribed(page)
    return page


def wait_until_subscribed(page: Page) -> None:
    page.wait_for_function("() => (window.__heard || []).length > 0", timeout=10_000)


def open_board(open_page: Callable[..., Page], links: Links, lang: str | None = None) -> Page:
    page = open_page(**TV)
    page.add_init_script(HEARD_STREAMS)
    if lang:
        base = f"{urlsplit(links.display).scheme}://{urlsplit(links.display).netloc}"
        page.goto(f"{base}/lang/{lang}?next=/")
    page.goto(links.display)
    expect(page.locator("#board")).to_be_attached()
    wait_until_subscribed(page)
    page.evaluate("() => { window.__samePage = true; }")
    return page


def open_ticket(open_page: Callable[..., Page], base_url: str, status_code: str) -> Page:
    page = open_page()
    page.add_init_script(HEARD_STREAMS)
    page.goto(f"{base_url}/t/{status_code}")
    expect(page.locator("#ticket-card")).to_be_visible()
    wait_until_subscribed(page)
    page.evaluate("() => { window.__samePage = true; }")
    return page


def call_button(page: Page) -> Locator:
    return page.locator('#queue-panel button[data-key="F2"]')


def ms_left(started: float) -> float:
    return max(1.0, LIVE_WITHIN_MS - (time.monotonic() - started) * 1000)


@functools.cache
def indonesian_phrases() -> tuple[str, ...]:
    """Every piece of an Indonesian translation that differs from its English source, between
    placeholders, longer than four characters."""
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale="id")
    found: set[str] = set()
    for message in catalog:
        if not message.id or not message.string:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if text in sources:
                continue
            english = " ".join(sources)
            for piece in PLACEHOLDER.split(text):
                piece = piece.strip(" .,:;·()–-")
                if len(piece) > 4 and piece not in english:
                    found.add(piece)
    return tuple(sorted(found))


def words_left(page: Page, phrases: tuple[str, ...], data: list[str]) -> list[str]:
    """Catalog phrases still on the page: in its visible text, its title, and the labels of
    its controls; data (names of the facility, clinics, patients and counters) taken out."""
    text = "\n".join(
        [
            page.inner_text("body"),
            page.title(),
            *page.eval_on_selector_all(
                "[aria-label], [title], [placeholder]",
                "els => els.map(e => [e.getAttribute('aria-label'), e.getAttribute('title'),"
                " e.getAttribute('placeholder')].filter(Boolean).join(' '))",
            ),
        ]
    )
    for item in sorted(data, key=len, reverse=True):
        if item:
            text = text.replace(item, " ")
    return [p for p in phrases if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text)]


@pytest.fixture(scope="module")
def links(browser: Browser, base_url: str) -> Links:
    return device_links(browser, base_url)


@pytest.fixture
def igd(api: Api) -> Iterator[int]:
    clinic_id = igd_id(api)
    empty_the_queue(api, clinic_id)
    yield clinic_id


# --- a. a call reaches the board and the patient's phone ----------------------------------


def test_a_a_call_reaches_the_board_and_the_ticket_page_within_two_seconds(
    open_page: Callable[..., Page], base_url: str, api: Api, links: Links, igd: int
):
    ticket = give_a_number(api, igd, "Rina Kurniawan")
    label, code = ticket["ticket"], ticket["status_code"]
    board = open_board(open_page, links)
    phone = open_ticket(open_page, base_url, code)
    expect(phone.locator(".ticket")).not_to_have_class(re.compile(r"\bis-called\b"))
    expect(board.locator("#board .now-number")).to_have_count(0)
    expect(board.locator("#board .next-numbers")).to_contain_text([label])

    desk = open_console(open_page, base_url, igd)
    expect(call_button(desk)).to_be_enabled()
    started = time.monotonic()
    desk.keyboard.press("F2")

    expect(board.locator("#board .now-number")).to_have_text(label, timeout=ms_left(started))
    expect(phone.locator(".ticket.is-called")).to_be_visible(timeout=ms_left(started))
    # Both by their streams, without reloading.
    assert board.evaluate("() => window.__samePage === true"), "the board was reloaded"
    assert phone.evaluate("() => window.__samePage === true"), "the ticket page was reloaded"
    expect(board.locator("#board .now-where")).to_contain_text(IGD_COUNTER)
    expect(phone.locator(".ticket .callout[role=alert]")).to_contain_text(IGD_COUNTER)
    # The board announces it (the large number flashes), and the console shows it at the desk.
    expect(board.locator("#board .now")).to_have_class(re.compile(r"\bflash\b"))
    expect(desk.locator("#queue-panel .current .label-big")).to_have_text(label)
    assert ticket_state(api, igd, label)["state"] == "called"


# --- b. undo puts the board back --------------------------------------------------------------


def test_b_undo_takes_the_call_off_the_board(
    open_page: Callable[..., Page], base_url: str, api: Api, links: Links, igd: int
):
    ticket = give_a_number(api, igd, "Joko Saputra")
    label = ticket["ticket"]
    board = open_board(open_page, links)
    phone = open_ticket(open_page, base_url, ticket["status_code"])
    desk = open_console(open_page, base_url, igd)
    call_button(desk).click()
    expect(board.locator("#board .now-number")).to_have_text(label, timeout=LIVE_WITHIN_MS)
    expect(phone.locator(".ticket.is-called")).to_be_visible(timeout=LIVE_WITHIN_MS)

    undo = desk.locator('#queue-panel .current form[action$="/undo"] button')
    expect(undo).to_have_count(1)
    started = time.monotonic()
    undo.click()

    # The board is as it was before the call: nobody called, the number back in "next".
    expect(board.locator("#board .now-number")).to_have_count(0, timeout=ms_left(started))
    expect(board.locator("#board .next-numbers")).to_contain_text([label], timeout=ms_left(started))
    expect(phone.locator(".ticket")).not_to_have_class(
        re.compile(r"\bis-called\b"), timeout=ms_left(started)
    )
    assert board.evaluate("() => window.__samePage === true"), "the board was reloaded"
    expect(desk.locator("#queue-panel .current")).to_have_count(0)
    assert ticket_state(api, igd, label)["state"] == "waiting"


def test_b_the_board_shows_the_next_numbers_of_every_clinic_on_a_full_hd_tv(
    open_page: Callable[..., Page], api: Api, links: Links, igd: int
):
    labels = [give_a_number(api, igd, name)["ticket"] for name in ("Nur Halim", "Ani Susanti")]
    board = open_board(open_page, links)
    expect(board.locator("#board .next li")).not_to_have_count(0)
    cut = board.evaluate(
        """() => {
          const box = document.querySelector("#board .next").getBoundingClientRect();
          const screen = document.documentElement.clientHeight;
          return [...document.querySelectorAll("#board .next li")]
            .filter((li) => { const r = li.getBoundingClientRect();
              return r.bottom > Math.min(box.bottom, screen) + 0.5; })
            .map((li) => li.querySelector(".next-clinic").textContent.trim());
        }"""
    )
    assert not cut, f"cut off the board's next numbers: {cut}"
    for label in labels:
        expect(board.locator("#board .next-numbers span", has_text=label)).to_be_in_viewport()


# --- c. the kiosk gives a number and prints it ------------------------------------------------


def take_a_number_at_the_kiosk(page: Page, links: Links, clinic_id: int, name: str) -> str:
    """On the kiosk: the clinic's button, the name and date of birth, then "take my number".
    Returns the ticket's status code, from the address of the ticket page."""
    page.goto(links.kiosk)
    button = page.locator(f'main a.button[href="/kiosk/{links.kiosk_token}/take/{clinic_id}"]')
    expect(button).to_be_visible()
    button.click()
    form = page.locator(f'main form[action="/kiosk/{links.kiosk_token}/take/{clinic_id}"]')
    form.locator("#name").fill(name)
    form.locator("#birth_date").fill("1972-08-09")
    form.locator('[type="submit"]').click()
    expect(page).to_have_url(re.compile(rf"/kiosk/{links.kiosk_token}/ticket/[^/?#]+$"))
    return urlsplit(page.url).path.rsplit("/", 1)[1]


def test_c_the_kiosk_gives_a_number_and_prints_the_ticket(
    open_page: Callable[..., Page], api: Api, links: Links, igd: int, screenshot: ScreenshotFn
):
    page = open_page(**KIOSK)
    page.add_init_script(RECORD_PRINT)
    code = take_a_number_at_the_kiosk(page, links, igd, "Sri Wulandari")
    with api.client() as anyone:
        status = anyone.get(f"/queue/status/{code}").json()

    receipt = page.locator("article.receipt")
    expect(receipt.locator(".r-number")).to_have_text(status["ticket"])
    expect(receipt.locator(".r-clinic")).to_have_text(status["clinic_name"])
    expect(receipt.locator(".r-qr svg")).to_be_visible()
    expect(receipt).to_contain_text(code)
    # The kiosk prints by itself, once, and goes back to its start page later.
    page.wait_for_function("() => window.__printed > 0")
    assert page.evaluate("() => window.__printed") == 1
    done = page.locator("main a[data-return-after]")
    expect(done).to_have_attribute("href", f"/kiosk/{links.kiosk_token}")

    # Printed: only the receipt, no wider than the 80 mm paper.
    page.emulate_media(media="print")
    expect(page.locator(".print-page .actions")).to_be_hidden()
    expect(page.locator("main button, main a.button")).to_have_count(2)
    for control in page.locator("main button, main a.button").all():
        expect(control).to_be_hidden()
    box = receipt.bounding_box()
    assert box is not None
    assert box["width"] <= 80 * MM, f"the receipt is {box['width']:.0f} px wide, over 80 mm"
    qr = receipt.locator(".r-qr svg").bounding_box()
    assert qr is not None and qr["width"] <= box["width"]
    outside = page.evaluate(
        """() => {
          const r = document.querySelector("article.receipt").getBoundingClientRect();
          return [...document.querySelectorAll("article.receipt *")]
            .filter((el) => { const b = el.getBoundingClientRect();
              return b.width > 0 && (b.left < r.left - 0.5 || b.right > r.right + 0.5); })
            .map((el) => el.className || el.tagName);
        }"""
    )
    assert not outside, f"sticks out of the receipt: {outside}"
    screenshot(page, "kiosk-ticket")


def test_c_the_kiosk_goes_back_to_its_start_page_by_itself(
    open_page: Callable[..., Page], links: Links, igd: int
):
    """Half a minute after a ticket, the kiosk is ready for the next patient (the page's
    clock is the test's: no waiting)."""
    page = open_page(**KIOSK)
    page.add_init_script(RECORD_PRINT)
    page.clock.install()
    take_a_number_at_the_kiosk(page, links, igd, "Ratna Pratama")
    page.clock.run_for(1000)
    assert page.evaluate("() => window.__printed") == 1
    expect(page).to_have_url(re.compile(r"/ticket/"))
    page.clock.run_for(30_000)
    expect(page).to_have_url(links.kiosk)
    expect(page.locator(f'main form[action="/kiosk/{links.kiosk_token}/check-in"]')).to_be_visible()


def test_c_the_real_print_call_is_harmless_in_headless_chromium(
    open_page: Callable[..., Page], links: Links, igd: int
):
    """The kiosk's own window.print(), not replaced: recorded, then passed on to the browser,
    which must not fail nor stop the page."""
    page = open_page(**KIOSK)
    page.add_init_script(
        "window.__printed = 0; const print = window.print.bind(window);"
        "window.print = () => { window.__printed += 1; print(); window.__returned = true; };"
    )
    take_a_number_at_the_kiosk(page, links, igd, "Dedi Hidayat")
    page.wait_for_function("() => window.__returned === true")
    expect(page.locator("article.receipt .r-number")).to_be_visible()
    assert page.evaluate("() => document.readyState") == "complete"  # still answering


def test_c_the_kiosk_ticket_prints_on_80_mm_paper(
    open_page: Callable[..., Page], links: Links, igd: int
):
    page = open_page(**KIOSK)
    page.add_init_script(RECORD_PRINT)
    take_a_number_at_the_kiosk(page, links, igd, "Ayu Lestari")
    page.wait_for_function("() => window.__printed > 0")
    pdf = page.pdf(prefer_css_page_size=True, print_background=False)
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))
    assert boxes, "no page size in the PDF"
    width_mm = (float(boxes[0][2]) - float(boxes[0][0])) / PT_PER_MM
    assert abs(width_mm - 80) <= 1, f"the ticket prints on paper {width_mm:.0f} mm wide"
    assert pages == 1, f"the ticket prints on {pages} pages"


def test_c_the_kiosk_shows_each_missing_field(
    open_page: Callable[..., Page], links: Links, igd: int, watch: Watch
):
    page = open_page(**KIOSK)
    watch.expect_status(400)
    page.goto(f"{links.kiosk}/take/{igd}")
    page.locator('main form [type="submit"]').click()
    summary = page.locator(".error-summary[role=alert]")
    expect(summary).to_be_visible()
    for name in ("name", "birth_date"):
        expect(page.locator(f"#{name}")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#{name}-error")).to_have_text(re.compile(r"\S"))
        expect(summary.locator(f'a[href="#{name}"]')).to_have_count(1)
    expect(page.locator("[aria-invalid=true]")).to_have_count(2)


# --- d. the links: shown once, revoked at once ------------------------------------------------


def test_d_a_link_is_shown_once_and_stops_when_revoked(
    open_page: Callable[..., Page], base_url: str, watch: Watch
):
    page = open_page(**DESK)
    sign_in(page, base_url, "admin")
    name = f"TV lantai 2 {uuid.uuid4().hex[:6]}"
    url = make_device_link(page, base_url, "display", name)
    token = urlsplit(url).path.rsplit("/", 1)[1]

    board = open_page(**TV)
    expect_ok = board.goto(url)
    assert expect_ok is not None and expect_ok.status == 200
    expect(board.locator("#board")).to_be_attached()

    # Shown only once: the list names the link but not its secret.
    page.goto(f"{base_url}/admin/devices")
    expect(main(page).locator(".card.issued")).to_have_count(0)
    assert token not in page.content()
    row = main(page).locator("tbody tr", has_text=name)
    expect(row).to_have_count(1)
    expect(row.locator(".badge.done")).to_have_count(1)

    row.locator('form[action$="/revoke"] button').click()
    row = main(page).locator("tbody tr", has_text=name)
    expect(row.locator(".badge.cancelled")).to_have_count(1)
    expect(row.locator('form[action$="/revoke"]')).to_have_count(0)

    watch.expect_status(404)
    gone = board.goto(url)
    assert gone is not None and gone.status == 404
    r = board.request.get(f"{url}/events")
    assert r.status == 404


# --- e. accessibility in both languages ----------------------------------------------------


@pytest.mark.parametrize("lang", ["id", "en"])
def test_e_the_device_pages_pass_axe(
    open_page: Callable[..., Page], base_url: str, api: Api, links: Links, igd: int, lang: str
):
    found: list[str] = []

    def check(page: Page, step: str) -> None:
        found.extend(f"[{lang} · {step}] {v}" for v in axe_violations(page))

    # The board with a call on it.
    ticket = give_a_number(api, igd, "Eko Nugroho")
    with api.client("operator") as staff:
        r = staff.post(f"/clinics/{igd}/queue/call-next", json={"counter": IGD_COUNTER})
        assert r.status_code == 200 and r.json()["label"] == ticket["ticket"], r.text
    board = open_board(open_page, links, lang)
    expect(board.locator("html")).to_have_attribute("lang", lang)
    expect(board.locator("#board .now-number")).to_have_text(ticket["ticket"])
    check(board, "display board")

    kiosk = open_page(**KIOSK)
    kiosk.add_init_script(RECORD_PRINT)
    kiosk.goto(f"{base_url}/lang/{lang}?next=/")
    kiosk.goto(links.kiosk)
    expect(kiosk.locator("html")).to_have_attribute("lang", lang)
    check(kiosk, "kiosk")
    kiosk.goto(f"{links.kiosk}/take/{igd}")
    check(kiosk, "kiosk: take a number")
    code = take_a_number_at_the_kiosk(kiosk, links, igd, "Wahyu Pratama")
    check(kiosk, "kiosk: ticket")
    kiosk.goto(f"{base_url}/t/{code}/print")
    expect(kiosk.locator("article.receipt")).to_be_visible()
    check(kiosk, "front desk: ticket to print")

    assert not found, "accessibility violations:\n" + "\n".join(found)


def test_e_the_device_pages_in_english_have_no_indonesian_left(
    open_page: Callable[..., Page], base_url: str, api: Api, links: Links, igd: int
):
    with api.client("operator") as staff:
        clinics = staff.get("/clinics").json()
        data = [c["name"] for c in clinics] + list(links.names)
        for clinic in clinics:
            data += staff.get(f"/clinics/{clinic['id']}/counters").json()
    label = give_a_number(api, igd, "Hendra Setiawan")["ticket"]
    with api.client("operator") as staff:
        staff.post(f"/clinics/{igd}/queue/call-next", json={"counter": IGD_COUNTER})
    phrases = indonesian_phrases()
    left: dict[str, list[str]] = {}

    board = open_board(open_page, links, "en")
    expect(board.locator("#board .now-number")).to_have_text(label)
    facility = board.inner_text("footer.board-bar span:first-child")
    left["display board"] = words_left(board, phrases, [*data, facility])
    # The page as the stream sent it, with the number called: the same words.
    waiting = give_a_number(api, igd, "Hendra Setiawan")["ticket"]
    expect(board.locator("#board .next-numbers")).to_contain_text([waiting])
    left["display board, after an event"] = words_left(board, phrases, [*data, facility])

    kiosk = open_page(**KIOSK)
    kiosk.add_init_script(RECORD_PRINT)
    kiosk.goto(f"{base_url}/lang/en?next=/")
    kiosk.goto(links.kiosk)
    expect(kiosk.locator("html")).to_have_attribute("lang", "en")
    left["kiosk"] = words_left(kiosk, phrases, [*data, facility])
    kiosk.goto(f"{links.kiosk}/take/{igd}")
    left["kiosk: take a number"] = words_left(kiosk, phrases, [*data, facility])
    take_a_number_at_the_kiosk(kiosk, links, igd, "Hendra Setiawan")
    left["kiosk: ticket"] = words_left(kiosk, phrases, [*data, facility, facility.upper()])

    left = {page: words for page, words in left.items() if words}
    assert not left, f"Indonesian on the English device pages: {left}"


# --- f. screenshots ----------------------------------------------------------------------------


def test_f_screenshots_of_the_board_and_the_kiosk(
    open_page: Callable[..., Page],
    base_url: str,
    api: Api,
    links: Links,
    igd: int,
    screenshot: ScreenshotFn,
):
    names = ["Budi Santoso", "Siti Rahayu", "Agus Setiawan", "Dewi Lestari", "Hendra Siregar"]
    labels = [give_a_number(api, igd, name)["ticket"] for name in names]
    with api.client("operator") as staff:
        for counter in ("Bed 2", IGD_COUNTER):
            r = staff.post(f"/clinics/{igd}/queue/call-next", json={"counter": counter})
            assert r.status_code == 200, r.text
    board = open_board(open_page, links)
    expect(board.locator("#board .now-number")).to_have_text(labels[1])
    expect(board.locator("#board .recent .num")).to_contain_text([labels[0]])
    screenshot(board, "display-board")

    kiosk = open_page(**KIOSK)
    kiosk.goto(links.kiosk)
    expect(kiosk.locator("main a.button.big")).not_to_have_count(0)
    screenshot(kiosk, "kiosk")

"""Setting up two-step sign-in in a real browser, on a phone: the QR code is drawn, the page
passes axe, fits the screen, and nothing is loaded from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import axe_violations, fits_the_screen
from tests.e2e.test_patient_pages import sign_in


def test_a_doctor_sets_up_two_step_sign_in_on_a_phone(
    open_page: Callable[..., Page],
    base_url: str,
    screenshot: Callable[[Page, str], Path],
):
    page = open_page()  # a phone-sized screen, the default
    sign_in(page, base_url, "doctor")
    page.goto(f"{base_url}/account/two-step")
    expect(page.locator("h1")).to_have_count(1)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Siapkan masuk dua langkah").click()
    qr = page.get_by_role("img", name="QR")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 150, "big enough for a phone camera to read"
    expect(page.locator("code.secret")).to_have_text(re.compile(r"^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$"))
    expect(page.get_by_label("Kode", exact=True)).to_be_visible()
    assert axe_violations(page) == []
    fits_the_screen(page)
    screenshot(page, "two-step-setup-phone")

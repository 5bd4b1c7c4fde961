"""The audit pages in a real browser, at a desk and on a 360 px phone: the log for an admin
(rows, a filter by patient, the check of its chains) and a patient's "who opened my record".
Each passes axe-core, fits a phone's screen, and has its screenshot in the docs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Api, fits_the_screen
from tests.e2e.test_message_pages import SIZES, check
from tests.e2e.test_patient_pages import main, sign_in

ScreenshotFn = Callable[[Page, str], Path]


def _patient_opened_by_staff(api: Api) -> int:
    """The demo patient's record, opened once by the front desk: an entry to show."""
    with api.client("patient") as me:
        patient_id = int(me.get("/patients/me").json()["id"])
    with api.client("operator") as desk:
        assert desk.get(f"/patients/{patient_id}").status_code == 200
    return patient_id


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_the_audit_log_for_an_admin(
    open_page: Callable[..., Page], base_url: str, api: Api, screenshot: ScreenshotFn, size: str
):
    patient_id = _patient_opened_by_staff(api)
    found: list[str] = []
    page = open_page(**SIZES[size])
    sign_in(page, base_url, "admin")
    page.goto(f"{base_url}/admin/audit?patient={patient_id}")
    expect(page.locator('nav.subnav a[href="/admin/audit"][aria-current="page"]')).to_have_count(1)
    rows = main(page).locator("table.stack tbody tr th[scope=row]")
    expect(rows).not_to_have_count(0)
    expect(main(page).locator("code", has_text="get_patient")).not_to_have_count(0)
    check(page, found, f"admin {size} /admin/audit")
    main(page).locator('a[href*="verify=1"]').click()
    expect(main(page).locator(".notice.success")).to_have_count(1)
    check(page, found, f"admin {size} /admin/audit?verify=1")
    if size == "phone":
        fits_the_screen(page)
        screenshot(page, "audit-log-phone")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_a_patient_sees_who_opened_their_record(
    open_page: Callable[..., Page], base_url: str, api: Api, screenshot: ScreenshotFn, size: str
):
    _patient_opened_by_staff(api)
    found: list[str] = []
    page = open_page(**SIZES[size])
    sign_in(page, base_url, "patient")
    page.goto(f"{base_url}/my")
    main(page).locator('a[href="/my/access"]').click()
    expect(main(page).locator("li.card")).not_to_have_count(0)
    check(page, found, f"patient {size} /my/access")
    if size == "phone":
        fits_the_screen(page)
        screenshot(page, "who-opened-my-record-phone")
    assert not found, "\n".join(found)

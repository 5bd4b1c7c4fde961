"""A newcomer can try the demo at any hour, and the API docs work without internet."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

from rich.console import Console

from antrean.demo import DEMO_ADDRESS, DEMO_PHONE, load_demo
from antrean.domain.queue import WalkInDraft
from antrean.services import catalog, queue
from tests.integration.conftest import JKT


def test_the_demo_has_a_clinic_open_late_at_night(container):
    load_demo(container, patients=5, force=False, console=Console(file=io.StringIO()))
    for night in (
        datetime(2026, 11, 24, 22, 47, tzinfo=JKT),
        datetime(2026, 11, 29, 3, 0, tzinfo=JKT),
    ):
        container.clock.set(night)  # a Tuesday evening, a Sunday before dawn
        clinics = catalog.clinics_open_now(
            container.uow(), actor=container.anonymous(), policy=container.policy
        )
        assert [k.clinic.code for k in clinics if k.open_now] == ["IGD"]
        igd = next(k.clinic for k in clinics if k.clinic.code == "IGD")
        issued = queue.issue_walk_in(
            container.uow(),
            actor=container.system(),
            policy=container.policy,
            phones=container.phones,
            walk_in=WalkInDraft(clinic_id=igd.id, name="Budi", birth_date=date(1980, 1, 1)),
        )
        assert issued.ticket.label.startswith("G-")


def test_the_demo_facility_has_the_address_and_phone_its_confirmations_carry(container):
    load_demo(container, patients=3, force=False, console=Console(file=io.StringIO()))
    facility = catalog.get_facility(container.uow(), actor=container.anonymous())
    assert (facility.address, facility.phone) == (DEMO_ADDRESS, DEMO_PHONE)
    # Loading it again over an existing clinic changes nothing and does not fail.
    load_demo(container, patients=3, force=False, console=Console(file=io.StringIO()))
    again = catalog.get_facility(container.uow(), actor=container.anonymous())
    assert again == facility


def test_the_api_docs_need_no_internet(api):
    page = api.client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert "cdn" not in page.text.lower()
    for asset in assets:
        r = api.client.get(asset)
        assert r.status_code == 200 and len(r.content) > 500, asset
        assert "immutable" in r.headers["cache-control"]
    assert api.client.get("/docs/oauth2-redirect").status_code == 200
    assert api.client.get("/openapi.json").json()["info"]["title"] == "antrean"

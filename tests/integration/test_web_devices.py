"""Waiting-room devices, on SQLite and PostgreSQL: the TV board opened by its display link (and
closed by revoking it), which calls it announces as new, its spoken calls, its live stream
against a real server; the kiosk taking numbers and checking in bookings, and printing its
ticket on a network receipt printer (a local TCP listener standing in for the printer)."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from antrean.domain.devices import DeviceKind, DeviceLinkDraft
from antrean.domain.queue import WalkInDraft
from antrean.http import create_app
from antrean.services import devices, queue, queue_actions
from antrean.testing.live_server import running_server
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import SECRET, Api
from tests.integration.sse import sse_events
from tests.integration.web_client import WebUser, field_error


@pytest.fixture
def igd(api: Api) -> int:
    clinic_id, _ = open_all_week_clinic(
        api.container, doctors=1, start=time(8), end=time(12), slot_minutes=30, capacity=2
    )
    return clinic_id


def _link(api: Api, kind: DeviceKind, clinic_id: int, printer: str | None = None):
    return devices.create_device_link(
        api.container.uow(),
        actor=api.container.system(),
        draft=DeviceLinkDraft(
            kind=kind, name="Ruang tunggu", clinic_ids=(clinic_id,), printer=printer
        ),
    )


def _walk_in(api: Api, clinic_id: int, name: str):
    c = api.container
    return queue.issue_walk_in(
        c.uow(),
        actor=c.system(),
        policy=c.policy,
        phones=c.phones,
        walk_in=WalkInDraft(clinic_id=clinic_id, name=name, birth_date=date(1980, 1, 1)),
    )


def _call(api: Api, clinic_id: int, counter: str = "Ruang 2"):
    c = api.container
    return queue_actions.call_next(
        c.uow(),
        actor=c.system(),
        policy=c.policy,
        queue=c.queue_policy,
        clinic_id=clinic_id,
        counter=counter,
    )


def test_a_display_link_opens_the_board_until_it_is_revoked(api, igd):
    made = _link(api, DeviceKind.DISPLAY, igd)
    board = api.client.get(f"/display/{made.token}")
    assert board.status_code == 200 and 'id="board"' in board.text
    assert api.client.get(f"/display/{made.token}x").status_code == 404
    assert api.client.get(f"/kiosk/{made.token}").status_code == 404  # a display is no kiosk
    devices.revoke_device_link(
        api.container.uow(), actor=api.container.system(), link_id=made.link.id
    )
    assert api.client.get(f"/display/{made.token}").status_code == 404
    assert api.client.get(f"/display/{made.token}/events").status_code == 404


def test_only_a_recent_call_is_announced_and_it_is_spoken_digit_by_digit(api, igd, clock):
    made = _link(api, DeviceKind.DISPLAY, igd)
    _walk_in(api, igd, "Budi")
    _call(api, igd)
    part = api.client.get(f"/display/{made.token}", headers={"HX-Request": "true"})
    assert part.text.lstrip().startswith('<div id="board">')
    assert 'class="now-number">A-001<' in part.text
    assert 'data-fresh="1"' in part.text
    assert 'data-say="Nomor antrean A nol nol satu, silakan ke' in part.text
    assert "ruang dua." in part.text
    clock.set(clock.now() + timedelta(minutes=2))  # the board was away: shown, not announced
    later = api.client.get(f"/display/{made.token}", headers={"HX-Request": "true"})
    assert 'data-fresh="0"' in later.text and "A-001" in later.text


def test_the_server_speaks_only_its_own_signed_texts(api, igd):
    made = _link(api, DeviceKind.DISPLAY, igd)
    _walk_in(api, igd, "Budi")
    _call(api, igd)
    part = api.client.get(f"/display/{made.token}", headers={"HX-Request": "true"}).text
    audio = re.search(r'data-audio="([^"]+)"', part).group(1).replace("&amp;", "&")
    assert audio, "espeak-ng is installed by .ci/run; spoken calls need it"
    wav = api.client.get(audio)
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    assert wav.headers["content-type"] == "audio/wav"
    forged = audio.split("?t=")[0] + "?t=WyJpZCIsIkhlbGxvIl0.forged"
    assert api.client.get(forged).status_code == 404


async def _first_events(base: str, path: str, then, count: int = 2) -> list[dict]:
    """The first `count` events of a stream; `then` runs (in a thread) after the first."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=20) as client,
        client.stream("GET", path) as stream,
    ):
        assert stream.status_code == 200
        seen: list[dict] = []
        async for event in sse_events(stream.aiter_lines()):
            seen.append(event)
            if len(seen) == 1:
                await asyncio.to_thread(then)
            if len(seen) == count:
                return seen
    return seen


@pytest.mark.slow
def test_the_board_stream_of_a_real_server(api, igd, db_url, tmp_path, clock):
    clock.set(datetime.now(UTC))  # the server closes past days' queues when it starts
    made = _link(api, DeviceKind.DISPLAY, igd)
    _walk_in(api, igd, "Budi")
    env = {"ANTREAN_EVENT_BUS": "tail"} if db_url.startswith("sqlite") else {}
    with running_server(
        db_url,
        tmp_path / "srv",
        secret=SECRET,
        workers=1,
        # The keys this test's container sealed the data with (its data directory).
        extra_env={
            **env,
            "ANTREAN_DATA_KEYS_FILE": str(api.container.settings.data_dir / "data_keys"),
        },
    ) as base:
        events = asyncio.run(
            asyncio.wait_for(
                _first_events(base, f"/display/{made.token}/events", lambda: _call(api, igd)),
                timeout=30,
            )
        )
        assert [e["event"] for e in events] == ["board", "board"]
        assert 'id="board"' in events[0]["data"] and "now-number" not in events[0]["data"]
        assert 'class="now-number">A-001<' in events[1]["data"]  # the board itself, pushed
        assert 'data-fresh="1"' in events[1]["data"]
        assert events[1]["id"].isdigit() and "id" not in events[0]


@pytest.mark.slow
def test_the_ticket_page_stream_tells_its_own_changes_from_the_lines(
    api, igd, db_url, tmp_path, clock
):
    clock.set(datetime.now(UTC))
    _walk_in(api, igd, "Budi")
    mine = _walk_in(api, igd, "Ani")
    env = {"ANTREAN_EVENT_BUS": "tail"} if db_url.startswith("sqlite") else {}
    path = f"/t/{mine.ticket.status_code}/events"

    def two_calls() -> None:
        _call(api, igd)  # Budi: someone ahead moves
        _call(api, igd)  # Ani: this ticket

    with running_server(
        db_url,
        tmp_path / "srv",
        secret=SECRET,
        workers=1,
        # The keys this test's container sealed the data with (its data directory).
        extra_env={
            **env,
            "ANTREAN_DATA_KEYS_FILE": str(api.container.settings.data_dir / "data_keys"),
        },
    ) as base:
        events = asyncio.run(asyncio.wait_for(_first_events(base, path, two_calls, 3), 30))
        assert [e["event"] for e in events] == ["snapshot", "line", "mine"]
        assert httpx.get(f"{base}/t/not-a-code/events").status_code == 404


def test_the_kiosk_takes_a_number_and_checks_in_a_booking(api, igd):
    made = _link(api, DeviceKind.KIOSK, igd)
    kiosk = WebUser(TestClient(create_app(api.container)))
    home = kiosk.get(f"/kiosk/{made.token}")
    assert home.status_code == 200 and f"/kiosk/{made.token}/take/{igd}" in home.text
    kiosk.get(f"/kiosk/{made.token}/take/{igd}")
    empty = kiosk.post(f"/kiosk/{made.token}/take/{igd}", {"name": "", "birth_date": ""})
    assert empty.status_code == 400
    assert field_error(empty.text, "name") and field_error(empty.text, "birth_date")
    ticket = kiosk.post(
        f"/kiosk/{made.token}/take/{igd}", {"name": "Sari Dewi", "birth_date": "1970-07-07"}
    )
    assert ticket.status_code == 200 and "/ticket/" in ticket.url.path
    assert 'class="r-number">A-001<' in ticket.text and '<svg role="img"' in ticket.text
    assert "Sari" not in ticket.text  # a ticket carries no name
    kiosk.get(f"/kiosk/{made.token}")
    wrong = kiosk.post(f"/kiosk/{made.token}/check-in", {"code": "NOPE"})
    assert wrong.status_code == 400 and field_error(wrong.text, "code")
    other = _link(api, DeviceKind.KIOSK, igd)
    assert api.client.get(f"/kiosk/{other.token}/take/99").status_code == 404


class Printer:
    """A receipt printer on the network, as far as the kiosk can tell: it takes the bytes."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = b""
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while chunk := conn.recv(65536):
                self.received += chunk
        self.done.set()


def test_the_kiosk_prints_its_ticket_on_a_network_printer(api, igd):
    printer = Printer()
    made = _link(api, DeviceKind.KIOSK, igd, printer=f"127.0.0.1:{printer.port}")
    kiosk = WebUser(TestClient(create_app(api.container)))
    kiosk.get(f"/kiosk/{made.token}/take/{igd}")
    page = kiosk.post(
        f"/kiosk/{made.token}/take/{igd}", {"name": "Sari", "birth_date": "1970-07-07"}
    )
    assert "printed=1" in str(page.url)
    assert printer.done.wait(10)
    assert b"A-001" in printer.received and b"Klinik" in printer.received
    assert b"\x1dV" in printer.received  # GS V: cut the paper
    assert b"/t/" in printer.received  # the QR code's link to the live ticket page


def test_a_printer_that_does_not_answer_is_said_in_words(api, igd):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    made = _link(api, DeviceKind.KIOSK, igd, printer=f"127.0.0.1:{port}")
    kiosk = WebUser(TestClient(create_app(api.container)))
    kiosk.get(f"/kiosk/{made.token}/take/{igd}")
    page = kiosk.post(
        f"/kiosk/{made.token}/take/{igd}", {"name": "Sari", "birth_date": "1970-07-07"}
    )
    assert page.status_code == 200 and "printed=0" in str(page.url)
    assert "A-001" in page.text  # the number was taken all the same

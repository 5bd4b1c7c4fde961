"""XML-RPC with the standard library client against a real running server."""

from __future__ import annotations

import xmlrpc.client
from datetime import time

import httpx
import pytest

from antrean.bootstrap import build, ensure_facility
from antrean.domain.catalog import ClinicDraft
from antrean.services import catalog
from antrean.testing.live_server import running_server
from antrean.testing.seed import ADMIN, open_all_week_clinic
from tests.integration.conftest import SECRET, make_settings

pytestmark = pytest.mark.slow


def test_legacy_client_registers_and_follows_a_ticket(db_url, tmp_path):
    c = build(make_settings(db_url, tmp_path / "data"))
    ensure_facility(c)
    open_all_week_clinic(c, doctors=1, start=time(8), end=time(12), slot_minutes=30, capacity=1)
    catalog.create_clinic(
        c.uow(),
        actor=ADMIN,
        policy=c.policy,
        draft=ClinicDraft(code="GIGI", name="Poli Gigi", queue_prefix="B", hours=()),
    )
    c.close()
    with running_server(db_url, tmp_path / "data", secret=SECRET, workers=1) as base:
        rpc = xmlrpc.client.ServerProxy(base, allow_none=True)
        menu = rpc.get_menu()
        assert "1. Poli Umum (buka)" in menu and "2. Poli Gigi (tutup)" in menu
        clinics = rpc.list_clinics()
        assert [(k["number"], k["code"], k["open"]) for k in clinics] == [
            (1, "UMUM", True),
            (2, "GIGI", False),
        ]
        code = rpc.register_patient(1, {"name": "Budi Santoso", "dob": "17-08-1980"})
        assert code.startswith("A-001-")
        second = rpc.register_patient("UMUM", {"name": "Ani", "dob": "1990-01-02", "mrn": "X-1"})
        assert second.startswith("A-002-")
        assert rpc.register_patient(2, {"name": "Ani", "dob": "1990-01-02"}) == "none"
        line = rpc.get_queue_status(second)
        assert "A-002" in line and "1 orang di depan Anda" in line
        status = rpc.ticket_status(second)
        assert status["people_ahead"] == 1 and status["state"] == "waiting"
        assert {
            "get_menu",
            "register_patient",
            "get_queue_status",
            "list_clinics",
            "ticket_status",
        } <= set(rpc.system.listMethods())
        for call, expected in (
            (lambda: rpc.register_patient(9, {"name": "X", "dob": "01-01-1990"}), "tidak ada"),
            (lambda: rpc.register_patient(1, {"name": "X", "dob": "1990/31/31"}), "dob"),
            (lambda: rpc.register_patient(1, "not a struct"), "struct"),
            (lambda: rpc.get_queue_status("A-001-guess"), "tidak ditemukan"),
            (lambda: rpc.get_queue_status("nonsense"), "tidak dikenal"),
            (lambda: rpc.no_such_method(), "tidak ada"),
            (lambda: rpc.get_menu(1, 2), "parameter"),
        ):
            with pytest.raises(xmlrpc.client.Fault) as fault:
                call()
            assert expected in fault.value.faultString
        bomb = (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<methodCall><methodName>get_menu</methodName><params>"
            b"<param><value>&b;</value></param></params></methodCall>"
        )
        r = httpx.post(f"{base}/RPC2", content=bomb, headers={"content-type": "text/xml"})
        assert r.status_code == 200 and b"<fault>" in r.content

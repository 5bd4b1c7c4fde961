"""`antrean serve` delivers messages by itself (the embedded worker), from every server process
without sending one twice: a booking made through the API reaches a local SMS gateway."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from antrean.bootstrap import build, ensure_facility
from antrean.testing.live_server import running_server
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import SECRET, make_settings
from tests.providers.gateway import FakeSmsGateway

pytestmark = pytest.mark.slow


def test_serve_sends_the_confirmation_once(db_url, tmp_path):
    c = build(make_settings(db_url, tmp_path / "data"))
    ensure_facility(c)
    open_all_week_clinic(c, doctors=1, start=time(6), end=time(22), slot_minutes=30, capacity=5)
    c.close()
    with FakeSmsGateway(token="sms-key") as sms:
        env = {
            "ANTREAN_SMS": "gateway",
            "ANTREAN_SMS_GATEWAY_URL": f"{sms.url}/messages",
            "ANTREAN_SMS_GATEWAY_TOKEN": "Bearer sms-key",
            "ANTREAN_SMS_GATEWAY_FORMAT": "json",
            "ANTREAN_SMS_GATEWAY_MESSAGE_FIELD": "text",
            "ANTREAN_QUIET_HOURS": "off",
            "ANTREAN_WORKER_IDLE_SECONDS": "0.2",
        }
        with running_server(
            db_url, tmp_path / "data", secret=SECRET, workers=2, extra_env=env
        ) as base:
            client = httpx.Client(base_url=base, timeout=10)
            r = client.post(
                "/api/v1/auth/register",
                json={
                    "username": "budi",
                    "password": "rahasia-123",
                    "name": "Budi Santoso",
                    "birth_date": "1980-08-17",
                    "phone": "0813-2222-3333",
                },
            )
            assert r.status_code == 201, r.text
            token = client.post(
                "/api/v1/auth/token", data={"username": "budi", "password": "rahasia-123"}
            ).json()["access_token"]
            me = {"Authorization": f"Bearer {token}"}
            tomorrow = datetime.now(ZoneInfo("Asia/Jakarta")).date() + timedelta(days=1)
            later = tomorrow + timedelta(days=3)
            r = client.get(
                "/api/v1/slots",
                params={"date_from": tomorrow.isoformat(), "date_to": later.isoformat()},
            )
            assert r.status_code == 200, r.text
            slots = r.json()
            r = client.post("/api/v1/appointments", headers=me, json={"slot_id": slots[0]["id"]})
            assert r.status_code == 201, r.text
            code = r.json()["code"]
            (sent,) = sms.wait_accepted(1, timeout=30)
            assert sent.recipient == "+6281322223333" and code in sent.text
            assert "Budi Santoso" in sent.text
            # Both server processes run a worker; the message went once. Another booking
            # (a second message for the same patient) goes once too.
            other_day = next(s for s in slots if s["day"] != slots[0]["day"])
            r = client.post("/api/v1/appointments", headers=me, json={"slot_id": other_day["id"]})
            assert r.status_code == 201, r.text
            second = r.json()["code"]
            sms.wait_until(lambda: any(second in a.text for a in sms.accepted), timeout=30)
            assert sms.duplicates() == {} and sms.accepted_for("+6281322223333") == 2

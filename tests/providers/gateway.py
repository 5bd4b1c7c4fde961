"""Fake hosted gateways: Fonnte and Wablas (WhatsApp) and a generic SMS gateway, and builders
for Fonnte's webhooks.

Fonnte answers HTTP 200 even when it refuses a message (`{"status": false, "reason": ...}`);
the fakes do the same, so a channel that trusts the HTTP status alone fails the tests.

    with FakeFonnte(token="device-token") as fake:
        channel = HttpGatewayChannel(url=fake.url + "/send", token="device-token")
        fake.mode = "reject"        # 200 {"status": false, "reason": "target invalid"}
        fake.mode = "rate_limit"    # 429 with Retry-After
        fake.mode = "fail"          # fake.fail_status (503) with an HTML page
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from tests.providers.server import FakeProvider, Mode, Reply, Request, e164


class _Gateway(FakeProvider):
    path = "/send"
    target_field = "target"
    message_field = "message"

    def __init__(self, *, token: str | None) -> None:
        super().__init__()
        self.token = token
        self.fail_status = 503
        self.retry_after = "7"

    def recipient(self, request: Request) -> str | None:
        target = request.fields.get(self.target_field)
        return e164(str(target)) if target else None

    def message_text(self, request: Request) -> str:
        return str(request.fields.get(self.message_field, ""))

    def answer(self, request: Request, mode: Mode) -> Reply:
        if request.method != "POST" or request.path != self.path:
            return Reply(404, "<html><body>Not Found</body></html>")
        if mode == "rate_limit":
            return Reply(429, "Too Many Requests", headers={"Retry-After": self.retry_after})
        if mode == "fail":
            return Reply(self.fail_status, "<html><body>Service Unavailable</body></html>")
        return self.reply(request, mode)

    def reply(self, request: Request, mode: Mode) -> Reply:
        raise NotImplementedError

    def valid_target(self, request: Request) -> str | None:
        target = str(request.fields.get(self.target_field, ""))
        digits = "".join(ch for ch in target if ch.isdigit())
        if not digits or not 8 <= len(digits) <= 15 or digits != target.lstrip("+"):
            return None
        return digits


class FakeFonnte(_Gateway):
    """`POST /send` as Fonnte answers it: a raw device token in `Authorization`, form or JSON
    fields `target` and `message`."""

    def __init__(self, *, token: str | None = "fonnte-device-token") -> None:
        super().__init__(token=token)
        self.reject_reason = "target invalid"
        self.capital_status = False  # answer `Status` instead of `status`, as has been seen

    def reply(self, request: Request, mode: Mode) -> Reply:
        status_key = "Status" if self.capital_status else "status"
        if self.token is not None and request.headers.get("authorization") != self.token:
            return Reply(200, {status_key: False, "reason": "token invalid"})
        if not request.fields.get("message"):
            return Reply(200, {status_key: False, "reason": "input invalid"})
        target = self.valid_target(request)
        if mode == "reject" or target is None:
            return Reply(200, {status_key: False, "reason": self.reject_reason})
        message_id = str(random.randrange(10_000_000, 99_999_999))
        body = {
            "detail": "success! message in queue",
            "id": [message_id],
            "process": "pending",
            "requestid": random.randrange(1_000_000, 9_999_999),
            status_key: True,
            "target": [target],
        }
        return Reply(200, body, accepted=True, accepted_id=message_id)


class FakeWablas(_Gateway):
    """`POST /api/send-message` as Wablas answers it: `Authorization: {token}.{secret}`, form
    fields `phone` and `message`, the message id in `data.messages[0].id`."""

    path = "/api/send-message"
    target_field = "phone"

    def __init__(self, *, token: str | None = "wablas-token.secret") -> None:
        super().__init__(token=token)

    def reply(self, request: Request, mode: Mode) -> Reply:
        if self.token is not None and request.headers.get("authorization") != self.token:
            return Reply(401, {"status": False, "message": "token invalid"})
        target = self.valid_target(request)
        if mode == "reject" or target is None:
            return Reply(200, {"status": False, "message": "phone number invalid"})
        message_id = str(uuid.uuid4())
        body = {
            "status": True,
            "message": "Message is pending and waiting to be processed",
            "data": {
                "device_id": "ABC123",
                "quota": 9999,
                "messages": [
                    {
                        "id": message_id,
                        "phone": target,
                        "message": request.fields.get("message"),
                        "status": "pending",
                    }
                ],
            },
        }
        return Reply(200, body, accepted=True, accepted_id=message_id)


class FakeSmsGateway(_Gateway):
    """A generic SMS gateway: `POST /messages` with `Authorization: Bearer {token}`, JSON or
    form fields `to` and `text`; answers `{"message_id": ..., "status": "queued"}` (a status
    that is not a boolean) and refuses a bad number with HTTP 400."""

    path = "/messages"
    target_field = "to"
    message_field = "text"

    def __init__(self, *, token: str | None = "sms-api-key") -> None:
        super().__init__(token=token)

    def reply(self, request: Request, mode: Mode) -> Reply:
        if (
            self.token is not None
            and request.headers.get("authorization") != f"Bearer {self.token}"
        ):
            return Reply(401, {"error": "unauthorized"})
        if not request.fields.get(self.message_field):
            return Reply(400, {"error": "text is required"})
        if mode == "reject" or self.valid_target(request) is None:
            return Reply(400, {"error": "invalid destination number"})
        message_id = f"sms-{uuid.uuid4().hex[:16]}"
        return Reply(
            200,
            {"message_id": message_id, "status": "queued"},
            accepted=True,
            accepted_id=message_id,
        )


# --- Webhooks as Fonnte posts them ---------------------------------------------------------

DEVICE = "6281100000000"


def fonnte_incoming(
    sender: str,
    message: str,
    *,
    text: str = "",
    name: str = "Pasien",
    member: str = "",
    inboxid: str | None = None,
    timestamp: int | None = None,
    device: str = DEVICE,
) -> dict[str, Any]:
    """A patient's message as Fonnte's webhook posts it (`sender` as `+62...` or `62...`;
    `text` is a tapped button's text; `member` is set for a group message). Fields Fonnte
    leaves empty are empty strings; pass `inboxid=None` and `timestamp=None` to leave them
    out."""
    payload: dict[str, Any] = {
        "device": device,
        "sender": e164(sender).lstrip("+"),
        "message": message,
        "text": text,
        "member": member,
        "name": name,
        "location": "",
        "pollname": "",
        "choices": "",
        "url": "",
        "filename": "",
        "extension": "",
    }
    if inboxid is not None:
        payload["inboxid"] = inboxid
    if timestamp is not None:
        payload["timestamp"] = timestamp
    return payload


def fonnte_status(message_id: str, state: str, *, device: str = DEVICE) -> dict[str, Any]:
    """A status webhook for a message sent earlier (`state`: sent, delivered, read, failed...)."""
    return {
        "device": device,
        "id": message_id,
        "stateid": uuid.uuid4().hex[:12],
        "status": state,
        "state": state,
        "timestamp": int(time.time()),
    }

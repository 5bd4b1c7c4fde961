"""A fake WAHA (WhatsApp HTTP API) and builders for the webhook events WAHA posts.

with FakeWaha(api_key="k") as fake:
    channel = WahaChannel(base_url=fake.url, api_key="k")
    fake.id_style = "string"    # the sent message's id as a string ("object" by default)
    fake.mode = "reject"        # 400, a chatId WAHA cannot send to
    fake.mode = "rate_limit"    # 429 with Retry-After (a proxy in front of WAHA)
    fake.mode = "fail"          # 500
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any, Literal

from tests.providers.server import FakeProvider, Mode, Reply, Request, e164

ME = "6281100000000@c.us"


class FakeWaha(FakeProvider):
    """`POST /api/sendText` as WAHA answers it."""

    def __init__(self, *, api_key: str | None = None, session: str = "default") -> None:
        super().__init__()
        self.api_key = api_key
        self.session = session
        self.id_style: Literal["object", "string"] = "object"
        self.retry_after = "7"

    def recipient(self, request: Request) -> str | None:
        chat = request.fields.get("chatId")
        return e164(chat) if isinstance(chat, str) else None

    def message_text(self, request: Request) -> str:
        return str(request.fields.get("text", ""))

    def answer(self, request: Request, mode: Mode) -> Reply:
        if request.method != "POST" or request.path != "/api/sendText":
            return Reply(404, {"statusCode": 404, "message": f"Cannot POST {request.path}"})
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            return Reply(401, {"message": "Unauthorized", "statusCode": 401})
        body = request.fields
        if body.get("session") != self.session:
            return Reply(
                422,
                {
                    "statusCode": 422,
                    "message": f'Session "{body.get("session")}" does not exist',
                    "error": "Unprocessable Entity",
                },
            )
        chat = body.get("chatId")
        if not isinstance(chat, str) or not isinstance(body.get("text"), str) or not body["text"]:
            return Reply(400, {"statusCode": 400, "message": "chatId and text are required"})
        if mode == "reject" or not re.fullmatch(r"[1-9]\d{7,14}@c\.us", chat):
            return Reply(
                400,
                {
                    "statusCode": 400,
                    "message": f"{chat} is not a WhatsApp chat",
                    "error": "Bad Request",
                },
            )
        if mode == "rate_limit":
            return Reply(
                429,
                {"statusCode": 429, "message": "Too Many Requests"},
                headers={"Retry-After": self.retry_after},
            )
        if mode == "fail":
            return Reply(500, {"statusCode": 500, "message": "Internal server error"})
        key = uuid.uuid4().hex[:20].upper()
        serialized = f"true_{chat}_{key}"
        message_id: object = (
            serialized
            if self.id_style == "string"
            else {"fromMe": True, "remote": chat, "id": key, "_serialized": serialized}
        )
        reply = {
            "id": message_id,
            "timestamp": int(time.time()),
            "from": ME,
            "fromMe": True,
            "to": chat,
            "body": body["text"],
            "hasMedia": False,
            "ack": 1,
            "ackName": "SERVER",
        }
        return Reply(201, reply, accepted=True, accepted_id=serialized)


# --- Webhooks as WAHA posts them -----------------------------------------------------------


def waha_message_event(
    sender: str,
    text: str,
    *,
    message_id: str | None = None,
    from_me: bool = False,
    chat_server: str = "c.us",
    name: str | None = "Pasien",
    timestamp: int | None = None,
    session: str = "default",
) -> dict[str, Any]:
    """A `message` event: a patient wrote (`sender` as `+62...`; `chat_server="g.us"` for a
    group, `from_me=True` for our own message seen again)."""
    chat = f"{e164(sender).lstrip('+')}@{chat_server}"
    stamp = timestamp if timestamp is not None else int(time.time())
    payload = {
        "id": message_id or f"{str(from_me).lower()}_{chat}_{uuid.uuid4().hex[:20].upper()}",
        "timestamp": stamp,
        "from": ME if from_me else chat,
        "fromMe": from_me,
        "source": "app",
        "to": chat if from_me else ME,
        "participant": None,
        "body": text,
        "hasMedia": False,
        "media": None,
        "ack": 1,
        "ackName": "SERVER",
        "replyTo": None,
        "_data": {"notifyName": name} if name else {},
    }
    return _envelope("message", payload, session, stamp * 1000)


def waha_ack_event(
    provider_id: str,
    ack: int,
    *,
    recipient: str = "+6281234567890",
    timestamp_ms: int | None = None,
    session: str = "default",
) -> dict[str, Any]:
    """A `message.ack` event for a message we sent (ack -1 error, 1 sent, 2 delivered, 3 read,
    4 played)."""
    names = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
    chat = f"{e164(recipient).lstrip('+')}@c.us"
    stamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    payload = {
        "id": provider_id,
        "from": ME,
        "fromMe": True,
        "to": chat,
        "participant": None,
        "ack": ack,
        "ackName": names.get(ack, "UNKNOWN"),
        "timestamp": stamp_ms // 1000 - 60,  # the message's own time, a minute earlier
    }
    return _envelope("message.ack", payload, session, stamp_ms)


def _envelope(event: str, payload: dict[str, Any], session: str, stamp_ms: int) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "timestamp": stamp_ms,
        "session": session,
        "engine": "WEBJS",
        "event": event,
        "payload": payload,
        "me": {"id": ME, "pushName": "Klinik"},
        "environment": {"version": "2025.1.1", "engine": "WEBJS", "tier": "CORE"},
    }


def waha_body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def sign_waha(key: str, raw: bytes) -> str:
    """The `X-Webhook-Hmac` header value (hex HMAC-SHA512) for a raw body."""
    return hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()


def waha_headers(key: str, raw: bytes) -> dict[str, str]:
    """The headers WAHA sends with a signed webhook."""
    return {
        "Content-Type": "application/json",
        "X-Webhook-Hmac": sign_waha(key, raw),
        "X-Webhook-Hmac-Algorithm": "sha512",
        "X-Webhook-Request-Id": uuid.uuid4().hex,
        "X-Webhook-Timestamp": str(int(time.time() * 1000)),
    }

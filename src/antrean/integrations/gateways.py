"""WhatsApp gateways that drive a linked WhatsApp account (WAHA, self-hosted; Fonnte, Wablas and
the like, hosted) and HTTP SMS gateways: sending, and reading their webhooks.

These gateways have no templates and no 24-hour rule, so `in_service_window` and `template`
are not used; reply buttons do not exist either, and the caller writes the choices into the
text ("Balas HADIR atau BATAL")."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol

from antrean.domain.fields import is_digits
from antrean.domain.notifications import (
    DELIVERY_FAILED,
    InboundMessage,
    Medium,
    OutgoingMessage,
    Receipt,
    SendFailure,
    StatusReport,
)
from antrean.integrations.http_post import HttpAnswer, HttpPoster

# A wrong token or address fails every message alike until someone fixes the settings: try
# again every five minutes rather than failing each message for good (see whatsapp_cloud).
CONFIG_RETRY_AFTER = 300.0
# WAHA answers 422 while its session is not working (starting, waiting for the QR scan).
SESSION_RETRY_AFTER = 60.0
# Gateway refusals (`"status": false`) that are about the number: no use trying again.
_ABOUT_NUMBER = re.compile(r"target|number|phone|recipient|nomor", re.I)
_WRONG = re.compile(r"invalid|not registered|not found|not exist|tidak valid|tidak terdaftar", re.I)
_AUTH = re.compile(r"token|unauthori[sz]ed|api.?key|secret", re.I)
_QUOTA = re.compile(r"quota|kuota|balance|saldo|credit|expired", re.I)
# WAHA acknowledgement levels (WAMessageAck); 0 (pending) says nothing new.
WAHA_ACKS = {-1: DELIVERY_FAILED, 1: "sent", 2: "delivered", 3: "read", 4: "played"}
# Status words seen from hosted gateways' status webhooks.
_GATEWAY_STATES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "played",
    "failed": DELIVERY_FAILED,
    "invalid": DELIVERY_FAILED,
    "expired": DELIVERY_FAILED,
    "url unreachable": DELIVERY_FAILED,
}


class PhoneParser(Protocol):
    def to_e164(self, text: str) -> str | None: ...


class WahaChannel:
    """WAHA (WhatsApp HTTP API), self-hosted next to the product: `POST /api/sendText`."""

    transport = "waha"
    medium = Medium.WHATSAPP

    def __init__(
        self,
        *,
        base_url: str,
        session: str = "default",
        api_key: str | None,
        timeout: float = 10.0,
        client: HttpPoster | None = None,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/api/sendText"
        self.session = session
        self.timeout = timeout
        self._headers = {"X-Api-Key": api_key} if api_key else {}
        self._owns_client = client is None
        self._client = client if client is not None else HttpPoster(timeout=timeout)

    def send(self, message: OutgoingMessage) -> Receipt:
        digits = _digits(message.to)
        if not digits:
            raise SendFailure("invalid_recipient", repr(message.to)[:60], permanent=True)
        body = {"session": self.session, "chatId": f"{digits}@c.us", "text": message.text}
        response = self._client.post_json(self.url, body, headers=self._headers)
        if response.status == 422:
            raise SendFailure("http_422", _detail(response), retry_after=SESSION_RETRY_AFTER)
        if not response.is_success:
            raise http_failure(response)
        return Receipt(provider_id=waha_id(_dict(response.json()).get("id")))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


class HttpGatewayChannel:
    """A hosted gateway that takes one POST per message: Fonnte and Wablas for WhatsApp, and
    most SMS gateways. Field names, the token header and the number format are settings.

    Fonnte answers HTTP 200 with `"status": false` when it refuses a message, so success is a
    2xx answer whose JSON has no boolean status, or a true one."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        token_header: str = "Authorization",
        token_prefix: str = "",
        body_format: Literal["form", "json"] = "form",
        target_field: str = "target",
        message_field: str = "message",
        number_format: Literal["62", "0", "+62"] = "62",
        extra_fields: Mapping[str, str] = MappingProxyType({}),
        medium: Medium = Medium.WHATSAPP,
        transport: str = "gateway",
        timeout: float = 10.0,
        client: HttpPoster | None = None,
    ) -> None:
        self.url = url
        self.body_format = body_format
        self.target_field = target_field
        self.message_field = message_field
        self.number_format = number_format
        self.extra_fields = dict(extra_fields)
        self.medium = medium
        self.transport = transport
        self.timeout = timeout
        self._headers = {token_header: f"{token_prefix}{token}"} if token else {}
        self._owns_client = client is None
        self._client = client if client is not None else HttpPoster(timeout=timeout)

    def send(self, message: OutgoingMessage) -> Receipt:
        target = format_number(message.to, self.number_format)
        if target is None:
            raise SendFailure("invalid_recipient", repr(message.to)[:60], permanent=True)
        fields = {**self.extra_fields, self.target_field: target, self.message_field: message.text}
        if self.body_format == "json":
            response = self._client.post_json(self.url, fields, headers=self._headers)
        else:
            response = self._client.post_form(self.url, fields, headers=self._headers)
        if not response.is_success:
            raise http_failure(response)
        body = _dict(response.json())
        status = _get(body, "status")
        if status is False:
            raise gateway_refusal(body)
        return Receipt(provider_id=gateway_id(body))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def format_number(e164: str, number_format: Literal["62", "0", "+62"]) -> str | None:
    """An E.164 number as a gateway wants it: `6281...`, `081...` or `+6281...`. A foreign
    number has no `0` form and keeps its country code."""
    digits = _digits(e164)
    if not digits:
        return None
    if number_format == "+62":
        return "+" + digits
    if number_format == "0" and digits.startswith("62"):
        return "0" + digits[2:]
    return digits


def gateway_refusal(body: Mapping[str, Any]) -> SendFailure:
    reason = _get(body, "reason") or _get(body, "message") or _get(body, "detail") or "refused"
    reason = str(reason)
    code = re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_")[:60] or "refused"
    if _ABOUT_NUMBER.search(reason) and _WRONG.search(reason):
        return SendFailure(code, reason, permanent=True)
    if _AUTH.search(reason) or _QUOTA.search(reason):  # until someone fixes or tops up
        return SendFailure(code, reason, retry_after=CONFIG_RETRY_AFTER)
    return SendFailure(code, reason)


def gateway_id(body: Mapping[str, Any]) -> str | None:
    """The gateway's id for the message: Fonnte `id: ["80367170"]`, `data.id`, Wablas
    `data.messages[0].id`, or `message_id`."""
    data = _dict(_get(body, "data"))
    messages = _get(data, "messages")
    for value in (
        _get(body, "id"),
        _get(data, "id"),
        _get(_dict(messages[0]), "id") if isinstance(messages, list) and messages else None,
        _get(body, "message_id"),
        _get(data, "message_id"),
    ):
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def waha_id(value: object) -> str | None:
    """WAHA gives a message id as a string (`true_6281...@c.us_3EB0...`) or, on some engines,
    as an object whose `_serialized` is that string."""
    if isinstance(value, str):
        return value or None
    serialized = _dict(value).get("_serialized")
    return serialized if isinstance(serialized, str) and serialized else None


def http_failure(response: HttpAnswer) -> SendFailure:
    status = response.status
    code = f"http_{status}"
    detail = _detail(response)
    if status in {408, 425, 429} or status >= 500:
        return SendFailure(code, detail, retry_after=response.retry_after())
    if status in {401, 403, 404}:  # a wrong token, key, session or URL: the settings
        return SendFailure(code, detail, retry_after=CONFIG_RETRY_AFTER)
    return SendFailure(code, detail, permanent=True)


# --- Webhooks ------------------------------------------------------------------------------


def verify_waha_hmac(key: str, raw_body: bytes, header: str | None) -> bool:
    """Whether `X-Webhook-Hmac` is the key's HMAC-SHA512 (hex) of the body as received."""
    if not key or not header:
        return False
    given = header.strip().lower()
    if len(given) != 128:
        return False
    expected = hmac.new(key.encode(), raw_body, hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode("ascii", "replace"))


def parse_waha_webhook(
    payload: object, phone_parser: PhoneParser
) -> tuple[list[InboundMessage], list[StatusReport]]:
    """A WAHA event (or a list of them): `message` is a patient writing (not our own messages,
    not groups), `message.ack` a delivery status. Other events and odd shapes are skipped."""
    inbound: list[InboundMessage] = []
    statuses: list[StatusReport] = []
    for event in payload if isinstance(payload, list) else [payload]:
        event = _dict(event)
        body = _dict(event.get("payload"))
        if event.get("event") == "message":
            message = _waha_message(body, phone_parser)
            if message is not None:
                inbound.append(message)
        elif event.get("event") == "message.ack":
            report = _waha_ack(body, event.get("timestamp"))
            if report is not None:
                statuses.append(report)
    return inbound, statuses


def _waha_message(body: dict[str, Any], phone_parser: PhoneParser) -> InboundMessage | None:
    if body.get("fromMe") is not False and body.get("fromMe") is not None:
        return None
    message_id = waha_id(body.get("id"))
    chat = _str(body.get("from"))
    text = _str(body.get("body")).strip()
    user, _, server = chat.partition("@")
    if not message_id or not text or server not in {"c.us", "s.whatsapp.net"}:
        return None  # groups (@g.us), broadcasts, hidden ids (@lid), media without a caption
    sender = _international(user, phone_parser)
    if sender is None:
        return None
    data = _dict(body.get("_data"))
    name = _str(data.get("notifyName")) or _str(data.get("pushName")) or None
    return InboundMessage(
        transport="waha",
        medium=Medium.WHATSAPP,
        message_id=message_id,
        sender=sender,
        text=text,
        at=event_time(body.get("timestamp")),
        name=name,
    )


def _waha_ack(body: dict[str, Any], event_timestamp: object) -> StatusReport | None:
    provider_id = waha_id(body.get("id"))
    ack = body.get("ack")
    if provider_id is None or not isinstance(ack, int) or ack not in WAHA_ACKS:
        return None
    status = WAHA_ACKS[ack]
    failed = status == DELIVERY_FAILED
    return StatusReport(
        transport="waha",
        provider_id=provider_id,
        status=status,
        # The ack's own time: the envelope's (milliseconds); the payload's is the message's.
        at=event_time(event_timestamp if event_timestamp is not None else body.get("timestamp")),
        error_code=str(ack) if failed else None,
        error_title=(_str(body.get("ackName")) or "ERROR") if failed else None,
    )


def parse_gateway_webhook(
    payload: Mapping[str, Any],
    phone_parser: PhoneParser,
    *,
    transport: str,
    medium: Medium,
) -> tuple[list[InboundMessage], list[StatusReport]]:
    """A hosted gateway's webhook, JSON or form (Fonnte style): `sender` and `message` (and
    `text`, the tapped button's text) for a patient writing; `id` with `state`/`status` for a
    delivery status. Group messages and odd shapes are skipped.

    Without an id from the gateway, the message's id is derived from its sender, time and text,
    so the gateway's retries of one message are answered once. When the gateway gives no time
    either, the minute it arrived stands in: a patient sending the same word again later is
    answered again."""
    if not isinstance(payload, Mapping):
        return [], []
    sender_raw = _text(_get(payload, "sender"))
    if sender_raw:
        message = _gateway_message(payload, sender_raw, phone_parser, transport, medium)
        return ([message] if message is not None else []), []
    report = _gateway_status(payload, transport)
    return [], ([report] if report is not None else [])


def _gateway_message(
    payload: Mapping[str, Any],
    sender_raw: str,
    phone_parser: PhoneParser,
    transport: str,
    medium: Medium,
) -> InboundMessage | None:
    if "@g.us" in sender_raw or _text(_get(payload, "member")) or _get(payload, "isgroup") is True:
        return None
    user = sender_raw.split("@", 1)[0]
    sender = phone_parser.to_e164(user) or _international(user, phone_parser)
    message = _text(_get(payload, "message")).strip()
    button = _text(_get(payload, "text")).strip() or None
    text = message or button or ""
    if sender is None or not text:
        return None
    stamp = _text(_get(payload, "timestamp"))
    at = event_time(stamp) if stamp else datetime.now(UTC)
    message_id = _text(_get(payload, "id")) or _text(_get(payload, "inboxid"))
    if not message_id:
        moment = stamp or at.strftime("%Y%m%d%H%M")
        digest = hashlib.sha256(f"{sender}\n{moment}\n{text}".encode()).hexdigest()
        message_id = f"derived-{digest[:40]}"
    name = _text(_get(payload, "name")).strip() or None
    return InboundMessage(
        transport=transport,
        medium=medium,
        message_id=message_id,
        sender=sender,
        text=text,
        at=at,
        button=button,
        name=name,
    )


def _gateway_status(payload: Mapping[str, Any], transport: str) -> StatusReport | None:
    provider_id = _text(_get(payload, "id"))
    if not provider_id:
        return None
    for key in ("state", "status", "message_status"):
        word = _text(_get(payload, key)).strip().lower()
        status = _GATEWAY_STATES.get(word)
        if status is not None:
            break
    else:
        return None
    stamp = _text(_get(payload, "timestamp"))
    failed = status == DELIVERY_FAILED
    return StatusReport(
        transport=transport,
        provider_id=provider_id,
        status=status,
        at=event_time(stamp) if stamp else datetime.now(UTC),
        error_code=word.replace(" ", "_") if failed else None,
        error_title=word if failed else None,
    )


def event_time(value: object) -> datetime:
    """Unix time in seconds or milliseconds (a number or a string of digits) as an aware UTC
    time; now when missing or unreadable."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return datetime.now(UTC)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return datetime.now(UTC)
    if value > 1e11:  # milliseconds
        value = value / 1000
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.now(UTC)


def _international(user: str, phone_parser: PhoneParser) -> str | None:
    """A chat id's number (international digits, no '+') as E.164, kept as given when the
    parser's metadata does not know its range yet."""
    digits = _digits(user)
    if not digits or len(digits) != len(user.strip()) or not 8 <= len(digits) <= 15:
        return None
    if digits.startswith("0"):
        return None
    return phone_parser.to_e164("+" + digits) or "+" + digits


def _get(body: Mapping[str, Any], key: str) -> Any:
    """A key read without regard to case (gateways have sent both `status` and `Status`)."""
    if key in body:
        return body[key]
    lowered = key.lower()
    for name, value in body.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None


def _text(value: object) -> str:
    """A form or JSON field as text: strings as they are, numbers written out."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and len(value) == 1:
        return _text(value[0])
    return ""


def _detail(response: HttpAnswer) -> str:
    body = response.json()
    if isinstance(body, dict):
        for key in ("message", "error", "reason", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return response.text[:200] or response.reason


def _digits(text: str) -> str:
    return "".join(ch for ch in text if is_digits(ch))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""

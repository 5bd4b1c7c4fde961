"""WhatsApp Business Cloud API (Meta Graph API): sending messages, and reading the webhooks
Meta posts back (patients writing or tapping buttons, delivery statuses).

Outside the 24-hour customer service window WhatsApp accepts only approved templates, so the
channel picks the message type from `OutgoingMessage.in_service_window`; a free-form message it
would refuse anyway is not sent at all."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from antrean.domain.fields import is_digits
from antrean.domain.notifications import (
    DELIVERY_FAILED,
    DELIVERY_ORDER,
    Button,
    InboundMessage,
    Medium,
    OutgoingMessage,
    Receipt,
    SendFailure,
    StatusReport,
    TemplateCall,
)
from antrean.integrations.http_post import HttpAnswer, HttpPoster

TRANSPORT = "whatsapp_cloud"

# Limits of the message types (characters).
TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
MAX_BUTTONS = 3

# A token or a permission that is wrong fails every message the same way until someone fixes
# the app's settings. Failing each message for good would throw away a day of reminders over
# one expired token; trying again every five minutes lets delivery resume once it is fixed.
CONFIG_RETRY_AFTER = 300.0
# Graph error codes, as Meta documents them (branch on the code, not the title or subcode).
PERMANENT_CODES = frozenset(
    {
        100,  # invalid parameter: the request itself is wrong
        131026,  # undeliverable: not on WhatsApp, terms not accepted, old client
        131047,  # re-engagement: more than 24 hours since the patient wrote; needs a template
        131048,  # spam rate limit: the number's quality is restricted
        131049,  # per-user marketing limit
        131051,  # unsupported message type
        368,  # temporarily blocked for policy violations
    }
)
AUTH_CODES = frozenset({0, 190, 10, *range(200, 300)})
# Throttles: how long to wait before the next try.
RATE_LIMITS: Mapping[int, float] = {
    130429: 2.0,  # the number's throughput (80 messages/s by default) is exceeded
    131056: 6.0,  # pair rate: one message every 6 seconds to the same patient
    4: 60.0,  # the app's API call rate limit
    80007: 60.0,  # the business account's rate limit
}
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016, 131057, 133004})


class PhoneParser(Protocol):
    def to_e164(self, text: str) -> str | None: ...


class CloudApiChannel:
    """Sends through one business phone number of the Cloud API. One HTTP client, kept alive
    and shared by the worker's threads."""

    transport = TRANSPORT
    medium = Medium.WHATSAPP

    def __init__(
        self,
        *,
        base_url: str = "https://graph.facebook.com",
        api_version: str = "v23.0",
        phone_number_id: str,
        access_token: str,
        timeout: float = 10.0,
        client: HttpPoster | None = None,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._owns_client = client is None
        self._client = client if client is not None else HttpPoster(timeout=timeout)

    def send(self, message: OutgoingMessage) -> Receipt:
        response = self._client.post_json(self.url, self.payload(message), headers=self._headers)
        if response.is_success:
            return Receipt(provider_id=_message_id(response.json()))
        raise graph_failure(response)

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body for a message: a template outside the service window, reply buttons
        or plain text inside it."""
        to = "".join(ch for ch in message.to if is_digits(ch))
        if not to:
            raise SendFailure("invalid_recipient", repr(message.to)[:60], permanent=True)
        base: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
        }
        if not message.in_service_window:
            if message.template is None:
                raise SendFailure(
                    "outside_service_window",
                    "the patient has not written in the last 24 hours and no template is set",
                    permanent=True,
                )
            return {**base, "type": "template", "template": template_object(message.template)}
        if message.buttons:
            return {
                **base,
                "type": "interactive",
                "interactive": buttons_object(message.text, message.buttons),
            }
        return {
            **base,
            "type": "text",
            "text": {"preview_url": False, "body": _cut(message.text, TEXT_LIMIT)},
        }

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def template_object(template: TemplateCall) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    if template.parameters:
        components.append(
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": _template_text(p)} for p in template.parameters
                ],
            }
        )
    for index, payload in enumerate(template.button_payloads):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if components:
        body["components"] = components
    return body


def buttons_object(text: str, buttons: tuple[Button, ...]) -> dict[str, Any]:
    """Reply buttons: WhatsApp takes at most three; the rest are left off."""
    return {
        "type": "button",
        "body": {"text": _cut(text, INTERACTIVE_BODY_LIMIT)},
        "action": {
            "buttons": [
                {
                    "type": "reply",
                    "reply": {
                        "id": b.id.strip()[:BUTTON_ID_LIMIT],
                        "title": _cut(b.title.strip(), BUTTON_TITLE_LIMIT),
                    },
                }
                for b in buttons[:MAX_BUTTONS]
            ]
        },
    }


def graph_failure(response: HttpAnswer) -> SendFailure:
    """What a Graph API error means for the message: never again, later, or later after a
    pause."""
    error = _dict(_dict(response.json()).get("error"))
    code = error.get("code")
    detail = str(error.get("message") or response.reason or "")
    details = _dict(error.get("error_data")).get("details")
    if isinstance(details, str) and details:
        detail = f"{detail} ({details})"
    header_wait = response.retry_after()
    if not isinstance(code, int) or isinstance(code, bool):
        status = response.status
        if status == 429 or status >= 500 or status == 408:
            return SendFailure(f"http_{status}", detail, retry_after=header_wait)
        if status in {401, 403}:
            return SendFailure(f"http_{status}", detail, retry_after=CONFIG_RETRY_AFTER)
        return SendFailure(f"http_{status}", detail, permanent=True)
    name = str(code)
    if code in PERMANENT_CODES:
        return SendFailure(name, detail, permanent=True)
    if code in AUTH_CODES:
        return SendFailure(name, detail, retry_after=CONFIG_RETRY_AFTER)
    if code in RATE_LIMITS:
        return SendFailure(name, detail, retry_after=max(RATE_LIMITS[code], header_wait or 0.0))
    if code in TRANSIENT_CODES or response.status >= 500 or response.status == 429:
        return SendFailure(name, detail, retry_after=header_wait)
    # Any other 4xx (template missing or its parameters wrong, an unsupported number...) is a
    # request WhatsApp will refuse again: the message moves on to the next channel.
    return SendFailure(name, detail, permanent=True)


# --- Webhooks ------------------------------------------------------------------------------


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """Whether `X-Hub-Signature-256` is the app secret's HMAC-SHA256 of the body as received
    (never of re-serialised JSON). An empty secret verifies nothing."""
    if not app_secret or not header:
        return False
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or len(given) != 64:
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.lower().encode("ascii", "replace"))


def verify_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """The `hub.challenge` to echo when Meta subscribes the callback URL with our verify token;
    None (answer 403) otherwise."""
    challenge = params.get("hub.challenge")
    given = params.get("hub.verify_token") or ""
    if not verify_token or params.get("hub.mode") != "subscribe" or challenge is None:
        return None
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        return None
    return challenge


def parse_webhook(
    payload: object, phone_parser: PhoneParser
) -> tuple[list[InboundMessage], list[StatusReport]]:
    """The patients' messages and the delivery statuses in one webhook POST (it may batch
    several entries and changes). Anything of an unexpected shape is skipped, never raised:
    Meta retries a failed webhook for days, and one odd item must not hold up the rest.
    Message types the clinic does not answer (pictures, locations, reactions...) are skipped."""
    inbound: list[InboundMessage] = []
    statuses: list[StatusReport] = []
    for entry in _list(_dict(payload).get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            if change.get("field", "messages") != "messages":
                continue
            value = _dict(change.get("value"))
            names = {
                _str(c.get("wa_id")): _str(_dict(c.get("profile")).get("name"))
                for c in map(_dict, _list(value.get("contacts")))
            }
            for item in _list(value.get("messages")):
                message = _inbound(_dict(item), phone_parser, names)
                if message is not None:
                    inbound.append(message)
            for item in _list(value.get("statuses")):
                report = _status(_dict(item))
                if report is not None:
                    statuses.append(report)
    return inbound, statuses


def _inbound(
    item: dict[str, Any], phone_parser: PhoneParser, names: Mapping[str, str]
) -> InboundMessage | None:
    message_id = _str(item.get("id"))
    sender_digits = _str(item.get("from"))
    kind = item.get("type")
    button: str | None = None
    if kind == "text":
        text = _str(_dict(item.get("text")).get("body"))
    elif kind == "interactive":
        interactive = _dict(item.get("interactive"))
        reply_type = _str(interactive.get("type"))
        if reply_type not in {"button_reply", "list_reply"}:
            return None
        reply = _dict(interactive.get(reply_type))
        button = _str(reply.get("id")) or None
        text = _str(reply.get("title"))
    elif kind == "button":
        tapped = _dict(item.get("button"))
        button = _str(tapped.get("payload")) or None
        text = _str(tapped.get("text"))
    else:
        return None
    if not message_id or (not text and button is None):
        return None
    sender = wa_id_to_e164(sender_digits, phone_parser)
    if sender is None:
        return None
    return InboundMessage(
        transport=TRANSPORT,
        medium=Medium.WHATSAPP,
        message_id=message_id,
        sender=sender,
        text=text,
        at=unix_time(item.get("timestamp")),
        button=button,
        name=names.get(sender_digits) or None,
    )


def _status(item: dict[str, Any]) -> StatusReport | None:
    provider_id = _str(item.get("id"))
    status = _str(item.get("status"))
    if not provider_id or (status not in DELIVERY_ORDER and status != DELIVERY_FAILED):
        return None
    error = _dict(next(iter(_list(item.get("errors"))), None))
    code = error.get("code")
    title = error.get("title") or error.get("message")
    return StatusReport(
        transport=TRANSPORT,
        provider_id=provider_id,
        status=status,
        at=unix_time(item.get("timestamp")),
        error_code=str(code) if isinstance(code, int | str) and code != "" else None,
        error_title=str(title)[:200] if isinstance(title, str) and title else None,
    )


def wa_id_to_e164(wa_id: str, phone_parser: PhoneParser) -> str | None:
    """A WhatsApp id (international digits, no '+') as E.164. WhatsApp ids are whole
    international numbers, so one the parser's metadata does not know yet is still kept."""
    digits = "".join(ch for ch in wa_id if is_digits(ch))
    if not digits or len(digits) != len(wa_id.strip()) or not 8 <= len(digits) <= 15:
        return None
    return phone_parser.to_e164("+" + digits) or "+" + digits


def unix_time(value: object) -> datetime:
    """Unix seconds (an int or a string of digits) as an aware UTC time; now when missing."""
    if isinstance(value, str) and is_digits(value.strip()):
        value = int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
        return datetime.fromtimestamp(value, UTC)
    return datetime.now(UTC)


def _message_id(body: object) -> str | None:
    first = _dict(next(iter(_list(_dict(body).get("messages"))), None))
    return _str(first.get("id")) or None


def _template_text(value: str) -> str:
    """WhatsApp refuses template parameters that are empty or hold new lines, tabs or more
    than four spaces in a row."""
    text = re.sub(r"[\t\r\n]", " ", value)
    return re.sub(r" {5,}", "    ", text).strip() or "-"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""

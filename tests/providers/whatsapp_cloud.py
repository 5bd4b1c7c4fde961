"""A fake WhatsApp Cloud API (Meta Graph API) and builders for the webhooks Meta posts.

The fake checks the bearer token (401, Graph code 190, when wrong), checks each message the
way the Cloud API does (the limits of text, reply buttons and templates; code 100 when broken)
and answers with Meta's shapes: `wamid.<uuid>` ids on success, Graph error objects otherwise.

    with FakeCloudApi(access_token="t", phone_number_id="1234") as fake:
        channel = CloudApiChannel(base_url=fake.url, phone_number_id="1234", access_token="t")
        fake.mode = "reject"        # answers fake.reject_code (131026 unless changed)
        fake.mode = "rate_limit"    # answers fake.rate_limit_code (130429 unless changed)
        fake.mode = "fail"          # answers fake.fail_status (503 unless changed)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any

from tests.providers.server import FakeProvider, Mode, Reply, Request, e164

# Graph error codes: (HTTP status, message, details).
GRAPH_ERRORS: dict[int, tuple[int, str, str]] = {
    0: (401, "AuthException", "The access token could not be decrypted"),
    1: (500, "An unknown error occurred", "Invalid request or possible server error."),
    2: (503, "Service temporarily unavailable", "Temporary due to downtime or overload."),
    4: (429, "(#4) Application request limit reached", "The app has reached its rate limit."),
    10: (403, "(#10) Application does not have permission for this action", ""),
    100: (400, "(#100) Invalid parameter", ""),
    190: (401, "Invalid OAuth access token - Cannot parse access token", ""),
    200: (403, "(#200) Permissions error", ""),
    368: (400, "Temporarily blocked for policies violations", ""),
    80007: (
        400,
        "(#80007) Rate limit issues",
        "The WhatsApp Business Account has reached its rate limit.",
    ),
    130429: (400, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    131026: (
        400,
        "(#131026) Message Undeliverable.",
        "Message failed to send because of an unknown error with the recipient.",
    ),
    131047: (
        400,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131048: (400, "(#131048) Spam rate limit hit", "Message failed to send because of quality."),
    131056: (
        400,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient.",
    ),
}


def graph_error(code: int, message: str | None = None, details: str | None = None) -> Reply:
    status, default_message, default_details = GRAPH_ERRORS.get(code, (400, f"(#{code})", ""))
    error: dict[str, Any] = {
        "message": message or default_message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "A" + uuid.uuid4().hex[:22],
    }
    if details or default_details:
        error["error_data"] = {
            "messaging_product": "whatsapp",
            "details": details or default_details,
        }
    return Reply(status, {"error": error})


class FakeCloudApi(FakeProvider):
    """`POST /{version}/{phone_number_id}/messages` as the Cloud API answers it."""

    def __init__(
        self, *, access_token: str = "test-access-token", phone_number_id: str = "106540352242922"
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.reject_code = 131026
        self.rate_limit_code = 130429
        self.fail_status = 503  # 500 or 503: a Graph error; anything else: a proxy's HTML page

    def recipient(self, request: Request) -> str | None:
        to = request.fields.get("to")
        return e164(to) if isinstance(to, str) else None

    def message_text(self, request: Request) -> str:
        body = request.fields
        kind = body.get("type")
        if kind == "text":
            return str(_dict(body.get("text")).get("body", ""))
        if kind == "interactive":
            return str(_dict(_dict(body.get("interactive")).get("body")).get("text", ""))
        if kind == "template":
            template = _dict(body.get("template"))
            params = [
                str(_dict(p).get("text", ""))
                for c in _list(template.get("components"))
                if _dict(c).get("type") == "body"
                for p in _list(_dict(c).get("parameters"))
            ]
            return f"template:{template.get('name')}:" + "|".join(params)
        return ""

    def answer(self, request: Request, mode: Mode) -> Reply:
        match = re.fullmatch(r"/(v\d+\.\d+)/([^/]+)/messages", request.path)
        if request.method != "POST" or match is None:
            return Reply(404, {"error": {"message": "Unknown path", "code": 100}})
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return graph_error(190)
        if match.group(2) != self.phone_number_id:
            return graph_error(
                100,
                f"Unsupported post request. Object with ID '{match.group(2)}' does not exist",
            )
        problem = check_message(request.json)
        if problem is not None:
            return graph_error(100, f"(#100) {problem}")
        if mode == "reject":
            return graph_error(self.reject_code)
        if mode == "rate_limit":
            return graph_error(self.rate_limit_code)
        if mode == "fail":
            if self.fail_status == 500:
                return graph_error(1)
            if self.fail_status == 503:
                return graph_error(2)
            return Reply(self.fail_status, "<html><body>Bad Gateway</body></html>")
        to = request.json["to"]
        wamid = f"wamid.{uuid.uuid4()}"
        body = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        }
        return Reply(200, body, accepted=True, accepted_id=wamid)


def check_message(body: object) -> str | None:
    """What the Cloud API would refuse in a message (as `(#100) ...`), or None."""
    if not isinstance(body, dict):
        return "The request body is not JSON"
    if body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required."
    to = body.get("to")
    if not isinstance(to, str) or not re.fullmatch(r"\+?[1-9]\d{7,14}", to):
        return "Invalid parameter to"
    kind = body.get("type", "text")
    if kind == "text":
        text = _dict(body.get("text")).get("body")
        if not isinstance(text, str) or not text or len(text) > 4096:
            return "The parameter text['body'] is required and at most 4096 characters."
        return None
    if kind == "interactive":
        return _check_interactive(_dict(body.get("interactive")))
    if kind == "template":
        return _check_template(_dict(body.get("template")))
    return f"Unsupported message type {kind!r}"


def _check_interactive(interactive: dict[str, Any]) -> str | None:
    if interactive.get("type") != "button":
        return "interactive['type'] must be 'button'"
    text = _dict(interactive.get("body")).get("text")
    if not isinstance(text, str) or not text or len(text) > 1024:
        return "interactive['body']['text'] is required and at most 1024 characters."
    buttons = _list(_dict(interactive.get("action")).get("buttons"))
    if not 1 <= len(buttons) <= 3:
        return "interactive['action']['buttons'] must have 1 to 3 buttons."
    ids, titles = [], []
    for button in map(_dict, buttons):
        reply = _dict(button.get("reply"))
        ids.append(reply.get("id"))
        titles.append(reply.get("title"))
        if button.get("type") != "reply":
            return "button['type'] must be 'reply'"
        if not isinstance(reply.get("id"), str) or not 1 <= len(reply["id"]) <= 256:
            return "reply['id'] is required and at most 256 characters."
        if reply["id"] != reply["id"].strip():
            return "reply['id'] must not start or end with spaces."
        if not isinstance(reply.get("title"), str) or not 1 <= len(reply["title"]) <= 20:
            return "reply['title'] is required and at most 20 characters."
    if len(set(ids)) != len(ids) or len(set(titles)) != len(titles):
        return "Button ids and titles must be unique."
    return None


def _check_template(template: dict[str, Any]) -> str | None:
    if not isinstance(template.get("name"), str) or not template["name"]:
        return "template['name'] is required."
    if not isinstance(_dict(template.get("language")).get("code"), str):
        return "template['language']['code'] is required."
    for component in map(_dict, _list(template.get("components"))):
        if component.get("type") == "body":
            for param in map(_dict, _list(component.get("parameters"))):
                text = param.get("text")
                if param.get("type") != "text" or not isinstance(text, str) or not text:
                    return "Body parameters are text and not empty."
                if re.search(r"[\n\t]| {5,}", text):
                    return "Param text cannot have new-line/tab characters or more than 4 spaces."
        elif component.get("type") == "button":
            if component.get("sub_type") != "quick_reply":
                return "Button sub_type must be quick_reply."
            if not re.fullmatch(r"\d", str(component.get("index"))):
                return "Button index must be a digit."
            params = _list(component.get("parameters"))
            if not params or _dict(params[0]).get("type") != "payload":
                return "Quick reply buttons take a payload parameter."
        else:
            return f"Unknown component {component.get('type')!r}"
    return None


# --- Webhooks as Meta posts them -----------------------------------------------------------

BUSINESS_NUMBER = "15550783881"


def cloud_envelope(
    value: dict[str, Any],
    *,
    phone_number_id: str = "106540352242922",
    waba_id: str = "102290129340398",
) -> dict[str, Any]:
    """The `whatsapp_business_account` envelope around one change's value."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": BUSINESS_NUMBER,
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def _inbound(
    sender: str,
    message: dict[str, Any],
    name: str | None,
    message_id: str | None,
    timestamp: int | None,
) -> dict[str, Any]:
    wa_id = e164(sender).lstrip("+")
    contacts = [{"profile": {"name": name}, "wa_id": wa_id}] if name else [{"wa_id": wa_id}]
    item = {
        "from": wa_id,
        "id": message_id or new_wamid(),
        "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        **message,
    }
    return cloud_envelope({"contacts": contacts, "messages": [item]})


def cloud_text_message(
    sender: str,
    text: str,
    *,
    name: str | None = "Pasien",
    message_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A patient's text message (`sender` as `+62...` or `62...`)."""
    return _inbound(sender, {"type": "text", "text": {"body": text}}, name, message_id, timestamp)


def cloud_button_reply(
    sender: str,
    button_id: str,
    title: str,
    *,
    context_id: str | None = None,
    name: str | None = "Pasien",
    message_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A tap on a reply button of an interactive message we sent."""
    message = {
        "context": {"from": BUSINESS_NUMBER, "id": context_id or new_wamid()},
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
    }
    return _inbound(sender, message, name, message_id, timestamp)


def cloud_list_reply(
    sender: str,
    row_id: str,
    title: str,
    *,
    description: str = "",
    name: str | None = "Pasien",
    message_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A choice from a list message."""
    message = {
        "context": {"from": BUSINESS_NUMBER, "id": new_wamid()},
        "type": "interactive",
        "interactive": {
            "type": "list_reply",
            "list_reply": {"id": row_id, "title": title, "description": description},
        },
    }
    return _inbound(sender, message, name, message_id, timestamp)


def cloud_template_button(
    sender: str,
    payload: str,
    text: str,
    *,
    context_id: str | None = None,
    name: str | None = "Pasien",
    message_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A tap on a template's quick-reply button (`type: button`)."""
    message = {
        "context": {"from": BUSINESS_NUMBER, "id": context_id or new_wamid()},
        "type": "button",
        "button": {"payload": payload, "text": text},
    }
    return _inbound(sender, message, name, message_id, timestamp)


def cloud_status(
    provider_id: str,
    status: str,
    *,
    recipient: str = "+6281234567890",
    timestamp: int | None = None,
    error_code: int | None = None,
    error_title: str | None = None,
) -> dict[str, Any]:
    """A delivery status (`sent`, `delivered`, `read`, `failed`) for a message we sent."""
    item: dict[str, Any] = {
        "id": provider_id,
        "status": status,
        "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "recipient_id": e164(recipient).lstrip("+"),
        "conversation": {"id": uuid.uuid4().hex, "origin": {"type": "utility"}},
        "pricing": {"billable": True, "pricing_model": "CBP", "category": "utility"},
    }
    if error_code is not None:
        title = error_title or GRAPH_ERRORS.get(error_code, (400, "Error", ""))[1]
        item["errors"] = [
            {
                "code": error_code,
                "title": title,
                "message": title,
                "error_data": {"details": GRAPH_ERRORS.get(error_code, (0, "", ""))[2]},
            }
        ]
    return cloud_envelope({"statuses": [item]})


def cloud_body(payload: object) -> bytes:
    """The bytes Meta posts: JSON with non-ASCII characters escaped."""
    return json.dumps(payload, ensure_ascii=True).encode()


def sign_cloud(app_secret: str, raw: bytes) -> str:
    """The `X-Hub-Signature-256` header value for a raw body."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


def new_wamid() -> str:
    return f"wamid.{uuid.uuid4()}"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []

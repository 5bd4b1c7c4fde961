"""The webhooks the messaging providers call, as an OpenAPI 3.0 document.

The webhooks are not part of the API's own document: the providers, not the clinic's clients,
decide what they send. This one describes each webhook as its provider publishes it:

- Meta's WhatsApp Cloud API: the `GET` handshake (`hub.mode`, `hub.verify_token`,
  `hub.challenge`) and the `whatsapp_business_account` events, signed `X-Hub-Signature-256`
  (`sha256=` and the app secret's HMAC-SHA256 of the raw body, in lowercase hex).
- WAHA: its event envelope (`message`, `message.any`, `message.ack`, and events the clinic does
  not use), signed `X-Webhook-Hmac` (the key's HMAC-SHA512 of the raw body, hex) with
  `X-Webhook-Hmac-Algorithm: sha512`.
- Hosted gateways in the style of Fonnte, for WhatsApp and for SMS: a patient's message
  (`sender`, `message`, ...) or a delivery status (`id`, `state`, `status`), as JSON or as a
  form. Such gateways sign nothing; the callback URL carries a shared token, as `?token=` or in
  `X-Webhook-Token`.

The answers are the clinic's: 200 once a signed webhook is handled (even one of which nothing
could be used), a problem (RFC 9457) otherwise: 400 for a body that cannot be read, 401 for a
missing or wrong signature or token, 403 for a handshake without the verify token, 404 when
that provider is not set up, 413 for a body over a megabyte.
"""

from __future__ import annotations

from typing import Any

PROBLEM = "application/problem+json"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


def _obj(
    properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


# --- Shared pieces -------------------------------------------------------------------------

# A WhatsApp id: a whole international number, digits only, no '+'.
WA_ID = {"type": "string", "pattern": "^[1-9][0-9]{7,14}$", "example": "6281234567890"}
UNIX_SECONDS_TEXT = {"type": "string", "pattern": "^[0-9]{10}$", "example": "1749416383"}
WAMID = {
    "type": "string",
    "pattern": "^wamid\\.[A-Za-z0-9+/=_-]{8,80}$",
    "example": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFDNBMEE5RjEyMzQ1Njc4OUFCQ0RFAA==",
}
# A WAHA chat id: a number and its server (`c.us` for people, `g.us` for groups, `lid` for
# hidden ids; `s.whatsapp.net` is seen on some engines).
WAHA_CHAT = {
    "type": "string",
    "pattern": "^[0-9]{8,18}@(c\\.us|g\\.us|lid|s\\.whatsapp\\.net)$",
    "example": "6281234567890@c.us",
}
WAHA_ACK = {"type": "integer", "enum": [-1, 0, 1, 2, 3, 4]}
WAHA_ACK_NAME = {
    "type": "string",
    "enum": ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"],
}
GATEWAY_TEXT = {"type": "string", "maxLength": 4096}
# Status words seen in gateways' status callbacks (Fonnte's older status API capitalised them).
GATEWAY_STATES = {
    "type": "string",
    "enum": [
        "sent",
        "delivered",
        "read",
        "failed",
        "pending",
        "waiting",
        "processing",
        "invalid",
        "expired",
        "url unreachable",
        "Sent",
        "Pending",
        "Waiting",
        "Invalid",
        "Expired",
        "Processing",
        "Url unreachable",
    ],
}

SCHEMAS: dict[str, Any] = {
    "Problem": _obj(
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "instance": {"type": "string"},
        },
        ("type", "title", "status"),
    ),
    "Handled": _obj(
        {
            "ok": {"type": "boolean", "enum": [True]},
            "messages": {"type": "integer", "minimum": 0},
            "statuses": {"type": "integer", "minimum": 0},
        },
        ("ok", "messages", "statuses"),
    ),
    # --- WhatsApp Cloud API ---
    "CloudEvent": _obj(
        {
            "object": {"type": "string", "enum": ["whatsapp_business_account"]},
            "entry": {"type": "array", "minItems": 1, "items": _ref("CloudEntry")},
        },
        ("object", "entry"),
    ),
    "CloudEntry": _obj(
        {
            "id": {"type": "string", "pattern": "^[0-9]{10,20}$", "example": "102290129340398"},
            "changes": {"type": "array", "minItems": 1, "items": _ref("CloudChange")},
        },
        ("id", "changes"),
    ),
    "CloudChange": _obj(
        {"field": {"type": "string", "enum": ["messages"]}, "value": _ref("CloudValue")},
        ("field", "value"),
    ),
    "CloudValue": _obj(
        {
            "messaging_product": {"type": "string", "enum": ["whatsapp"]},
            "metadata": _obj(
                {
                    "display_phone_number": {"type": "string", "pattern": "^[0-9]{8,15}$"},
                    "phone_number_id": {"type": "string", "pattern": "^[0-9]{10,20}$"},
                },
                ("display_phone_number", "phone_number_id"),
            ),
            "contacts": {"type": "array", "items": _ref("CloudContact")},
            "messages": {"type": "array", "items": _ref("CloudMessage")},
            "statuses": {"type": "array", "items": _ref("CloudStatus")},
            "errors": {"type": "array", "items": _ref("CloudError")},
        },
        ("messaging_product", "metadata"),
    ),
    "CloudContact": _obj(
        {"wa_id": WA_ID, "profile": _obj({"name": {"type": "string"}})},
        ("wa_id",),
    ),
    "CloudContext": _obj({"from": WA_ID, "id": WAMID}),
    "CloudMessage": {
        "oneOf": [
            _ref("CloudTextMessage"),
            _ref("CloudInteractiveMessage"),
            _ref("CloudButtonMessage"),
            _ref("CloudOtherMessage"),
        ]
    },
    "CloudTextMessage": _obj(
        {
            "from": WA_ID,
            "id": WAMID,
            "timestamp": UNIX_SECONDS_TEXT,
            "type": {"type": "string", "enum": ["text"]},
            "text": _obj({"body": {"type": "string", "maxLength": 4096}}, ("body",)),
            "context": _ref("CloudContext"),
        },
        ("from", "id", "timestamp", "type", "text"),
    ),
    "CloudInteractiveMessage": _obj(
        {
            "from": WA_ID,
            "id": WAMID,
            "timestamp": UNIX_SECONDS_TEXT,
            "type": {"type": "string", "enum": ["interactive"]},
            "context": _ref("CloudContext"),
            "interactive": {
                "oneOf": [
                    _obj(
                        {
                            "type": {"type": "string", "enum": ["button_reply"]},
                            "button_reply": _obj(
                                {
                                    "id": {"type": "string", "maxLength": 256},
                                    "title": {"type": "string", "maxLength": 20},
                                },
                                ("id", "title"),
                            ),
                        },
                        ("type", "button_reply"),
                    ),
                    _obj(
                        {
                            "type": {"type": "string", "enum": ["list_reply"]},
                            "list_reply": _obj(
                                {
                                    "id": {"type": "string", "maxLength": 200},
                                    "title": {"type": "string", "maxLength": 24},
                                    "description": {"type": "string", "maxLength": 72},
                                },
                                ("id", "title"),
                            ),
                        },
                        ("type", "list_reply"),
                    ),
                ]
            },
        },
        ("from", "id", "timestamp", "type", "interactive"),
    ),
    # A tap on a template's quick-reply button.
    "CloudButtonMessage": _obj(
        {
            "from": WA_ID,
            "id": WAMID,
            "timestamp": UNIX_SECONDS_TEXT,
            "type": {"type": "string", "enum": ["button"]},
            "context": _ref("CloudContext"),
            "button": _obj(
                {"payload": {"type": "string"}, "text": {"type": "string"}},
                ("payload", "text"),
            ),
        },
        ("from", "id", "timestamp", "type", "button"),
    ),
    # Pictures, voice notes, locations, reactions...: each carries an object named after its
    # type, which the clinic does not read.
    "CloudOtherMessage": _obj(
        {
            "from": WA_ID,
            "id": WAMID,
            "timestamp": UNIX_SECONDS_TEXT,
            "type": {
                "type": "string",
                "enum": [
                    "audio",
                    "contacts",
                    "document",
                    "image",
                    "location",
                    "order",
                    "reaction",
                    "sticker",
                    "system",
                    "unsupported",
                    "video",
                ],
            },
            "errors": {"type": "array", "items": _ref("CloudError")},
        },
        ("from", "id", "timestamp", "type"),
    ),
    "CloudStatus": _obj(
        {
            "id": WAMID,
            "status": {"type": "string", "enum": ["sent", "delivered", "read", "failed"]},
            "timestamp": UNIX_SECONDS_TEXT,
            "recipient_id": WA_ID,
            "conversation": _obj(
                {
                    "id": {"type": "string"},
                    "expiration_timestamp": UNIX_SECONDS_TEXT,
                    "origin": _obj(
                        {
                            "type": {
                                "type": "string",
                                "enum": [
                                    "authentication",
                                    "marketing",
                                    "utility",
                                    "service",
                                    "referral_conversion",
                                ],
                            }
                        },
                        ("type",),
                    ),
                },
                ("id",),
            ),
            "pricing": _obj(
                {
                    "billable": {"type": "boolean"},
                    "pricing_model": {"type": "string", "enum": ["CBP", "PMP"]},
                    "category": {"type": "string"},
                }
            ),
            "errors": {"type": "array", "items": _ref("CloudError")},
        },
        ("id", "status", "timestamp", "recipient_id"),
    ),
    "CloudError": _obj(
        {
            "code": {"type": "integer"},
            "title": {"type": "string"},
            "message": {"type": "string"},
            "error_data": _obj({"details": {"type": "string"}}),
            "href": {"type": "string"},
        },
        ("code", "title"),
    ),
    # --- WAHA ---
    "WahaEvent": {
        "oneOf": [_ref("WahaMessageEvent"), _ref("WahaAckEvent"), _ref("WahaOtherEvent")]
    },
    "WahaMe": _obj({"id": WAHA_CHAT, "pushName": {"type": "string"}}, ("id",)),
    "WahaEnvironment": _obj(
        {
            "version": {"type": "string"},
            "engine": {"type": "string"},
            "tier": {"type": "string", "enum": ["CORE", "PLUS"]},
        }
    ),
    "WahaMessageEvent": _obj(
        {
            "id": {"type": "string", "pattern": "^evt_[0-9a-z]{20,40}$"},
            # The event's time, in milliseconds.
            "timestamp": {"type": "integer", "minimum": 0},
            "session": {"type": "string", "example": "default"},
            "engine": {"type": "string", "enum": ["WEBJS", "NOWEB", "GOWS"]},
            "event": {"type": "string", "enum": ["message", "message.any"]},
            "payload": _ref("WahaMessage"),
            "me": _ref("WahaMe"),
            "environment": _ref("WahaEnvironment"),
        },
        ("event", "session", "payload"),
    ),
    "WahaMessage": _obj(
        {
            "id": {
                "type": "string",
                "pattern": "^(true|false)_[0-9]{8,18}@(c\\.us|g\\.us|lid)_[0-9A-F]{16,32}$",
            },
            # The message's time, in seconds.
            "timestamp": {"type": "integer", "minimum": 0},
            "from": WAHA_CHAT,
            "fromMe": {"type": "boolean"},
            "source": {"type": "string", "enum": ["api", "app"]},
            "to": WAHA_CHAT,
            "participant": {"type": "string", "nullable": True},
            "body": {"type": "string"},
            "hasMedia": {"type": "boolean"},
            "media": _obj(
                {
                    "url": {"type": "string"},
                    "mimetype": {"type": "string"},
                    "filename": {"type": "string", "nullable": True},
                },
                nullable=True,
            ),
            "ack": WAHA_ACK,
            "ackName": WAHA_ACK_NAME,
            "replyTo": {"type": "object", "nullable": True},
            "_data": {"type": "object"},
        },
        ("id", "timestamp", "from", "fromMe", "body", "hasMedia"),
    ),
    "WahaAckEvent": _obj(
        {
            "id": {"type": "string", "pattern": "^evt_[0-9a-z]{20,40}$"},
            "timestamp": {"type": "integer", "minimum": 0},
            "session": {"type": "string", "example": "default"},
            "engine": {"type": "string", "enum": ["WEBJS", "NOWEB", "GOWS"]},
            "event": {"type": "string", "enum": ["message.ack"]},
            "payload": _obj(
                {
                    "id": {
                        "type": "string",
                        "pattern": "^(true|false)_[0-9]{8,18}@(c\\.us|g\\.us|lid)_[0-9A-F]{16,32}$",
                    },
                    "from": WAHA_CHAT,
                    "to": WAHA_CHAT,
                    "participant": {"type": "string", "nullable": True},
                    "fromMe": {"type": "boolean"},
                    "ack": WAHA_ACK,
                    "ackName": WAHA_ACK_NAME,
                    "timestamp": {"type": "integer", "minimum": 0},
                },
                ("id", "from", "to", "fromMe", "ack", "ackName"),
            ),
            "me": _ref("WahaMe"),
            "environment": _ref("WahaEnvironment"),
        },
        ("event", "session", "payload"),
    ),
    # Events the clinic subscribes to by default but does not use.
    "WahaOtherEvent": _obj(
        {
            "id": {"type": "string", "pattern": "^evt_[0-9a-z]{20,40}$"},
            "timestamp": {"type": "integer", "minimum": 0},
            "session": {"type": "string", "example": "default"},
            "engine": {"type": "string", "enum": ["WEBJS", "NOWEB", "GOWS"]},
            "event": {
                "type": "string",
                "enum": [
                    "session.status",
                    "message.reaction",
                    "message.revoked",
                    "message.edited",
                    "message.waiting",
                    "chat.archive",
                    "group.v2.join",
                    "presence.update",
                    "poll.vote",
                    "call.received",
                ],
            },
            "payload": {"type": "object"},
            "me": _ref("WahaMe"),
            "environment": _ref("WahaEnvironment"),
        },
        ("event", "session", "payload"),
    ),
    # --- Hosted gateways (Fonnte style) ---
    "GatewayCallback": {"oneOf": [_ref("GatewayMessage"), _ref("GatewayStatus")]},
    # A patient's message. Fields the gateway leaves empty are empty strings.
    "GatewayMessage": _obj(
        {
            "device": {"type": "string", "pattern": "^[0-9]{8,15}$"},
            "sender": {"type": "string", "pattern": "^[1-9][0-9]{7,14}$"},
            "message": GATEWAY_TEXT,
            "text": {"type": "string", "description": "the text of a tapped button"},
            "member": {"type": "string", "description": "the writer, in a group"},
            "name": {"type": "string"},
            "location": {"type": "string"},
            "pollname": {"type": "string"},
            "choices": {"type": "string"},
            "timestamp": {"type": "integer", "minimum": 0},
            "inboxid": {"type": "string"},
            "url": {"type": "string"},
            "filename": {"type": "string"},
            "extension": {"type": "string"},
        },
        ("device", "sender", "message"),
    ),
    # The status of a message the clinic sent through the gateway.
    "GatewayStatus": _obj(
        {
            "device": {"type": "string", "pattern": "^[0-9]{8,15}$"},
            "id": {"type": "string", "pattern": "^[0-9]{1,12}$"},
            "stateid": {"type": "string"},
            # The words are not all published: the ones seen, and any other text.
            "status": {"anyOf": [GATEWAY_STATES, {"type": "string"}]},
            "state": {"anyOf": [GATEWAY_STATES, {"type": "string"}]},
            "timestamp": {"type": "integer", "minimum": 0},
        },
        ("device", "id", "status"),
    ),
}

# --- Examples, as the providers publish them -----------------------------------------------

_CLOUD_METADATA = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}


def _cloud(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": _CLOUD_METADATA,
                            **value,
                        },
                    }
                ],
            }
        ],
    }


_CONTACT = {"profile": {"name": "Sheena"}, "wa_id": "6281234567890"}
CLOUD_EXAMPLES = {
    "text": _cloud(
        {
            "contacts": [_CONTACT],
            "messages": [
                {
                    "from": "6281234567890",
                    "id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFDNBMEE5RjEyMzQ1Njc4OUFCQ0RFAA==",
                    "timestamp": "1749416383",
                    "type": "text",
                    "text": {"body": "Halo, saya mau daftar"},
                }
            ],
        }
    ),
    "button_reply": _cloud(
        {
            "contacts": [_CONTACT],
            "messages": [
                {
                    "context": {"from": "15550783881", "id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUC"},
                    "from": "6281234567890",
                    "id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA=",
                    "timestamp": "1749416390",
                    "type": "interactive",
                    "interactive": {
                        "type": "button_reply",
                        "button_reply": {"id": "appt:123:confirm", "title": "Konfirmasi"},
                    },
                }
            ],
        }
    ),
    "template_button": _cloud(
        {
            "contacts": [_CONTACT],
            "messages": [
                {
                    "context": {"from": "15550783881", "id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUD"},
                    "from": "6281234567890",
                    "id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjE=",
                    "timestamp": "1749416395",
                    "type": "button",
                    "button": {"payload": "CONFIRM:123", "text": "Konfirmasi"},
                }
            ],
        }
    ),
    "failed_status": _cloud(
        {
            "statuses": [
                {
                    "id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQ=",
                    "status": "failed",
                    "timestamp": "1744609253",
                    "recipient_id": "6281234567890",
                    "errors": [
                        {
                            "code": 131047,
                            "title": "Re-engagement message",
                            "message": "Re-engagement message",
                            "error_data": {
                                "details": "Message failed to send because more than 24 "
                                "hours have passed since the customer last replied to this "
                                "number."
                            },
                        }
                    ],
                }
            ]
        }
    ),
}

_WAHA_ME = {"id": "6281100000000@c.us", "pushName": "Klinik"}
_WAHA_ENVIRONMENT = {"version": "2025.1.1", "engine": "WEBJS", "tier": "CORE"}
WAHA_EXAMPLES = {
    "message": {
        "id": "evt_01aaaaaaaaaaaaaaaaaaaaaaaa",
        "timestamp": 1634567890123,
        "session": "default",
        "engine": "WEBJS",
        "event": "message",
        "payload": {
            "id": "false_6281234567890@c.us_AAAAAAAAAAAAAAAAAAAA",
            "timestamp": 1666943582,
            "from": "6281234567890@c.us",
            "fromMe": False,
            "source": "app",
            "to": "6281100000000@c.us",
            "participant": None,
            "body": "Ya",
            "hasMedia": False,
            "media": None,
            "ack": 1,
            "ackName": "SERVER",
            "replyTo": None,
            "_data": {"notifyName": "Pasien"},
        },
        "me": _WAHA_ME,
        "environment": _WAHA_ENVIRONMENT,
    },
    "ack": {
        "id": "evt_01bbbbbbbbbbbbbbbbbbbbbbbb",
        "timestamp": 1634567890999,
        "session": "default",
        "engine": "WEBJS",
        "event": "message.ack",
        "payload": {
            "id": "true_6281234567890@c.us_3EB0AAAAAAAAAAAAAAAA",
            "from": "6281100000000@c.us",
            "to": "6281234567890@c.us",
            "participant": None,
            "fromMe": True,
            "ack": 3,
            "ackName": "READ",
        },
        "me": _WAHA_ME,
        "environment": _WAHA_ENVIRONMENT,
    },
}

GATEWAY_EXAMPLES = {
    "message": {
        "device": "6281100000000",
        "sender": "6281234567890",
        "message": "Halo",
        "text": "",
        "member": "",
        "name": "Pasien",
        "location": "",
        "pollname": "",
        "choices": "",
        "timestamp": 1749416383,
        "inboxid": "8401276",
    },
    "status": {
        "device": "6281100000000",
        "id": "80367170",
        "stateid": "a1b2c3d4e5f6",
        "status": "sent",
        "state": "delivered",
        "timestamp": 1749416390,
    },
}


def _examples(examples: dict[str, Any]) -> dict[str, Any]:
    return {name: {"value": value} for name, value in examples.items()}


# --- Operations ----------------------------------------------------------------------------


def _gateway_operation(summary: str, operation_id: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "operationId": operation_id,
        "security": [{"tokenInQuery": []}, {"tokenInHeader": []}],
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": _ref("GatewayCallback"),
                    "examples": _examples(GATEWAY_EXAMPLES),
                },
                FORM: {"schema": _ref("GatewayCallback")},
            },
        },
        "responses": {
            "200": {
                "description": "Handled",
                "content": {JSON: {"schema": _ref("Handled")}},
            },
            "400": _problem("The body is neither a JSON object nor a form"),
            "401": _problem("The token is missing or wrong"),
            "404": _problem("This gateway is not set up"),
            "413": _problem("The body is over a megabyte"),
        },
    }


DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "antrean: the messaging providers' webhooks",
        "version": "1",
        "description": __doc__,
    },
    "paths": {
        "/webhooks/whatsapp": {
            "get": {
                "summary": "Meta's handshake when the callback URL is set",
                "operationId": "whatsappHandshake",
                "parameters": [
                    {
                        "name": "hub.mode",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["subscribe"]},
                    },
                    {
                        "name": "hub.challenge",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
                        "example": "1158201444",
                    },
                    {
                        "name": "hub.verify_token",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The challenge, as it came",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "403": _problem("Not a subscription, or not our verify token"),
                    "404": _problem("The Cloud API is not set up"),
                },
            },
            "post": {
                "summary": "WhatsApp Cloud API events: messages and delivery statuses",
                "operationId": "whatsappEvents",
                "parameters": [
                    {
                        "name": "X-Hub-Signature-256",
                        "in": "header",
                        "required": True,
                        "description": "`sha256=` and the HMAC-SHA256 of the raw body with the "
                        "app secret, lowercase hex",
                        "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": _ref("CloudEvent"),
                            "examples": _examples(CLOUD_EXAMPLES),
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Handled",
                        "content": {JSON: {"schema": _ref("Handled")}},
                    },
                    "400": _problem("The body is not JSON"),
                    "401": _problem("The signature is missing or wrong"),
                    "404": _problem("The Cloud API is not set up"),
                    "413": _problem("The body is over a megabyte"),
                },
            },
        },
        "/webhooks/waha": {
            "post": {
                "summary": "WAHA events: messages and acks",
                "operationId": "wahaEvents",
                "parameters": [
                    {
                        "name": "X-Webhook-Hmac",
                        "in": "header",
                        "required": True,
                        "description": "The HMAC-SHA512 of the raw body with the webhook key, hex",
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{128}$"},
                    },
                    {
                        "name": "X-Webhook-Hmac-Algorithm",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "enum": ["sha512"]},
                    },
                    {
                        "name": "X-Webhook-Request-Id",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[0-9a-zA-Z-]{1,64}$"},
                    },
                    {
                        "name": "X-Webhook-Timestamp",
                        "in": "header",
                        "required": False,
                        "description": "When WAHA sent it, in milliseconds",
                        "schema": {"type": "string", "pattern": "^[0-9]{13}$"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": _ref("WahaEvent"), "examples": _examples(WAHA_EXAMPLES)}
                    },
                },
                "responses": {
                    "200": {
                        "description": "Handled",
                        "content": {JSON: {"schema": _ref("Handled")}},
                    },
                    "400": _problem("The body is not JSON"),
                    "401": _problem("The signature is missing or wrong"),
                    "404": _problem("WAHA is not set up"),
                    "413": _problem("The body is over a megabyte"),
                },
            }
        },
        "/webhooks/gateway": {
            "post": _gateway_operation(
                "A WhatsApp gateway's callback: a patient's message or a status", "gatewayEvents"
            )
        },
        "/webhooks/sms": {
            "post": _gateway_operation(
                "An SMS gateway's callback: a patient's message or a status", "smsEvents"
            )
        },
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "tokenInQuery": {"type": "apiKey", "in": "query", "name": "token"},
            "tokenInHeader": {"type": "apiKey", "in": "header", "name": "X-Webhook-Token"},
        },
    },
}

"""Webhooks the messaging providers call: patients writing to the clinic, and delivery
statuses. An inbound adapter like the API: it checks who is calling (a signature over the raw
body, or a shared token), turns the provider's payload into `InboundMessage`s and
`StatusReport`s (`integrations`), and hands each to one use case.

- `GET  /webhooks/whatsapp`: Meta's handshake (`hub.challenge` when `hub.verify_token` matches).
- `POST /webhooks/whatsapp`: Cloud API events, signed `X-Hub-Signature-256` with the app secret.
- `POST /webhooks/waha`: WAHA events, signed `X-Webhook-Hmac` (HMAC-SHA512).
- `POST /webhooks/gateway`, `POST /webhooks/sms`: hosted gateways, which sign nothing: they
  carry a shared token (`?token=` or `X-Webhook-Token`).

A webhook that is not signed right is refused (401) before anything is read; a provider or
channel not set up answers 404. A signed one is answered 200 once it is handled, even when
parts of it could not be read: the provider would only send it again.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from antrean.bootstrap import Container
from antrean.domain.notifications import InboundMessage, Medium, StatusReport, is_provider_id
from antrean.integrations import gateways, whatsapp_cloud
from antrean.integrations.message_parts import BabelFormats
from antrean.services.conversations import Conversation, receive

log = logging.getLogger("antrean.webhooks")
router = APIRouter(prefix="/webhooks", include_in_schema=False)
MAX_BODY = 1_000_000  # Meta batches, but a webhook of a megabyte is not a provider's


def _problem(status: int, title: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status},
        status_code=status,
        media_type="application/problem+json",
    )


def _container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


async def _raw(request: Request) -> bytes | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return body


NOT_JSON = object()


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return NOT_JSON


def _handle(c: Container, inbound: list[InboundMessage], statuses: list[StatusReport]) -> None:
    """Each status and message by itself: one that fails is logged, the rest go on."""
    actor = c.system()
    uow = c.uow()
    for report in statuses:
        if not is_provider_id(report.provider_id):
            log.warning("a delivery status with an id no provider gives: skipped")
            continue
        try:
            with uow(write=True):
                uow.outbox.record_delivery(
                    report.transport,
                    report.provider_id,
                    report.status,
                    " ".join(p for p in (report.error_code, report.error_title) if p) or None,
                    c.clock.now(),
                )
                uow.commit()
        except Exception:
            log.exception("delivery status not recorded")
    setup = Conversation(
        policy=c.policy, public_url=c.settings.resolved_public_url, formats=BabelFormats()
    )
    for message in inbound:
        if not is_provider_id(message.message_id):
            log.warning("an inbound message with an id no provider gives: skipped")
            continue
        try:
            receive(c.uow(), actor=actor, setup=setup, inbound=message)
        except Exception:
            log.exception("inbound message not handled")
    if (inbound or statuses) and c.worker_wake is not None:
        c.worker_wake.set()


async def _run(
    request: Request, parse: Callable[[], tuple[list[InboundMessage], list[StatusReport]]]
) -> Response:
    c = _container(request)
    inbound, statuses = parse()
    await c.call(_handle, c, inbound, statuses)
    return JSONResponse({"ok": True, "messages": len(inbound), "statuses": len(statuses)})


@router.get("/whatsapp")
async def whatsapp_handshake(request: Request) -> Response:
    s = _container(request).settings
    if s.whatsapp != "cloud" or not s.whatsapp_verify_token:
        return _problem(404, "WhatsApp Cloud API is not set up")
    params = {k: v for k, v in request.query_params.items()}
    challenge = whatsapp_cloud.verify_challenge(params, s.whatsapp_verify_token)
    if challenge is None:
        return _problem(403, "Verify token does not match")
    return PlainTextResponse(challenge)


@router.post("/whatsapp")
async def whatsapp_events(request: Request) -> Response:
    c = _container(request)
    s = c.settings
    if s.whatsapp != "cloud" or not s.whatsapp_app_secret:
        return _problem(404, "WhatsApp Cloud API is not set up")
    raw = await _raw(request)
    if raw is None:
        return _problem(413, "Body too large")
    header = request.headers.get("x-hub-signature-256")
    if not whatsapp_cloud.verify_signature(s.whatsapp_app_secret, raw, header):
        return _problem(401, "Bad or missing signature")
    payload = _json(raw)
    if payload is NOT_JSON:
        return _problem(400, "Body is not JSON")
    return await _run(request, lambda: whatsapp_cloud.parse_webhook(payload, c.phones))


@router.post("/waha")
async def waha_events(request: Request) -> Response:
    c = _container(request)
    s = c.settings
    if s.whatsapp != "waha" or not s.waha_webhook_key:
        return _problem(404, "WAHA is not set up")
    raw = await _raw(request)
    if raw is None:
        return _problem(413, "Body too large")
    if not gateways.verify_waha_hmac(
        s.waha_webhook_key, raw, request.headers.get("x-webhook-hmac")
    ):
        return _problem(401, "Bad or missing signature")
    payload = _json(raw)
    if payload is NOT_JSON:
        return _problem(400, "Body is not JSON")
    return await _run(request, lambda: gateways.parse_waha_webhook(payload, c.phones))


async def _gateway(request: Request, medium: Medium, transport: str, on: bool) -> Response:
    c = _container(request)
    s = c.settings
    if not on or not s.gateway_webhook_token:
        return _problem(404, "This gateway is not set up")
    given = request.query_params.get("token") or request.headers.get("x-webhook-token") or ""
    if not hmac.compare_digest(given.encode(), s.gateway_webhook_token.encode()):
        return _problem(401, "Bad or missing token")
    raw = await _raw(request)
    if raw is None:
        return _problem(413, "Body too large")
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        payload = _json(raw)
    else:
        try:
            payload = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            payload = None
    if not isinstance(payload, dict):
        return _problem(400, "Body is neither a JSON object nor a form")
    return await _run(
        request,
        lambda: gateways.parse_gateway_webhook(
            payload, c.phones, transport=transport, medium=medium
        ),
    )


@router.post("/gateway")
async def gateway_events(request: Request) -> Response:
    on = _container(request).settings.whatsapp == "gateway"
    return await _gateway(request, Medium.WHATSAPP, "gateway", on)


@router.post("/sms")
async def sms_events(request: Request) -> Response:
    on = _container(request).settings.sms == "gateway"
    return await _gateway(request, Medium.SMS, "sms", on)


def install(app: FastAPI) -> None:
    app.include_router(router)

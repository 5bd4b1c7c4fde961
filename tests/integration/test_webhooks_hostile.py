"""Hostile and malformed webhooks: refused with a clear status, never a 500, nothing changed."""

from __future__ import annotations

import json

import pytest

# ruff: noqa: F811  (fixtures shared with the journey test)
from tests.integration.test_messages_journey import APP_SECRET, cloud, container  # noqa: F401
from tests.providers.whatsapp_cloud import sign_cloud


def _signed(api, raw: bytes, content_type: str = "application/json"):
    return api.client.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": content_type, "X-Hub-Signature-256": sign_cloud(APP_SECRET, raw)},
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b'{"entry": ',
    ],
)
def test_signed_bodies_that_are_not_json_are_400(api, raw):
    r = _signed(api, raw)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        123,
        None,
        {"entry": "x"},
        {"entry": [{"changes": [{"value": {"messages": [{"from": None, "type": "text"}]}}]}]},
        {
            "entry": [
                {"changes": [{"value": {"messages": [{"from": "62812", "id": 5, "text": 7}]}}]}
            ]
        },
        {"entry": [{"changes": [{"value": {"statuses": [{"id": None, "status": ["read"]}]}}]}]},
        {
            "entry": [
                {"changes": [{"field": "messages", "value": {"messages": [{"type": "image"}]}}]}
            ]
        },
    ],
)
def test_signed_json_of_odd_shapes_is_acknowledged_and_ignored(api, payload, container):
    r = _signed(api, json.dumps(payload).encode())
    assert r.status_code == 200, r.text
    uow = container.uow()
    with uow():
        assert not uow.outbox.has_due(container.clock.now())


def test_an_oversized_body_is_refused(api):
    raw = b'{"entry": [' + b" " * 1_100_000 + b"]}"
    assert _signed(api, raw).status_code == 413


def test_webhooks_of_providers_not_set_up_are_404(api):
    for path in ("/webhooks/waha", "/webhooks/gateway", "/webhooks/sms"):
        r = api.client.post(path, json={"sender": "+6281211112222", "message": "STOP"})
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json"


def test_the_handshake_without_parameters_is_403(api):
    assert api.client.get("/webhooks/whatsapp").status_code == 403
    r = api.client.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "unsubscribe",
            "hub.verify_token": "verify-me-please",
            "hub.challenge": "5",
        },
    )
    assert r.status_code == 403

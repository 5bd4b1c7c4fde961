"""The message channels against fake providers that answer as the real ones do (HTTP servers on
127.0.0.1, and aiosmtpd for e-mail): the requests field by field, the receipts, what each
failure means for a retry, and the webhooks each provider posts back."""

from __future__ import annotations

import contextlib
import copy
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antrean.domain.notifications import (
    Attachment,
    Button,
    InboundMessage,
    Medium,
    OutgoingMessage,
    Receipt,
    SendFailure,
    StatusReport,
    TemplateCall,
)
from antrean.integrations.email import SmtpChannel, text_as_html
from antrean.integrations.gateways import (
    HttpGatewayChannel,
    WahaChannel,
    format_number,
    parse_gateway_webhook,
    parse_waha_webhook,
    verify_waha_hmac,
)
from antrean.integrations.http_post import MAX_ANSWER_BYTES, HttpPoster
from antrean.integrations.phones import PhonenumbersParser
from antrean.integrations.whatsapp_cloud import (
    CloudApiChannel,
    parse_webhook,
    verify_challenge,
    verify_signature,
)
from tests.integration.conftest import IN_CI
from tests.providers.gateway import (
    FakeFonnte,
    FakeSmsGateway,
    FakeWablas,
    fonnte_incoming,
    fonnte_status,
)
from tests.providers.server import Mode, Reply, Request
from tests.providers.smtp import FakeSmtp, client_context, self_signed_cert
from tests.providers.waha import FakeWaha, sign_waha, waha_ack_event, waha_body, waha_message_event
from tests.providers.whatsapp_cloud import (
    FakeCloudApi,
    cloud_body,
    cloud_button_reply,
    cloud_envelope,
    cloud_list_reply,
    cloud_status,
    cloud_template_button,
    cloud_text_message,
    sign_cloud,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PHONES = PhonenumbersParser()
PATIENT = "+6281234567890"
TOKEN = "EAAG-test-token"
NUMBER_ID = "106540352242922"
SHORT = 0.5  # seconds: the timeout when a provider hangs
T0 = 1_764_000_000  # a unix time in seconds
AT0 = datetime.fromtimestamp(T0, UTC)


def msg(**overrides: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "id": 42,
        "medium": Medium.WHATSAPP,
        "to": PATIENT,
        "lang": "id",
        "subject": "Booking ABC123 terkonfirmasi",
        "text": "Halo Budi, booking Anda terkonfirmasi.",
        "in_service_window": True,
    }
    fields.update(overrides)
    return OutgoingMessage(**fields)


def failure(channel: Any, message: OutgoingMessage) -> SendFailure:
    with pytest.raises(SendFailure) as caught:
        channel.send(message)
    return caught.value


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- WhatsApp Cloud API: sending ------------------------------------------------------------


@pytest.fixture
def cloud() -> Iterator[FakeCloudApi]:
    with FakeCloudApi(access_token=TOKEN, phone_number_id=NUMBER_ID) as fake:
        yield fake


@pytest.fixture
def cloud_channel(cloud: FakeCloudApi) -> Iterator[CloudApiChannel]:
    channel = CloudApiChannel(
        base_url=cloud.url, phone_number_id=NUMBER_ID, access_token=TOKEN, timeout=SHORT
    )
    yield channel
    channel.close()


def test_cloud_text_in_the_service_window(cloud, cloud_channel):
    receipt = cloud_channel.send(msg())

    (request,) = cloud.wait_for(1)
    assert request.method == "POST"
    assert request.path == f"/v23.0/{NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "text",
        "text": {"preview_url": False, "body": "Halo Budi, booking Anda terkonfirmasi."},
    }
    assert receipt.provider_id is not None and receipt.provider_id.startswith("wamid.")
    assert receipt == Receipt(provider_id=cloud.accepted[0].provider_id, status="accepted")
    assert cloud.accepted_for(PATIENT) == 1


def test_cloud_long_text_is_cut_to_4096_characters(cloud, cloud_channel):
    cloud_channel.send(msg(text="x" * 5000))
    body = cloud.wait_for(1)[0].json["text"]["body"]
    assert len(body) == 4096 and body.endswith("…")


def test_cloud_reply_buttons_in_the_window(cloud, cloud_channel):
    buttons = (
        Button("confirm:ABC123", "Hadir"),
        Button("cancel:ABC123", "Batalkan booking saya sekarang juga"),  # 35 characters
        Button("r" * 300, "Ubah"),
        Button("help:", "Bantuan"),  # a fourth: WhatsApp takes three
    )
    cloud_channel.send(msg(text="y" * 1500, buttons=buttons))

    body = cloud.wait_for(1)[0].json
    assert body["type"] == "interactive"
    interactive = body["interactive"]
    assert interactive["type"] == "button"
    assert len(interactive["body"]["text"]) == 1024
    assert interactive["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "confirm:ABC123", "title": "Hadir"}},
        {"type": "reply", "reply": {"id": "cancel:ABC123", "title": "Batalkan booking sa…"}},
        {"type": "reply", "reply": {"id": "r" * 256, "title": "Ubah"}},
    ]
    assert len(cloud.accepted) == 1  # the fake checks the limits as WhatsApp does


def test_cloud_template_outside_the_window(cloud, cloud_channel):
    template = TemplateCall(
        name="appointment_reminder",
        language="id",
        parameters=("Budi", "Senin, 10:00\nPoli Umum", "", "a      b"),
        button_payloads=("confirm:ABC123", "reschedule:ABC123"),
    )
    buttons = (Button("confirm:ABC123", "Hadir"),)
    receipt = cloud_channel.send(msg(in_service_window=False, template=template, buttons=buttons))

    body = cloud.wait_for(1)[0].json
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Budi"},
                        {"type": "text", "text": "Senin, 10:00 Poli Umum"},
                        {"type": "text", "text": "-"},
                        {"type": "text", "text": "a    b"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "confirm:ABC123"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "1",
                    "parameters": [{"type": "payload", "payload": "reschedule:ABC123"}],
                },
            ],
        },
    }
    assert receipt.provider_id == cloud.accepted[0].provider_id


def test_cloud_template_without_parameters_has_no_components(cloud, cloud_channel):
    template = TemplateCall(name="hello_world", language="en", parameters=())
    cloud_channel.send(msg(in_service_window=False, template=template))
    assert cloud.wait_for(1)[0].json["template"] == {
        "name": "hello_world",
        "language": {"code": "en"},
    }


def test_cloud_outside_the_window_without_a_template_sends_nothing(cloud, cloud_channel):
    error = failure(cloud_channel, msg(in_service_window=False, buttons=(Button("a", "A"),)))
    assert error.code == "outside_service_window"
    assert error.permanent is True
    assert cloud.requests == []


def test_cloud_recipient_without_digits_is_refused_without_a_request(cloud, cloud_channel):
    error = failure(cloud_channel, msg(to="not a number"))
    assert (error.code, error.permanent) == ("invalid_recipient", True)
    assert cloud.requests == []


@pytest.mark.parametrize(
    ("mode", "code", "expected", "permanent", "retry_after"),
    [
        ("reject", 131026, "131026", True, None),
        ("reject", 131047, "131047", True, None),
        ("reject", 100, "100", True, None),
        ("reject", 131048, "131048", True, None),
        ("reject", 368, "368", True, None),
        ("reject", 132001, "132001", True, None),  # template missing: any other 4xx code
        ("reject", 190, "190", False, 300.0),
        ("reject", 0, "0", False, 300.0),
        ("reject", 10, "10", False, 300.0),
        ("reject", 200, "200", False, 300.0),
        ("rate_limit", 130429, "130429", False, 2.0),
        ("rate_limit", 131056, "131056", False, 6.0),
        ("rate_limit", 4, "4", False, 60.0),
        ("rate_limit", 80007, "80007", False, 60.0),
    ],
)
def test_cloud_graph_errors(cloud, cloud_channel, mode, code, expected, permanent, retry_after):
    cloud.mode = mode
    if mode == "reject":
        cloud.reject_code = code
    else:
        cloud.rate_limit_code = code

    error = failure(cloud_channel, msg())

    assert error.code == expected
    assert error.permanent is permanent
    assert error.retry_after == retry_after
    assert len(cloud.requests) == 1 and cloud.accepted == []


def test_cloud_re_engagement_detail_is_kept(cloud, cloud_channel):
    cloud.mode = "reject"
    cloud.reject_code = 131047
    error = failure(cloud_channel, msg())
    assert "Re-engagement message" in error.detail and "24 hours" in error.detail


@pytest.mark.parametrize(
    ("status", "expected"), [(500, "1"), (503, "2"), (502, "http_502"), (504, "http_504")]
)
def test_cloud_server_errors_are_transient(cloud, cloud_channel, status, expected):
    cloud.mode = "fail"
    cloud.fail_status = status
    error = failure(cloud_channel, msg())
    assert error.code == expected
    assert error.permanent is False
    assert error.retry_after is None


def test_cloud_wrong_token_gets_graph_190_and_is_retried_later(cloud):
    channel = CloudApiChannel(
        base_url=cloud.url, phone_number_id=NUMBER_ID, access_token="expired", timeout=SHORT
    )
    try:
        error = failure(channel, msg())
    finally:
        channel.close()
    assert error.code == "190"
    assert "OAuth" in error.detail
    # Not permanent: once the token is replaced, delivery resumes.
    assert (error.permanent, error.retry_after) == (False, 300.0)
    assert cloud.accepted == []


def test_cloud_hanging_provider_times_out_and_may_still_have_sent(cloud, cloud_channel):
    cloud.mode = "hang"
    started = time.monotonic()
    error = failure(cloud_channel, msg())
    elapsed = time.monotonic() - started

    assert error.code == "timeout" and error.permanent is False
    assert SHORT * 0.8 <= elapsed < SHORT + 1.5
    assert len(cloud.wait_for(1)) == 1
    assert cloud.accepted == []
    # The provider was slow, not down: once let go it takes the message the channel gave up
    # on, which is why a retry must be recognisable as the same message.
    cloud.release()
    assert cloud.wait_accepted(1)[0].recipient == PATIENT


def test_cloud_connection_refused_is_transient():
    channel = CloudApiChannel(
        base_url=f"http://127.0.0.1:{closed_port()}",
        phone_number_id=NUMBER_ID,
        access_token=TOKEN,
        timeout=SHORT,
    )
    try:
        error = failure(channel, msg())
    finally:
        channel.close()
    assert (error.code, error.permanent, error.retry_after) == ("connection", False, None)


def test_cloud_channel_keeps_a_given_client_open(cloud):
    client = HttpPoster(timeout=SHORT)
    first, second = (
        CloudApiChannel(
            base_url=cloud.url, phone_number_id=NUMBER_ID, access_token=TOKEN, client=client
        )
        for _ in range(2)
    )
    first.send(msg())
    first.close()
    second.send(msg())  # the client the first one was given still works
    assert len(cloud.wait_accepted(2)) == 2
    client.close()
    channel = second
    assert channel.transport == "whatsapp_cloud" and channel.medium is Medium.WHATSAPP


class _OddProvider(http.server.BaseHTTPRequestHandler):
    """Answers every POST with a body far over the size an answer may have, or a redirect."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = 3 * MAX_ANSWER_BYTES
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client stops reading, as it should
            self.wfile.write(b" " * size)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def odd_provider() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OddProvider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_client_reads_no_more_than_an_answer_may_hold_and_follows_no_redirect(odd_provider):
    client = HttpPoster(timeout=5.0)
    try:
        for _ in range(2):  # the connection cut short is not reused for the second post
            answer = client.post_json(f"{odd_provider}/big", {"x": 1}, headers={})
            assert answer.status == 200 and len(answer.body) == MAX_ANSWER_BYTES
            assert answer.json() is None  # blanks only: not JSON, and no crash
        moved = client.post_form(f"{odd_provider}/redirect", {"x": "1"}, headers={})
        assert moved.status == 302 and not moved.is_success
        assert moved.headers["location"].endswith("/elsewhere")  # headers read in any case
    finally:
        client.close()


def test_cloud_channel_is_shared_by_threads_and_sends_each_message_once(cloud, cloud_channel):
    recipients = [f"+62812000{n:05d}" for n in range(64)]
    errors: list[BaseException] = []

    def work(chunk: list[str]) -> None:
        for to in chunk:
            try:
                cloud_channel.send(msg(to=to, text=f"pesan untuk {to}"))
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(recipients[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(cloud.wait_accepted(64)) == 64
    assert cloud.duplicates() == {}
    assert all(cloud.accepted_for(to) == 1 for to in recipients)
    assert cloud.accepted_texts(recipients[5]) == [f"pesan untuk {recipients[5]}"]


# --- WhatsApp Cloud API: webhooks -----------------------------------------------------------

APP_SECRET = "app-secret-123"


def test_cloud_signature():
    raw = cloud_body(cloud_text_message(PATIENT, "Halo 👋"))
    good = sign_cloud(APP_SECRET, raw)
    assert "\\ud83d" in raw.decode()  # Meta escapes non-ASCII characters in what it signs
    assert verify_signature(APP_SECRET, raw, good)
    assert verify_signature(APP_SECRET, raw, good.upper().replace("SHA256=", "sha256="))
    assert not verify_signature(APP_SECRET, raw + b" ", good)  # tampered body
    assert not verify_signature(APP_SECRET, raw.replace(b"Halo", b"Hal0"), good)
    assert not verify_signature("another-secret", raw, good)
    assert not verify_signature(APP_SECRET, raw, None)
    assert not verify_signature(APP_SECRET, raw, "")
    assert not verify_signature(APP_SECRET, raw, good.removeprefix("sha256="))
    assert not verify_signature(APP_SECRET, raw, "sha1=" + good.removeprefix("sha256="))
    assert not verify_signature(APP_SECRET, raw, good[:-2])
    assert not verify_signature(APP_SECRET, raw, "sha256=" + "é" * 64)
    assert not verify_signature("", raw, sign_cloud("", raw))


def test_cloud_verify_challenge():
    params = {"hub.mode": "subscribe", "hub.verify_token": "vt-1", "hub.challenge": "1158201444"}
    assert verify_challenge(params, "vt-1") == "1158201444"
    assert verify_challenge(params, "vt-2") is None
    assert verify_challenge({**params, "hub.mode": "unsubscribe"}, "vt-1") is None
    assert (
        verify_challenge({k: v for k, v in params.items() if k != "hub.challenge"}, "vt-1") is None
    )
    assert (
        verify_challenge({k: v for k, v in params.items() if k != "hub.verify_token"}, "vt-1")
        is None
    )
    assert verify_challenge({**params, "hub.verify_token": ""}, "") is None


def test_cloud_webhook_text_message():
    payload = cloud_text_message(
        "6281234567890", "STATUS ABC123", name="Budi", message_id="wamid.in1", timestamp=T0
    )
    assert parse_webhook(payload, PHONES) == (
        [
            InboundMessage(
                transport="whatsapp_cloud",
                medium=Medium.WHATSAPP,
                message_id="wamid.in1",
                sender=PATIENT,
                text="STATUS ABC123",
                at=AT0,
                button=None,
                name="Budi",
            )
        ],
        [],
    )


def test_cloud_webhook_button_taps():
    reply = cloud_button_reply(
        PATIENT, "confirm:ABC123", "Hadir", message_id="wamid.b", timestamp=T0
    )
    row = cloud_list_reply(PATIENT, "slot:7", "Senin 10:00", message_id="wamid.l", timestamp=T0)
    quick = cloud_template_button(
        PATIENT, "cancel:ABC123", "Batal", message_id="wamid.q", timestamp=T0
    )

    (b,), _ = parse_webhook(reply, PHONES)
    (li,), _ = parse_webhook(row, PHONES)
    (q,), _ = parse_webhook(quick, PHONES)

    assert (b.message_id, b.button, b.text, b.at) == ("wamid.b", "confirm:ABC123", "Hadir", AT0)
    assert (li.message_id, li.button, li.text) == ("wamid.l", "slot:7", "Senin 10:00")
    assert (q.message_id, q.button, q.text, q.sender) == (
        "wamid.q",
        "cancel:ABC123",
        "Batal",
        PATIENT,
    )


def test_cloud_webhook_statuses():
    delivered = cloud_status("wamid.out1", "delivered", timestamp=T0)
    failed = cloud_status("wamid.out2", "failed", timestamp=T0 + 5, error_code=131047)

    assert parse_webhook(delivered, PHONES) == (
        [],
        [StatusReport("whatsapp_cloud", "wamid.out1", "delivered", AT0)],
    )
    assert parse_webhook(failed, PHONES)[1] == [
        StatusReport(
            transport="whatsapp_cloud",
            provider_id="wamid.out2",
            status="failed",
            at=datetime.fromtimestamp(T0 + 5, UTC),
            error_code="131047",
            error_title="(#131047) Re-engagement message",
        )
    ]


def test_cloud_webhook_batches_and_foreign_numbers():
    text = cloud_text_message("+16505551234", "hello", message_id="wamid.us", timestamp=T0)
    status = cloud_status("wamid.out", "read", timestamp=T0)
    payload = copy.deepcopy(text)
    payload["entry"].append(status["entry"][0])
    payload["entry"][0]["changes"].append(copy.deepcopy(status["entry"][0]["changes"][0]))
    payload["entry"][0]["changes"].append({"field": "account_update", "value": {"event": "x"}})

    inbound, statuses = parse_webhook(payload, PHONES)

    assert [(m.message_id, m.sender) for m in inbound] == [("wamid.us", "+16505551234")]
    assert [(s.provider_id, s.status) for s in statuses] == [("wamid.out", "read")] * 2


def test_cloud_webhook_skips_what_it_does_not_answer():
    image = cloud_envelope(
        {
            "contacts": [{"wa_id": "6281234567890"}],
            "messages": [
                {"from": "6281234567890", "id": "wamid.i", "timestamp": str(T0), "type": "image",
                 "image": {"id": "m1", "mime_type": "image/jpeg"}},
                {"from": "6281234567890", "id": "wamid.r", "timestamp": str(T0), "type": "reaction",
                 "reaction": {"message_id": "wamid.x", "emoji": "👍"}},
                {"from": "6281234567890", "id": "wamid.t", "timestamp": str(T0), "type": "text",
                 "text": {"body": "tetap terbaca"}},
            ],
            "statuses": [{"id": "wamid.d", "status": "deleted", "timestamp": str(T0)}],
        }
    )  # fmt: skip
    inbound, statuses = parse_webhook(image, PHONES)
    assert [m.message_id for m in inbound] == ["wamid.t"]
    assert statuses == []


def _mutations(payload: Any) -> Iterator[Any]:
    """The payload with each node in turn replaced by a value of another type."""
    odd_values: list[Any] = [None, 7, "x", [], {}, True, [None], {"x": None}, -1.5]

    def paths(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        yield path
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from paths(value, (*path, index))

    for path in list(paths(payload, ())):
        for odd in odd_values:
            if not path:
                yield odd
                continue
            mutated = copy.deepcopy(payload)
            node = mutated
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = odd
            yield mutated


CLOUD_PAYLOADS = [
    cloud_text_message(PATIENT, "halo", timestamp=T0),
    cloud_button_reply(PATIENT, "confirm:A", "Hadir", timestamp=T0),
    cloud_list_reply(PATIENT, "slot:1", "Senin", timestamp=T0),
    cloud_template_button(PATIENT, "cancel:A", "Batal", timestamp=T0),
    cloud_status("wamid.x", "failed", timestamp=T0, error_code=131026),
]


@pytest.mark.parametrize("payload", CLOUD_PAYLOADS)
def test_cloud_webhook_never_raises_on_broken_shapes(payload):
    count = 0
    for mutated in _mutations(payload):
        inbound, statuses = parse_webhook(mutated, PHONES)
        assert all(isinstance(m, InboundMessage) and m.sender.startswith("+") for m in inbound)
        assert all(isinstance(s, StatusReport) and s.provider_id for s in statuses)
        assert all(m.at.tzinfo is not None for m in inbound)
        count += 1
    assert count > 100


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["entry", "changes", "value", "messages", "statuses", "contacts", "from", "id",
             "type", "text", "body", "timestamp", "interactive", "button", "errors", "code",
             "event", "payload", "fromMe", "ack", "sender", "message", "wa_id", "status"]
        ),
        children,
        max_size=5,
    ),
    max_leaves=25,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_webhook_parsers_never_raise_on_any_json(payload):
    parse_webhook(payload, PHONES)
    parse_waha_webhook(payload, PHONES)
    if isinstance(payload, dict):
        parse_gateway_webhook(payload, PHONES, transport="gateway", medium=Medium.WHATSAPP)


# --- WAHA -----------------------------------------------------------------------------------


@pytest.fixture
def waha() -> Iterator[FakeWaha]:
    with FakeWaha(api_key="waha-key") as fake:
        yield fake


@pytest.fixture
def waha_channel(waha: FakeWaha) -> Iterator[WahaChannel]:
    channel = WahaChannel(base_url=waha.url + "/", api_key="waha-key", timeout=SHORT)
    yield channel
    channel.close()


@pytest.mark.parametrize("id_style", ["object", "string"])
def test_waha_send_text(waha, waha_channel, id_style):
    waha.id_style = id_style
    receipt = waha_channel.send(msg())

    (request,) = waha.wait_for(1)
    assert (request.method, request.path) == ("POST", "/api/sendText")
    assert request.headers["x-api-key"] == "waha-key"
    assert request.json == {
        "session": "default",
        "chatId": "6281234567890@c.us",
        "text": "Halo Budi, booking Anda terkonfirmasi.",
    }
    assert receipt.provider_id is not None
    assert receipt.provider_id.startswith("true_6281234567890@c.us_")
    assert receipt.provider_id == waha.accepted[0].provider_id


def test_waha_has_no_templates_or_window(waha, waha_channel):
    template = TemplateCall("appointment_reminder", "id", ("Budi",))
    waha_channel.send(
        msg(in_service_window=False, template=template, buttons=(Button("confirm:A", "Hadir"),))
    )
    assert waha.wait_for(1)[0].json == {
        "session": "default",
        "chatId": "6281234567890@c.us",
        "text": "Halo Budi, booking Anda terkonfirmasi.",
    }


def test_waha_without_an_api_key_sends_no_key_header():
    with FakeWaha(api_key=None, session="klinik") as fake:
        channel = WahaChannel(base_url=fake.url, session="klinik", api_key=None)
        channel.send(msg())
        channel.close()
        request = fake.wait_for(1)[0]
    assert "x-api-key" not in request.headers
    assert request.json["session"] == "klinik"
    assert channel.transport == "waha" and channel.medium is Medium.WHATSAPP


@pytest.mark.parametrize(
    ("mode", "code", "permanent", "retry_after"),
    [
        ("reject", "http_400", True, None),
        ("rate_limit", "http_429", False, 7.0),
        ("fail", "http_500", False, None),
    ],
)
def test_waha_failures(waha, waha_channel, mode, code, permanent, retry_after):
    waha.mode = mode
    error = failure(waha_channel, msg())
    assert (error.code, error.permanent, error.retry_after) == (code, permanent, retry_after)
    assert waha.accepted == []


def test_waha_wrong_key_and_unknown_session_are_retried_later(waha):
    wrong_key = WahaChannel(base_url=waha.url, api_key="nope")
    wrong_session = WahaChannel(base_url=waha.url, session="other", api_key="waha-key")
    try:
        key_error = failure(wrong_key, msg())
        session_error = failure(wrong_session, msg())
    finally:
        wrong_key.close()
        wrong_session.close()
    assert (key_error.code, key_error.permanent, key_error.retry_after) == (
        "http_401",
        False,
        300.0,
    )
    assert (session_error.code, session_error.permanent) == ("http_422", False)
    assert session_error.retry_after == 60.0
    assert "other" in session_error.detail


def test_waha_hang_times_out(waha, waha_channel):
    waha.mode = "hang"
    started = time.monotonic()
    error = failure(waha_channel, msg())
    assert error.code == "timeout" and not error.permanent
    assert time.monotonic() - started < SHORT + 1.5
    assert len(waha.wait_for(1)) == 1


def test_waha_hmac():
    raw = waha_body(waha_message_event(PATIENT, "halo"))
    good = sign_waha("hmac-key", raw)
    assert verify_waha_hmac("hmac-key", raw, good)
    assert verify_waha_hmac("hmac-key", raw, good.upper())
    assert not verify_waha_hmac("hmac-key", raw + b"\n", good)
    assert not verify_waha_hmac("other-key", raw, good)
    assert not verify_waha_hmac("hmac-key", raw, None)
    assert not verify_waha_hmac("hmac-key", raw, good[:-1])
    assert not verify_waha_hmac("hmac-key", raw, "sha512=" + good)
    assert not verify_waha_hmac("", raw, sign_waha("", raw))


def test_waha_webhook_message():
    event = waha_message_event(
        "6281234567890", "  BATAL ABC123 ", message_id="false_6281234567890@c.us_AAAA", timestamp=T0
    )
    assert parse_waha_webhook(event, PHONES) == (
        [
            InboundMessage(
                transport="waha",
                medium=Medium.WHATSAPP,
                message_id="false_6281234567890@c.us_AAAA",
                sender=PATIENT,
                text="BATAL ABC123",
                at=AT0,
                name="Pasien",
            )
        ],
        [],
    )


def test_waha_webhook_skips_own_group_and_other_events():
    own = waha_message_event(PATIENT, "sent by us", from_me=True)
    group = waha_message_event(PATIENT, "hi all", chat_server="g.us")
    hidden = waha_message_event(PATIENT, "hi", chat_server="lid")
    session = {"event": "session.status", "payload": {"status": "WORKING"}}
    empty = waha_message_event(PATIENT, "")
    keep = waha_message_event(PATIENT, "ya", message_id="false_x")
    inbound, statuses = parse_waha_webhook([own, group, hidden, session, empty, keep], PHONES)
    assert [m.message_id for m in inbound] == ["false_x"]
    assert statuses == []


def test_waha_webhook_acks():
    provider_id = "true_6281234567890@c.us_3EB0ABC"
    reports = [
        parse_waha_webhook(waha_ack_event(provider_id, ack, timestamp_ms=T0 * 1000 + 250), PHONES)[
            1
        ]
        for ack in (-1, 0, 1, 2, 3, 4, 9)
    ]
    assert [[r.status for r in rs] for rs in reports] == [
        ["failed"], [], ["sent"], ["delivered"], ["read"], ["played"], [],
    ]  # fmt: skip
    failed = reports[0][0]
    assert (failed.provider_id, failed.error_code, failed.error_title) == (
        provider_id,
        "-1",
        "ERROR",
    )
    assert reports[2][0].at == datetime.fromtimestamp(T0 + 0.25, UTC)  # the event's time
    assert reports[2][0].error_code is None
    object_id = waha_ack_event(provider_id, 3)
    object_id["payload"]["id"] = {"fromMe": True, "id": "3EB0ABC", "_serialized": provider_id}
    assert parse_waha_webhook(object_id, PHONES)[1][0].provider_id == provider_id


@pytest.mark.parametrize(
    "payload",
    [waha_message_event(PATIENT, "halo", timestamp=T0), waha_ack_event("true_x@c.us_1", 2)],
)
def test_waha_webhook_never_raises_on_broken_shapes(payload):
    for mutated in _mutations(payload):
        inbound, statuses = parse_waha_webhook(mutated, PHONES)
        assert all(m.sender.startswith("+") and m.text for m in inbound)
        assert all(s.status in {"sent", "delivered", "read", "played", "failed"} for s in statuses)


# --- Hosted gateways: Fonnte, Wablas, SMS ---------------------------------------------------


@pytest.fixture
def fonnte() -> Iterator[FakeFonnte]:
    with FakeFonnte(token="device-token") as fake:
        yield fake


def fonnte_channel(fake: FakeFonnte, **overrides: Any) -> HttpGatewayChannel:
    settings: dict[str, Any] = {
        "url": fake.url + "/send",
        "token": "device-token",
        "extra_fields": {"countryCode": "62"},
        "timeout": SHORT,
    }
    settings.update(overrides)
    return HttpGatewayChannel(**settings)


def test_fonnte_send_as_a_form(fonnte):
    channel = fonnte_channel(fonnte)
    receipt = channel.send(msg())
    channel.close()

    (request,) = fonnte.wait_for(1)
    assert (request.method, request.path) == ("POST", "/send")
    assert request.headers["authorization"] == "device-token"  # raw, no "Bearer"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form == {
        "countryCode": "62",
        "target": "6281234567890",
        "message": "Halo Budi, booking Anda terkonfirmasi.",
    }
    assert receipt.provider_id == fonnte.accepted[0].provider_id
    assert receipt.provider_id is not None and receipt.provider_id.isdigit()
    assert (channel.transport, channel.medium) == ("gateway", Medium.WHATSAPP)


def test_fonnte_send_as_json_with_the_national_number_format(fonnte):
    channel = fonnte_channel(fonnte, body_format="json", number_format="0", extra_fields={})
    channel.send(msg(in_service_window=False, buttons=(Button("a", "A"),)))
    channel.close()
    request = fonnte.wait_for(1)[0]
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "target": "081234567890",
        "message": "Halo Budi, booking Anda terkonfirmasi.",
    }
    assert fonnte.accepted_for(PATIENT) == 1


def test_number_formats():
    assert format_number(PATIENT, "62") == "6281234567890"
    assert format_number(PATIENT, "0") == "081234567890"
    assert format_number(PATIENT, "+62") == "+6281234567890"
    assert format_number("+16505551234", "0") == "16505551234"  # no national form abroad
    assert format_number("", "62") is None


@pytest.mark.parametrize(
    ("reason", "code", "permanent", "retry_after"),
    [
        ("target invalid", "target_invalid", True, None),
        ("invalid target number", "invalid_target_number", True, None),
        ("insufficient quota", "insufficient_quota", False, 300.0),
        ("input invalid", "input_invalid", False, None),
    ],
)
def test_fonnte_refusals_come_with_http_200(fonnte, reason, code, permanent, retry_after):
    fonnte.mode = "reject"
    fonnte.reject_reason = reason
    channel = fonnte_channel(fonnte)
    error = failure(channel, msg())
    channel.close()
    assert (error.code, error.permanent, error.retry_after) == (code, permanent, retry_after)
    assert error.detail == reason
    assert fonnte.accepted == []


def test_fonnte_status_key_is_read_in_any_case(fonnte):
    fonnte.capital_status = True
    channel = fonnte_channel(fonnte)
    assert channel.send(msg()).provider_id == fonnte.wait_accepted(1)[0].provider_id
    fonnte.mode = "reject"
    assert failure(channel, msg()).code == "target_invalid"
    channel.close()


def test_fonnte_wrong_token_is_retried_later(fonnte):
    channel = fonnte_channel(fonnte, token="wrong")
    error = failure(channel, msg())
    channel.close()
    assert (error.code, error.permanent, error.retry_after) == ("token_invalid", False, 300.0)


@pytest.mark.parametrize(
    ("mode", "code", "retry_after"), [("rate_limit", "http_429", 7.0), ("fail", "http_503", None)]
)
def test_fonnte_http_failures_are_transient(fonnte, mode, code, retry_after):
    fonnte.mode = mode
    channel = fonnte_channel(fonnte)
    error = failure(channel, msg())
    channel.close()
    assert (error.code, error.permanent, error.retry_after) == (code, False, retry_after)


def test_retry_after_as_an_http_date(fonnte):
    fonnte.mode = "rate_limit"
    fonnte.retry_after = "Wed, 21 Oct 2015 07:28:00 GMT"  # in the past: no wait
    channel = fonnte_channel(fonnte)
    error = failure(channel, msg())
    channel.close()
    assert error.retry_after == 0.0


def test_fonnte_hang_times_out(fonnte):
    fonnte.mode = "hang"
    channel = fonnte_channel(fonnte)
    started = time.monotonic()
    error = failure(channel, msg())
    channel.close()
    assert error.code == "timeout" and time.monotonic() - started < SHORT + 1.5
    assert fonnte.received_for(PATIENT) == 1 and fonnte.accepted_for(PATIENT) == 0


def test_wablas_style_gateway():
    with FakeWablas(token="tok.secret") as fake:
        channel = HttpGatewayChannel(
            url=fake.url + "/api/send-message", token="tok.secret", target_field="phone"
        )
        receipt = channel.send(msg())
        fake.mode = "reject"
        error = failure(channel, msg())
        channel.close()
        request = fake.wait_for(2)[0]
    assert request.form == {"phone": "6281234567890", "message": msg().text}
    assert request.headers["authorization"] == "tok.secret"
    assert receipt.provider_id == fake.accepted[0].provider_id  # data.messages[0].id
    assert (error.code, error.permanent) == ("phone_number_invalid", True)


def test_sms_gateway():
    with FakeSmsGateway(token="sms-key") as fake:
        channel = HttpGatewayChannel(
            url=fake.url + "/messages",
            token="sms-key",
            token_prefix="Bearer ",
            body_format="json",
            target_field="to",
            message_field="text",
            number_format="+62",
            medium=Medium.SMS,
            transport="sms",
        )
        receipt = channel.send(msg(medium=Medium.SMS))
        fake.mode = "reject"
        rejected = failure(channel, msg(medium=Medium.SMS))
        channel.close()
        wrong = HttpGatewayChannel(url=fake.url + "/messages", token="x", medium=Medium.SMS)
        fake.mode = "ok"
        unauthorised = failure(wrong, msg(medium=Medium.SMS))
        wrong.close()
        request = fake.wait_for(1)[0]
    assert request.headers["authorization"] == "Bearer sms-key"
    assert request.json == {"to": "+6281234567890", "text": msg().text}
    # `"status": "queued"` is not a boolean: not a refusal.
    assert receipt.provider_id is not None and receipt.provider_id.startswith("sms-")
    assert (channel.transport, channel.medium) == ("sms", Medium.SMS)
    assert (rejected.code, rejected.permanent) == ("http_400", True)
    assert "invalid destination" in rejected.detail
    assert (unauthorised.code, unauthorised.retry_after) == ("http_401", 300.0)


class _PlainOk(FakeSmsGateway):
    """A gateway that answers a bare `200 OK` text."""

    def answer(self, request: Request, mode: Mode) -> Reply:
        return Reply(200, "OK", accepted=True)


def test_gateway_receipt_without_an_id():
    """A 2xx answer with no JSON at all: the gateway took the message, and gave no id."""
    with _PlainOk(token=None) as fake:
        channel = HttpGatewayChannel(url=fake.url + "/messages", token=None)
        receipt = channel.send(msg())
        channel.close()
        request = fake.wait_for(1)[0]
    assert receipt == Receipt(provider_id=None)
    assert "authorization" not in request.headers


def test_fonnte_webhook_message():
    payload = fonnte_incoming(PATIENT, "status ABC123", name="Budi", inboxid="987", timestamp=T0)
    assert parse_gateway_webhook(payload, PHONES, transport="gateway", medium=Medium.WHATSAPP) == (
        [
            InboundMessage(
                transport="gateway",
                medium=Medium.WHATSAPP,
                message_id="987",
                sender=PATIENT,
                text="status ABC123",
                at=AT0,
                button=None,
                name="Budi",
            )
        ],
        [],
    )


def test_fonnte_webhook_button_text_and_form_fields():
    payload = fonnte_incoming("081234567890", "", text="HADIR", timestamp=T0, inboxid="5")
    form = {key: str(value) for key, value in payload.items()}  # a form post: all text
    (message,), _ = parse_gateway_webhook(form, PHONES, transport="sms", medium=Medium.SMS)
    assert (message.text, message.button, message.sender) == ("HADIR", "HADIR", PATIENT)
    assert (message.transport, message.medium, message.at) == ("sms", Medium.SMS, AT0)


def test_fonnte_webhook_without_an_id_gets_a_stable_one():
    first = fonnte_incoming(PATIENT, "STATUS", timestamp=T0)
    again = dict(first)
    later = fonnte_incoming(PATIENT, "STATUS", timestamp=T0 + 60)
    other = fonnte_incoming("+6281234567891", "STATUS", timestamp=T0)

    def message_id(payload: dict[str, Any]) -> str:
        (message,), _ = parse_gateway_webhook(
            payload, PHONES, transport="gateway", medium=Medium.WHATSAPP
        )
        return message.message_id

    assert message_id(first) == message_id(again)  # the gateway's retry is answered once
    assert message_id(first) != message_id(later)  # the patient asking again is answered
    assert message_id(first) != message_id(other)
    assert message_id(first).startswith("derived-")


def test_fonnte_webhook_skips_groups_and_empty_messages():
    def parsed(payload: dict[str, Any]) -> list[InboundMessage]:
        return parse_gateway_webhook(payload, PHONES, transport="gateway", medium=Medium.WHATSAPP)[
            0
        ]

    assert parsed(fonnte_incoming(PATIENT, "halo", member="6281299999999")) == []
    assert parsed({**fonnte_incoming(PATIENT, "halo"), "sender": "120363@g.us"}) == []
    assert parsed(fonnte_incoming(PATIENT, "")) == []
    assert parsed({**fonnte_incoming(PATIENT, "halo"), "sender": "bukan nomor"}) == []
    assert len(parsed(fonnte_incoming(PATIENT, "halo"))) == 1


def test_fonnte_webhook_status():
    def statuses(state: str) -> list[StatusReport]:
        return parse_gateway_webhook(
            fonnte_status("80367170", state), PHONES, transport="gateway", medium=Medium.WHATSAPP
        )[1]

    assert [(s.provider_id, s.status) for s in statuses("sent")] == [("80367170", "sent")]
    assert [s.status for s in statuses("delivered")] == ["delivered"]
    assert [s.status for s in statuses("read")] == ["read"]
    invalid = statuses("invalid")
    assert [(s.status, s.error_code) for s in invalid] == [("failed", "invalid")]
    assert statuses("pending") == []


@pytest.mark.parametrize(
    "payload",
    [fonnte_incoming(PATIENT, "halo", timestamp=T0, inboxid="1"), fonnte_status("1", "read")],
)
def test_gateway_webhook_never_raises_on_broken_shapes(payload):
    for mutated in _mutations(payload):
        result = parse_gateway_webhook(mutated, PHONES, transport="gateway", medium=Medium.WHATSAPP)
        assert all(m.sender.startswith("+") and m.message_id for m in result[0])
    assert parse_gateway_webhook([], PHONES, transport="g", medium=Medium.SMS) == ([], [])  # type: ignore[arg-type]


# --- E-mail ---------------------------------------------------------------------------------

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//antrean//booking//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:ABC123@klinik.example\r\nSUMMARY:Poli Umum\r\nEND:VEVENT\r\n"
    b"END:VCALENDAR\r\n"
)


def email_msg(**overrides: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "medium": Medium.EMAIL,
        "to": "budi@example.org",
        "text": "Halo Budi,\n\nbooking ABC123 terkonfirmasi.\nSampai jumpa <besok>.",
        "html": "<p>Halo Budi, booking <b>ABC123</b> terkonfirmasi.</p>",
        "attachments": (Attachment("booking.ics", "text/calendar; method=REQUEST", ICS),),
    }
    fields.update(overrides)
    return msg(**fields)


def smtp_channel(port: int, **overrides: Any) -> SmtpChannel:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "Klinik Sehat <noreply@klinik.example>",
        "timeout": SHORT,
    }
    settings.update(overrides)
    return SmtpChannel(**settings)


def test_email_with_text_html_and_calendar_file():
    with FakeSmtp() as smtp:
        channel = smtp_channel(smtp.port)
        receipt = channel.send(email_msg())
        (received,) = smtp.wait_for(1)

    mail = received.message
    assert received.mail_from == "noreply@klinik.example"
    assert received.rcpt_tos == ["budi@example.org"]
    assert mail["From"] == "Klinik Sehat <noreply@klinik.example>"
    assert mail["To"] == "budi@example.org"
    assert mail["Subject"] == "Booking ABC123 terkonfirmasi"
    assert mail["Message-ID"] == "<antrean-42@klinik.example>"
    assert receipt == Receipt(provider_id="<antrean-42@klinik.example>")
    assert mail["Date"] is not None
    assert mail.get_content_type() == "multipart/mixed"
    plain = mail.get_body(preferencelist=("plain",))
    html_part = mail.get_body(preferencelist=("html",))
    assert plain is not None and html_part is not None
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == email_msg().text
    assert "<b>ABC123</b>" in html_part.get_content()
    (calendar,) = list(mail.iter_attachments())
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_filename() == "booking.ics"
    assert calendar.get_payload(decode=True) == ICS
    assert (channel.transport, channel.medium) == ("smtp", Medium.EMAIL)


def test_email_without_html_gets_an_escaped_one():
    with FakeSmtp() as smtp:
        smtp_channel(smtp.port).send(email_msg(html=None, attachments=()))
        mail = smtp.wait_for(1)[0].message
    html_part = mail.get_body(preferencelist=("html",))
    assert html_part is not None
    content = html_part.get_content()
    assert "Sampai jumpa &lt;besok&gt;." in content and "<besok>" not in content
    assert "<p>Halo Budi,</p>" in content
    assert mail.get_content_type() == "multipart/alternative"
    assert text_as_html("a & b").count("&amp;") == 1


def test_email_resend_keeps_its_message_id():
    with FakeSmtp() as smtp:
        channel = smtp_channel(smtp.port)
        channel.send(email_msg(id=7))
        channel.send(email_msg(id=7))
        channel.send(email_msg(id=8))
        ids = [r.message["Message-ID"] for r in smtp.wait_for(3)]
    assert ids == ["<antrean-7@klinik.example>"] * 2 + ["<antrean-8@klinik.example>"]


def test_email_login():
    with FakeSmtp(auth=("klinik", "s3cret")) as smtp:
        smtp_channel(smtp.port, username="klinik", password="s3cret").send(email_msg())
        received = smtp.wait_for(1)[0]
    assert received.login == "klinik"


def test_email_login_refused_is_retried_later():
    with FakeSmtp(auth=("klinik", "s3cret")) as smtp:
        error = failure(smtp_channel(smtp.port, username="klinik", password="wrong"), email_msg())
        unauthenticated = failure(smtp_channel(smtp.port), email_msg())
        assert smtp.failed_logins >= 1  # smtplib tries each mechanism the server offers
        assert smtp.messages == []
    assert (error.code, error.permanent, error.retry_after) == ("auth", False, 300.0)
    assert "535" in str(error.__cause__) or "Authentication" in error.detail
    # No login where one is required: the server refuses the sender (530), a settings problem.
    assert (unauthenticated.code, unauthenticated.permanent) == ("smtp_530", False)
    assert unauthenticated.retry_after == 300.0


@pytest.mark.parametrize(
    ("mode", "code", "permanent"), [("reject", "smtp_550", True), ("fail", "smtp_451", False)]
)
def test_email_refusals(mode, code, permanent):
    with FakeSmtp() as smtp:
        smtp.mode = mode
        error = failure(smtp_channel(smtp.port), email_msg())
        assert smtp.messages == []
    assert (error.code, error.permanent) == (code, permanent)


def test_email_hang_times_out():
    with FakeSmtp() as smtp:
        smtp.mode = "hang"
        started = time.monotonic()
        error = failure(smtp_channel(smtp.port), email_msg())
        elapsed = time.monotonic() - started
    assert (error.code, error.permanent) == ("timeout", False)
    assert elapsed < SHORT + 1.5


def test_email_connection_refused_and_bad_address():
    error = failure(smtp_channel(closed_port()), email_msg())
    assert (error.code, error.permanent) == ("connection", False)
    bad = failure(smtp_channel(closed_port()), email_msg(to="budi@example.org\nBcc: x@y.z"))
    assert (bad.code, bad.permanent) == ("invalid_address", True)
    assert failure(smtp_channel(closed_port()), email_msg(to="no-at-sign")).permanent


def test_email_from_many_threads():
    with FakeSmtp() as smtp:
        channel = smtp_channel(smtp.port, timeout=5.0)
        threads = [
            threading.Thread(target=channel.send, args=(email_msg(id=n, attachments=()),))
            for n in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received = smtp.wait_for(6)
    assert sorted(r.message["Message-ID"] for r in received) == sorted(
        f"<antrean-{n}@klinik.example>" for n in range(6)
    )


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = self_signed_cert(tmp_path_factory.mktemp("tls"))
    if made is None:
        reason = "neither the cryptography package nor the openssl command is available"
        if IN_CI:
            pytest.fail(f"{reason} (TLS to SMTP is required in CI)")
        pytest.skip(reason)
    return made


def test_email_starttls_with_login(cert):
    with FakeSmtp(auth=("klinik", "s3cret"), tls_cert=cert) as smtp:
        channel = smtp_channel(
            smtp.port,
            security="starttls",
            username="klinik",
            password="s3cret",
            ssl_context=client_context(cert),
        )
        channel.send(email_msg())
        received = smtp.wait_for(1)[0]
    assert received.tls is True and received.login == "klinik"
    assert received.message["Message-ID"] == "<antrean-42@klinik.example>"


def test_email_untrusted_certificate_and_missing_starttls(cert):
    with FakeSmtp(tls_cert=cert) as smtp:
        untrusted = failure(smtp_channel(smtp.port, security="starttls"), email_msg())
        plain = failure(smtp_channel(smtp.port, security="none"), email_msg())
        assert smtp.messages == []
    assert (untrusted.code, untrusted.permanent, untrusted.retry_after) == ("tls", False, 300.0)
    # The server requires STARTTLS first and refuses the sender (530).
    assert (plain.code, plain.permanent, plain.retry_after) == ("smtp_530", False, 300.0)


def test_fake_modes_are_checked():
    with pytest.raises(ValueError):
        FakeCloudApi().mode = "broken"  # type: ignore[assignment]
    assert json.loads(cloud_body({"a": "é"})) == {"a": "é"}

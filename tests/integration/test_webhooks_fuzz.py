"""The providers' webhooks against their own OpenAPI document, with generated requests.

Requests are generated from `webhooks_openapi.DOCUMENT` (each webhook as its provider
publishes it), both ones that fit the document and ones that break it on purpose, plus every
example the document gives, and those examples again with one field at a time swapped for a
hostile value (a digit that is not a number, NUL, nothing, a long text, null, a negative or
huge number, an object). They are sent on SQLite and PostgreSQL to three servers on one
database, one per way a clinic sets up WhatsApp: the Cloud API (app secret and verify token),
WAHA (webhook key), and hosted gateways for WhatsApp and SMS (webhook token).

Each request is signed as its provider would sign it: `X-Hub-Signature-256` and
`X-Webhook-Hmac` are computed over the exact bytes sent, the gateways' token is set in the
query or in `X-Webhook-Token`, and the handshake carries the verify token. So the generated
payloads get past the signature check and reach the parsing and the handling behind it.
Every answer must not be a server error, must have a status code and content type the
document declares, and must match its schema; a handshake answered 200 must echo its
challenge; and nothing may log an error (the webhooks log what fails in one message and go on,
so an exception there shows only in the log).

A third of the generated cases and examples are also sent first the way an impostor or a
misconfigured provider would: unsigned, signed wrong, signed over other bytes, or to a server
where that provider is not set up. Those must be refused (401 or 403; 404 when not set up)
and leave every row of every table as it was. After the run each server still answers /healthz.

Generation is bounded and derandomized, so a run takes the same cases every time. Each
failure is recorded once per operation and kind, with the first request that showed it, and
the run goes on, so one report lists everything.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from antrean.bootstrap import Container, build, ensure_facility
from antrean.http import create_app
from antrean.testing import FrozenClock
from tests.integration.conftest import LOCAL_CLIENT, make_settings, stored_rows
from tests.integration.webhooks_openapi import DOCUMENT, FORM, JSON

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 20  # per operation and per generation mode (valid input, input that breaks the schema)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
OPERATIONS = 5  # the handshake, and the events of the Cloud API, WAHA, the gateway and SMS
MIN_SIGNED = 30  # signed requests per operation: fewer means generation did not really run
MIN_REFUSED = 8  # requests per operation sent unsigned, signed wrong or where it is off
MAX_ITEMS = 3  # items of any array in a generated body
REFUSE_EVERY = 3  # one case in three is also sent the wrong way first
# What each field of the document's examples is swapped for, one field and one value at a time.
HOSTILE: tuple[Any, ...] = (
    "\u00b2",  # a digit to str.isdigit(), and yet not a number to int()
    "\x00",
    "",
    "9" * 300,
    None,
    -1,
    2**64,
    {},
)
BASE_URL = "http://testserver"
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are recorded, not raised
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

APP_SECRET = "meta-app-secret-for-the-fuzz"
VERIFY_TOKEN = "verify-token-for-the-fuzz"
WAHA_KEY = "waha-hmac-key-for-the-fuzz"
HOOK_TOKEN = "gateway-webhook-token-for-the-fuzz"
NOWHERE = "http://127.0.0.1:9"  # nothing is delivered in this test: no worker runs
# Every server has every secret; which provider it listens to is its WhatsApp and SMS setting.
SETUPS: dict[str, dict[str, object]] = {
    "cloud": {"whatsapp": "cloud", "sms": "off"},
    "waha": {"whatsapp": "waha", "sms": "off"},
    "gateways": {"whatsapp": "gateway", "sms": "gateway"},
}
# The server that listens to each operation's provider, and one where it is not set up.
SERVED_BY = {
    "GET /webhooks/whatsapp": ("cloud", "waha"),
    "POST /webhooks/whatsapp": ("cloud", "gateways"),
    "POST /webhooks/waha": ("waha", "cloud"),
    "POST /webhooks/gateway": ("gateways", "waha"),
    "POST /webhooks/sms": ("gateways", "cloud"),
}
# How a third of the cases are also sent first, in turn.
UNSIGNED = "unsigned"
WRONG = "signed with another secret"
OTHER_BYTES = "signed over other bytes"
NOT_SET_UP = "sent where the provider is not set up"
REFUSALS = (UNSIGNED, WRONG, OTHER_BYTES, NOT_SET_UP)
# The handshake carries a verify token rather than a signature.
HANDSHAKE_REFUSALS = {
    UNSIGNED: "without hub.verify_token",
    WRONG: "with another verify token",
    OTHER_BYTES: "with the verify token, hub.mode not subscribe",
}


def server_settings(setup: str) -> dict[str, object]:
    return {
        "public_url": "https://klinik.example",
        "quiet_hours": "off",
        "whatsapp_api_url": NOWHERE,
        "whatsapp_token": "access-token",
        "whatsapp_phone_number_id": "106540352242922",
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "waha_url": NOWHERE,
        "waha_webhook_key": WAHA_KEY,
        "wa_gateway_url": NOWHERE + "/send",
        "sms_gateway_url": NOWHERE + "/messages",
        "gateway_webhook_token": HOOK_TOKEN,
        **SETUPS[setup],
    }


# --- Signing as the providers do -----------------------------------------------------------


def sign_cloud(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def sign_waha(raw: bytes, key: str = WAHA_KEY) -> str:
    return hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()


def form_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def raw_body(sent: Mapping[str, Any], media_type: str | None, ascii_only: bool) -> bytes | None:
    """The bytes the provider would post for the generated body (None: no body)."""
    if "json" in sent:
        return json.dumps(sent["json"], ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    data = sent.get("data")
    if data is None:
        return None
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    if media_type == FORM and isinstance(data, Mapping):
        pairs = [
            (str(k), form_value(item))
            for k, v in data.items()
            for item in (v if isinstance(v, list) else [v])
        ]
        return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode("ascii")
    return form_value(data).encode("utf-8", "surrogatepass")


@dataclass
class Outgoing:
    """One request as the test client takes it; `signed` turns it into the provider's own."""

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]
    content: bytes | None
    origin: str = ""  # for a swapped example: which field, and what for

    def copy(self) -> Outgoing:
        return Outgoing(
            self.method, self.path, dict(self.headers), dict(self.params), self.content, self.origin
        )

    def drop_header(self, name: str) -> None:
        for key in [k for k in self.headers if k.lower() == name.lower()]:
            del self.headers[key]

    def set_header(self, name: str, value: str) -> None:
        self.drop_header(name)
        self.headers[name] = value

    def send(self, client: TestClient) -> Any:
        return client.request(
            self.method,
            self.path,
            headers=self.headers,
            params=self.params or None,
            content=self.content,
        )

    def describe(self) -> str:
        credentials = {
            k: v
            for k, v in self.headers.items()
            if k.lower() in {"x-hub-signature-256", "x-webhook-hmac", "x-webhook-token"}
            or k.lower() == "content-type"
        }
        body = "" if self.content is None else f" body={self.content!r:.300}"
        origin = f" ({self.origin})" if self.origin else ""
        return (
            f"{self.method} {self.path}{origin} params={self.params!r:.200} "
            f"headers={credentials}{body}"
        )


def outgoing(case: Any, origin: str = "") -> Outgoing:
    sent = case.as_transport_kwargs(base_url=BASE_URL)
    path = sent["url"].removeprefix(BASE_URL)
    ascii_only = path == "/webhooks/whatsapp"  # Meta posts JSON with non-ASCII escaped
    return Outgoing(
        method=sent["method"],
        path=path,
        headers={str(k): str(v) for k, v in (sent.get("headers") or {}).items()},
        params=dict(sent.get("params") or {}),
        content=raw_body(sent, case.media_type, ascii_only),
        origin=origin,
    )


def signed(request: Outgoing, n: int) -> Outgoing:
    """As the provider sends it: signed over the exact bytes, or carrying the token."""
    out = request.copy()
    raw = out.content or b""
    if out.method == "GET":
        out.params["hub.verify_token"] = VERIFY_TOKEN
    elif out.path == "/webhooks/whatsapp":
        out.set_header("X-Hub-Signature-256", sign_cloud(raw))
    elif out.path == "/webhooks/waha":
        out.set_header("X-Webhook-Hmac", sign_waha(raw))
        out.set_header("X-Webhook-Hmac-Algorithm", "sha512")
    else:  # a gateway: the token in the callback URL, or in a header, never both
        out.params.pop("token", None)
        out.drop_header("X-Webhook-Token")
        if n % 2:
            out.set_header("X-Webhook-Token", HOOK_TOKEN)
        else:
            out.params["token"] = HOOK_TOKEN
    return out


def refused(request: Outgoing, how: str) -> Outgoing:
    """As an impostor would send it: without the credential, with a wrong one, or with one
    made for other bytes. (NOT_SET_UP is the signed request, sent to another server.)"""
    out = signed(request, 0)
    raw = out.content or b""
    if out.method == "GET":
        if how == UNSIGNED:
            out.params.pop("hub.verify_token", None)
        elif how == WRONG:
            out.params["hub.verify_token"] = VERIFY_TOKEN[:-1]
        elif how == OTHER_BYTES:
            out.params["hub.mode"] = "unsubscribe"
    elif out.path == "/webhooks/whatsapp":
        if how == UNSIGNED:
            out.drop_header("X-Hub-Signature-256")
        elif how == WRONG:
            out.set_header("X-Hub-Signature-256", sign_cloud(raw, "another-app-secret"))
        elif how == OTHER_BYTES:
            out.set_header("X-Hub-Signature-256", sign_cloud(raw + b" "))
    elif out.path == "/webhooks/waha":
        if how == UNSIGNED:
            out.drop_header("X-Webhook-Hmac")
        elif how == WRONG:
            out.set_header("X-Webhook-Hmac", sign_waha(raw, "another-key"))
        elif how == OTHER_BYTES:
            out.set_header("X-Webhook-Hmac", sign_waha(raw + b" "))
    else:
        if how == UNSIGNED:
            out.params.pop("token", None)
        elif how == WRONG:
            out.params["token"] = "not-" + HOOK_TOKEN
        elif how == OTHER_BYTES:  # a token that is only the start of ours
            out.params["token"] = HOOK_TOKEN[:-1]
    return out


# --- Running it ----------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    container: Container
    client: TestClient


class ErrorLog(logging.Handler):
    """The errors the product logs: the webhooks log what they could not handle and go on."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        taken, self.records = self.records, []
        return taken


def logged(record: logging.LogRecord) -> tuple[str, str]:
    """The logged error and its exception's first line; and where in the product it was raised."""
    said = f"{record.name}: {record.getMessage()}"
    exc = record.exc_info[1] if record.exc_info else None
    if exc is None:
        return said, ""
    first = " ".join((str(exc).splitlines() or [""])[0].split())[:200]
    ours = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if "antrean" in Path(frame.filename).parts and "site-packages" not in frame.filename
    ]
    where = ""
    if ours:
        parts = Path(ours[-1].filename).parts
        module = "/".join(parts[parts.index("antrean") :])
        where = f"raised in {module}:{ours[-1].lineno} ({ours[-1].name})"
    return f"{said}: {type(exc).__name__}: {first}", where


def table_rows(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as stored: two equal dumps mean nothing was written."""
    return stored_rows(engine)


@dataclass
class Tally:
    operations: set[str] = field(default_factory=set)
    signed: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    handled: Counter[str] = field(default_factory=Counter)  # 200s that carried something used
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    # (operation, kind of failure) -> the first request that showed it
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(self.signed.values()) + sum(self.refused.values())

    def fail(self, label: str, kind: str, request: Outgoing, response: Any, note: str = "") -> None:
        self.failures.setdefault(
            (label, kind),
            f"{request.describe()} -> {response.status_code} {response.text!r:.200}"
            + (f"\n      {note}" if note else ""),
        )

    def report(self) -> str:
        lines = [
            f"{op}: {kind}\n      {example}"
            for (op, kind), example in sorted(self.failures.items())
        ]
        return f"{len(self.failures)} failure(s) in {self.requests} requests:\n" + "\n".join(lines)


@dataclass
class Fuzz:
    servers: dict[str, Server]
    engine: Engine
    errors: ErrorLog
    tally: Tally = field(default_factory=Tally)

    def check(self, label: str, case: Any, request: Outgoing, response: Any) -> None:
        self.tally.statuses[(label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=request.headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                detail = " ".join(str(failure.message).split())[:240]
                self.tally.fail(label, failure.title, request, response, detail)
        for record in self.errors.take():
            error, where = logged(record)
            self.tally.fail(label, f"logged an error: {error}", request, response, where)

    def one(self, label: str, case: Any, n: int, origin: str = "") -> None:
        home, elsewhere = SERVED_BY[label]
        request = outgoing(case, origin)
        refuse = not origin  # the swapped examples are only sent signed
        if refuse and n % REFUSE_EVERY == 0:
            how = REFUSALS[(n // REFUSE_EVERY) % len(REFUSALS)]
            self.refuse(label, case, request, how, elsewhere if how == NOT_SET_UP else home)
        good = signed(request, n)
        response = good.send(self.servers[home].client)
        self.tally.signed[label] += 1
        self.check(label, case, good, response)
        if response.status_code != 200:
            return
        if good.method == "GET":
            challenge = good.params.get("hub.challenge")
            if isinstance(challenge, str) and response.text != challenge:
                self.tally.fail(label, "the handshake did not echo the challenge", good, response)
            self.tally.handled[label] += 1
        else:
            answer = response.json()
            if answer.get("messages") or answer.get("statuses"):
                self.tally.handled[label] += 1

    def refuse(self, label: str, case: Any, request: Outgoing, how: str, where: str) -> None:
        bad = refused(request, how)
        before = table_rows(self.engine)
        response = bad.send(self.servers[where].client)
        after = table_rows(self.engine)
        self.tally.refused[label] += 1
        self.check(label, case, bad, response)
        expected = {404} if how == NOT_SET_UP else {401, 403}
        if bad.method == "GET":
            how = HANDSHAKE_REFUSALS.get(how, how)
        if response.status_code not in expected:
            self.tally.fail(label, f"{how}: not refused", bad, response)
        changed = sorted(name for name in before if before[name] != after[name])
        if changed:
            self.tally.fail(label, f"{how}: rows changed in {changed}", bad, response)

    def run(self, operation: Any) -> None:
        label = operation.label
        counter = iter(range(1_000_000))

        # The document's examples: the payloads as the providers publish them.
        for strategy in operation.get_strategies_from_examples():
            explicit(strategy, lambda case: self.one(label, case, next(counter)))

        for mode in MODES:

            @BOUNDED
            @given(case=operation.as_strategy(generation_mode=mode))
            def generated(case: Any) -> None:
                self.one(label, case, next(counter))

            generated()

        # The examples again, with one field at a time swapped for a hostile value.
        for n, (case, origin) in enumerate(hostile_cases(operation)):
            self.one(label, case, n, origin)


def documented(operation: Any) -> list[tuple[str, Any]]:
    """The operation's examples in the document: its query for the handshake, its JSON
    bodies for the events."""
    definition = DOCUMENT["paths"][operation.path][operation.method.lower()]
    if "requestBody" not in definition:
        query = {p["name"]: p.get("example", "subscribe") for p in definition["parameters"]}
        return [("query", query)]
    examples = definition["requestBody"]["content"][JSON].get("examples", {})
    return [("body", example["value"]) for example in examples.values()]


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def swapped(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: swapped(v, rest, new) if k == head else v for k, v in value.items()}
    return [swapped(v, rest, new) if i == head else v for i, v in enumerate(value)]


def hostile_cases(operation: Any) -> Iterator[tuple[Any, str]]:
    """Each field of the operation's examples (each path once) swapped for each hostile value,
    with what was swapped."""
    seen: set[tuple[Any, ...]] = set()
    for where, example in documented(operation):
        for path in leaves(example):
            if path in seen:
                continue
            seen.add(path)
            field_ = ".".join(map(str, path))
            for value in HOSTILE:
                origin = f"{where} field {field_} swapped for {value!r:.20}"
                if where == "query":
                    yield operation.Case(query=swapped(example, path, value)), origin
                else:
                    body = swapped(example, path, value)
                    yield operation.Case(body=body, media_type=JSON), origin


def bounded(schema: Any) -> Any:
    """The document with every array held to a few items: the providers batch, without a
    published limit, and arrays of arrays of generated objects make generation slow."""
    if isinstance(schema, list):
        return [bounded(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: bounded(value) for key, value in schema.items()}
    if out.get("type") == "array":
        out["maxItems"] = min(out.get("maxItems", MAX_ITEMS), MAX_ITEMS)
    return out


def explicit(strategy: Any, each: Callable[[Any], None]) -> None:
    """Each case an example strategy gives, once (they are fixed values)."""

    @settings(BOUNDED, max_examples=1)
    @given(case=strategy)
    def one(case: Any) -> None:
        each(case)

    one()


@pytest.fixture
def servers(db_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[dict[str, Server]]:
    made: dict[str, Server] = {}
    with contextlib.ExitStack() as stack:
        for name in SETUPS:
            # One data directory: the servers share the database, and so its data keys.
            c = build(
                make_settings(db_url, tmp_path / "data", **server_settings(name)), clock=clock
            )
            stack.callback(c.close)
            ensure_facility(c)
            client = stack.enter_context(
                TestClient(create_app(c), raise_server_exceptions=False, client=LOCAL_CLIENT)
            )
            made[name] = Server(name, c, client)
        yield made


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logger = logging.getLogger("antrean")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_every_webhook_answer_conforms_to_the_providers_document(db_url, servers, error_log):
    engine = create_engine(db_url)
    fuzz = Fuzz(servers, engine, error_log)
    try:
        error_log.take()  # whatever starting the servers logged is not a webhook's doing
        schema = schemathesis.openapi.from_dict(bounded(DOCUMENT))
        for result in schema.get_all_operations():
            operation = result.ok()  # raises if the document has an operation it cannot read
            fuzz.tally.operations.add(operation.label)
            fuzz.run(operation)
        rows = table_rows(engine)
    finally:
        engine.dispose()
    tally = fuzz.tally
    # Everything that went wrong in one report: a server error may also explain a thin run.
    problems = [
        f"{name}: /healthz answered {health.status_code}"
        for name, server in servers.items()
        if (health := server.client.get("/healthz")).status_code != 200
    ]
    if tally.operations != set(SERVED_BY) or len(tally.operations) != OPERATIONS:
        problems.append(f"operations in the document: {sorted(tally.operations)}")
    for op in sorted(tally.operations):
        if tally.signed[op] < MIN_SIGNED:
            problems.append(f"{op}: {tally.signed[op]} signed requests, not {MIN_SIGNED}")
        if tally.refused[op] < MIN_REFUSED:
            problems.append(f"{op}: {tally.refused[op]} refused requests, not {MIN_REFUSED}")
        # Signed payloads got past the signature check and were read: each webhook used some.
        if not tally.handled[op]:
            answers = {code: k for (o, code), k in tally.statuses.items() if o == op}
            problems.append(f"{op}: no request was handled (answers: {answers})")
    if not rows["inbound_message"]:
        problems.append("no patient's message was recorded from any webhook")
    if problems or tally.failures:
        pytest.fail("\n".join([*problems, tally.report()]), pytrace=False)

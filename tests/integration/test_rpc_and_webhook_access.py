"""XML-RPC and the webhooks, times every kind of caller, on SQLite and PostgreSQL.

Neither has roles: XML-RPC answers by the caller's network (`rpc_networks`), a webhook by the
provider's signature or shared token. So the rule of each is written down here, one line per
method (`RPC_METHODS`) and per route (`WEBHOOKS`), and checked both ways against what the app
offers: a method or webhook added without a line fails, and so does a line for one that is gone.

XML-RPC. Every method acts as a kiosk of the facility; one of them writes (a walk-in number).
Callers: clients on loopback and on private networks (IPv4, IPv6, IPv4-mapped IPv6), on public
addresses (the same forms), a client with no address at all, and callers carrying an admin's or
a patient's bearer token or session cookie, or a forwarding header claiming loopback, which
change nothing (the rule is the network the server saw). Under the default networks, only
"any" and only 10.0.0.0/8:

- a caller outside the networks gets 403 for every method and changes nothing;
- a caller inside gets an answer (a method that reads changes nothing, the one that writes
  issues a number) and, for wrong parameters, a fault with a client code and no change;
- never an HTTP 5xx, never a server fault.

Webhooks. Per route, callers: signed right for the route's provider; unsigned; a wrong
signature; signed with another provider's secret; the right secret used the wrong way (a
signature of another body, the token in the body, the handshake token for another mode); an
admin's bearer token or session cookie with no signature; signed right while the channel is
off; the channel on but its secret not set. Only the first is accepted; every other gets the
status the route declares (401, the handshake 403, 404 for a channel or secret not set up), a
problem document, and changes nothing.

A refused call changes nothing in the database: every table, byte for byte, but the sign-in
throttle's counters.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
import xmlrpc.client
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, create_engine

from antrean.adapters import webhooks
from antrean.adapters import xmlrpc as rpc_adapter
from antrean.adapters.web.session import SESSION_COOKIE
from antrean.bootstrap import build, ensure_facility
from antrean.http import create_app
from antrean.testing import FrozenClock
from antrean.testing.seed import open_all_week_clinic
from tests.integration.conftest import (
    FROZEN_AT,
    LOCAL_CLIENT,
    Api,
    database_of_its_own,
    make_settings,
    stored_rows,
)
from tests.integration.routes import routes_where, undeclared
from tests.integration.web_client import WebUser
from tests.providers.gateway import fonnte_incoming
from tests.providers.waha import sign_waha, waha_body, waha_headers, waha_message_event
from tests.providers.whatsapp_cloud import cloud_body, cloud_text_message, sign_cloud

# --- XML-RPC: the methods ----------------------------------------------------------------------

READS = "reads"  # answers from what is there; changes nothing
WRITES = "issues a walk-in number"  # as the kiosk does: a patient record and a ticket


@dataclass(frozen=True)
class RpcRule:
    """What a method does as the kiosk, and the parameters a legacy client sends it
    (`$ticket`: the code of a ticket issued before)."""

    effect: str
    params: tuple[Any, ...]


RPC_METHODS: dict[str, RpcRule] = {
    "get_menu": RpcRule(READS, ()),
    "list_clinics": RpcRule(READS, ()),
    "register_patient": RpcRule(WRITES, ("UMUM", {"name": "Tamu Kiosk", "dob": "17-08-1980"})),
    "ticket_status": RpcRule(READS, ("$ticket",)),
    "get_queue_status": RpcRule(READS, ("$ticket",)),
    "system.listMethods": RpcRule(READS, ()),
    "system.methodHelp": RpcRule(READS, ("register_patient",)),
    "system.methodSignature": RpcRule(READS, ("register_patient",)),
}


def rpc_class_methods() -> set[str]:
    """The public methods of the class XML-RPC calls into, read from the class itself."""
    return {
        name
        for name, _ in inspect.getmembers(rpc_adapter.QueueRpc, inspect.isfunction)
        if not name.startswith("_")
    }


def undeclared_methods(offered: set[str]) -> tuple[list[str], list[str]]:
    """Methods offered without a rule in the table, and rules for methods not offered."""
    return sorted(offered - RPC_METHODS.keys()), sorted(RPC_METHODS.keys() - offered)


# Names a client may try that are not methods: the class's own attributes, and the standard
# library's other `system.` methods, no name at all. Each is a client fault (404, or 400 for no
# name) that changes nothing.
NOT_METHODS = (
    "_clinics",
    "_clinic_for",
    "__init__",
    "__class__",
    "c",
    "actor",
    "system.multicall",
    "system.shutdown",
    "get_menu.__self__",
    "",
)

# --- XML-RPC: the callers ----------------------------------------------------------------------

ADDRESSES = {
    "loopback": "127.0.0.1",
    "loopback-ipv6": "::1",
    "loopback-ipv4-mapped": "::ffff:127.0.0.1",
    "private-10": "10.20.30.40",
    "private-10-ipv4-mapped": "::ffff:10.20.30.40",
    "private-192.168": "192.168.1.20",
    "private-ipv6": "fd12:3456::20",
    "public": "203.0.113.7",
    "public-ipv4-mapped": "::ffff:203.0.113.7",
    "public-ipv6": "2001:db8::7",
    "no-address": "testclient",  # what a client that is not an IP address shows
}
ADMIN_BEARER, PATIENT_BEARER = "admin-bearer", "patient-bearer"
ADMIN_SESSION, PATIENT_SESSION = "admin-session", "patient-session"
FORWARDED_AS_LOOPBACK = "forwarded-as-loopback"  # X-Forwarded-For, X-Real-IP, Forwarded
CREDENTIALS = {
    "loopback": (ADMIN_BEARER, PATIENT_BEARER, ADMIN_SESSION, PATIENT_SESSION),
    "public": (
        ADMIN_BEARER,
        PATIENT_BEARER,
        ADMIN_SESSION,
        PATIENT_SESSION,
        FORWARDED_AS_LOOPBACK,
    ),
}


@dataclass(frozen=True)
class RpcCaller:
    address: str  # a name in ADDRESSES
    credential: str | None = None

    @property
    def name(self) -> str:
        return self.address + (f"+{self.credential}" if self.credential else "")


PLAIN_CALLERS = tuple(RpcCaller(a) for a in ADDRESSES)
RPC_CALLERS = PLAIN_CALLERS + tuple(
    RpcCaller(address, credential)
    for address, credentials in CREDENTIALS.items()
    for credential in credentials
)

# The settings tried, and the addresses each lets in (written out, not computed: the table is
# what the rule should be). Credentials never change it.
PRIVATE = frozenset(
    {
        "loopback",
        "loopback-ipv6",
        "loopback-ipv4-mapped",
        "private-10",
        "private-10-ipv4-mapped",
        "private-192.168",
        "private-ipv6",
    }
)


@dataclass(frozen=True)
class Networks:
    setting: str | None  # rpc_networks; None: as shipped
    allowed: frozenset[str]
    callers: tuple[RpcCaller, ...]


NETWORKS: dict[str, Networks] = {
    "default": Networks(None, PRIVATE, RPC_CALLERS),
    "any": Networks("any", frozenset(ADDRESSES), PLAIN_CALLERS),
    "only-10-net": Networks(
        "10.0.0.0/8", frozenset({"private-10", "private-10-ipv4-mapped"}), PLAIN_CALLERS
    ),
}

REFUSED = "403 not served to this network"
ANSWERED = "answered"

# --- webhooks: the routes ----------------------------------------------------------------------

APP_SECRET = "meta-app-secret-for-tests"
VERIFY = "verify-me-please"
WAHA_KEY = "waha-webhook-hmac-key"
HOOK_TOKEN = "gateway-webhook-token-123"
SECRETS = {
    "whatsapp_app_secret": APP_SECRET,
    "whatsapp_verify_token": VERIFY,
    "waha_webhook_key": WAHA_KEY,
    "gateway_webhook_token": HOOK_TOKEN,
}
CHANNELS_OFF = {"whatsapp": "off", "sms": "off"}

# What proves the caller is the provider.
VERIFY_TOKEN = "hub.verify_token of the Cloud API handshake"
CLOUD_SIGNATURE = "X-Hub-Signature-256: HMAC-SHA256 of the body with the app secret"
WAHA_SIGNATURE = "X-Webhook-Hmac: HMAC-SHA512 of the body with the WAHA key"
SHARED_TOKEN = "the gateways' shared token, ?token= or X-Webhook-Token"


@dataclass(frozen=True)
class Hook:
    """A webhook's rule: the settings that switch its channel on, what proves the caller is
    the provider, and the status a caller without that proof gets (a channel off, or on with
    its secret not set, answers 404)."""

    channel: tuple[tuple[str, str], ...]
    proof: str
    refused: int


WEBHOOKS: dict[tuple[str, str], Hook] = {
    ("GET", "/webhooks/whatsapp"): Hook((("whatsapp", "cloud"),), VERIFY_TOKEN, 403),
    ("POST", "/webhooks/whatsapp"): Hook((("whatsapp", "cloud"),), CLOUD_SIGNATURE, 401),
    ("POST", "/webhooks/waha"): Hook((("whatsapp", "waha"),), WAHA_SIGNATURE, 401),
    ("POST", "/webhooks/gateway"): Hook((("whatsapp", "gateway"),), SHARED_TOKEN, 401),
    ("POST", "/webhooks/sms"): Hook((("sms", "gateway"),), SHARED_TOKEN, 401),
}


def webhook_routes(routes: Any) -> set[tuple[str, str]]:
    """Routes under /webhooks, and any route whose endpoint the webhook adapter defines."""

    def hook(path: str, route: Any) -> bool:
        module = getattr(getattr(route, "endpoint", None), "__module__", "") or ""
        return path.startswith("/webhooks") or module == webhooks.__name__

    return routes_where(routes, hook)


def undeclared_hooks(found: set[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return undeclared(found, WEBHOOKS)


ADAPTER_HOOKS = webhook_routes(webhooks.router.routes)

# --- webhooks: the callers ---------------------------------------------------------------------

SIGNED = "signed"
UNSIGNED = "unsigned"
WRONG = "wrong-signature"
OTHER_PROVIDER = "other-providers-secret"
MISUSED = "right-secret-misused"
HOOK_ADMIN_BEARER = "admin-bearer-unsigned"
HOOK_ADMIN_SESSION = "admin-session-unsigned"
CHANNEL_OFF = "signed-channel-off"
SECRET_UNSET = "secret-not-set"
HOOK_CALLERS = (
    UNSIGNED,
    WRONG,
    OTHER_PROVIDER,
    MISUSED,
    HOOK_ADMIN_BEARER,
    HOOK_ADMIN_SESSION,
    CHANNEL_OFF,
    SECRET_UNSET,
    SIGNED,  # last: the one that changes things
)


def hook_expected(hook: Hook, who: str) -> int:
    if who == SIGNED:
        return 200
    if who in (CHANNEL_OFF, SECRET_UNSET):
        return 404
    return hook.refused


# --- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    url: str
    data_dir: Path
    engine: Engine
    stack: ExitStack
    api: Api  # XML-RPC as shipped, no channel: the app the accounts are made with
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    apps: dict[Any, Any] = field(default_factory=dict)
    clients: dict[Any, TestClient] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    last: dict[str, list[Any]] | None = None  # the tables as the last refused cell left them

    def snapshot(self) -> dict[str, list[str]]:
        return stored_rows(self.engine, leave_out=frozenset({"sign_in_throttle"}))

    def app(self, key: Any, **overrides: object) -> Any:
        """The app (with its own container, on the same database) for these settings, made
        once and served for the rest of the module."""
        if key not in self.apps:
            self.apps[key] = self.stack.enter_context(
                _served(self.url, self.data_dir, **overrides)
            ).client.app
        return self.apps[key]

    def client(self, app: Any, host: str, root_path: str = "") -> TestClient:
        key = (id(app), host, root_path)
        if key not in self.clients:
            self.clients[key] = TestClient(
                app, raise_server_exceptions=False, client=(host, 50000), root_path=root_path
            )
        return self.clients[key]


@contextmanager
def _served(url: str, data_dir: Path, **overrides: object) -> Iterator[Api]:
    c = build(make_settings(url, data_dir, **overrides), clock=FrozenClock(FROZEN_AT))
    ensure_facility(c)
    try:
        with TestClient(create_app(c), raise_server_exceptions=False, client=LOCAL_CLIENT) as tc:
            yield Api(tc, c)
    finally:
        c.close()


def _session_cookie(api: Api, username: str, password: str) -> str:
    user = WebUser(TestClient(api.client.app, client=LOCAL_CLIENT))
    user.sign_in(username, password)
    cookie = user.client.cookies.get(SESSION_COOKIE)
    assert cookie, username
    return f"{SESSION_COOKIE}={cookie}"


def _build(world: World) -> None:
    api = world.api
    open_all_week_clinic(
        api.container, doctors=1, start=time(8), end=time(12), slot_minutes=30, capacity=2
    )
    world.headers = {
        ADMIN_BEARER: api.staff("boss", "admin"),
        PATIENT_BEARER: api.patient("siti", "081211112222"),
        ADMIN_SESSION: {"Cookie": _session_cookie(api, "boss", "staff-password-1")},
        PATIENT_SESSION: {"Cookie": _session_cookie(api, "siti", "patient-password-1")},
        FORWARDED_AS_LOOPBACK: {
            "X-Forwarded-For": "127.0.0.1",
            "X-Real-IP": "127.0.0.1",
            "Forwarded": "for=127.0.0.1;proto=https",
        },
    }
    r = _rpc(api.client, "register_patient", ("UMUM", {"name": "Budi", "dob": "1980-08-17"}))
    assert rpc_outcome(r) == ANSWERED, r.text[:300]
    (ticket,), _ = xmlrpc.client.loads(r.content)
    assert re.fullmatch(r"A-\d{3}-[A-Za-z0-9_-]+", ticket), ticket
    world.values["ticket"] = ticket


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One database per kind, shared by every cell: each refused cell checks that it changed
    nothing; the allowed cells that write only add walk-ins and messages no cell needs absent."""
    directory = tmp_path_factory.mktemp("rpc-and-webhooks")
    with ExitStack() as stack:
        url = stack.enter_context(database_of_its_own(request, request.param, directory))
        engine = create_engine(url)
        stack.callback(engine.dispose)
        data_dir = directory / "data"
        api = stack.enter_context(_served(url, data_dir))
        world = World(url, data_dir, engine, stack, api)
        world.apps[("rpc", "default")] = api.client.app
        _build(world)
        yield world


def _changed(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    return sorted(name for name in after if after[name] != before[name])


# --- XML-RPC: one call -------------------------------------------------------------------------


def _rpc(
    client: TestClient,
    method: str,
    params: tuple[Any, ...],
    headers: dict[str, str] | None = None,
    path: str = "/RPC2",
) -> Response:
    body = xmlrpc.client.dumps(params, method, allow_none=True).encode()
    client.cookies.clear()  # the caller is who the headers say, nothing kept from before
    return client.post(path, content=body, headers={"Content-Type": "text/xml", **(headers or {})})


def rpc_outcome(r: Response) -> str:
    """The answer, in the words of the table: refused, answered, or the fault's code."""
    if r.status_code == 403:
        problem = r.json() if "json" in r.headers.get("content-type", "") else {}
        return REFUSED if problem.get("code") == "forbidden" else f"HTTP 403 {r.text[:80]}"
    if r.status_code != 200:
        return f"HTTP {r.status_code}"
    try:
        xmlrpc.client.loads(r.content)
    except xmlrpc.client.Fault as fault:
        return f"fault {fault.faultCode}"
    except Exception:
        return "HTTP 200, not XML-RPC"
    return ANSWERED


def _params(rule: RpcRule, values: dict[str, str]) -> tuple[Any, ...]:
    return tuple(
        values[p[1:]] if isinstance(p, str) and p.startswith("$") else p for p in rule.params
    )


def _rpc_app(world: World, networks: str) -> Any:
    setting = NETWORKS[networks].setting
    if setting is None:
        return world.apps[("rpc", "default")]
    return world.app(("rpc", networks), rpc_networks=setting)


def _rpc_cells() -> list[Any]:
    cells = []
    methods = sorted(RPC_METHODS.keys() | rpc_class_methods() | set(rpc_adapter.SYSTEM_METHODS))
    for networks, rule in NETWORKS.items():
        for method in methods:
            # The callers it refuses first: they meet the tables as an allowed call left them.
            for caller in sorted(rule.callers, key=lambda c: c.address in rule.allowed):
                cells.append(
                    pytest.param(networks, method, caller, id=f"{networks}:{method}:{caller.name}")
                )
    return cells


# --- XML-RPC: the tests ------------------------------------------------------------------------


@pytest.mark.parametrize(("networks", "method", "caller"), _rpc_cells())
def test_each_rpc_method_answers_each_caller_by_its_network(
    world: World, networks: str, method: str, caller: RpcCaller
) -> None:
    assert method in RPC_METHODS, f"XML-RPC method {method} has no rule: add it to RPC_METHODS"
    rule = RPC_METHODS[method]
    allowed = caller.address in NETWORKS[networks].allowed
    client = world.client(_rpc_app(world, networks), ADDRESSES[caller.address])
    headers = world.headers.get(caller.credential or "", {})
    params = _params(rule, world.values)
    where = f"{caller.name} ({ADDRESSES[caller.address]}) calling {method} under {networks}"

    before = world.last if world.last is not None and not allowed else world.snapshot()
    r = _rpc(client, method, params, headers)
    after = world.snapshot()
    got, changed = rpc_outcome(r), _changed(before, after)
    assert r.status_code < 500, f"{where}: HTTP {r.status_code}\n{r.text[:500]}"
    assert got != "fault 500", f"{where}: a server fault\n{r.text[:500]}"
    if not allowed:
        world.last = after
        assert got == REFUSED, f"{where}: {got}, but the network rule refuses it (403)"
        assert not changed, f"{where}: refused, yet these tables changed: {changed}"
        return

    world.last = None
    assert got == ANSWERED, f"{where}: {got}, but the network rule lets it in\n{r.text[:300]}"
    if rule.effect == WRITES:
        (code,), _ = xmlrpc.client.loads(r.content)
        assert re.fullmatch(r"A-\d{3}-[A-Za-z0-9_-]+", code), f"{where}: {code!r}"
        assert "ticket" in changed and "patient" in changed, f"{where}: changed {changed}"
    else:
        assert not changed, f"{where}: a method that reads changed {changed}"
    # Wrong parameters: a fault with a client code, and nothing changed.
    before = after
    r = _rpc(client, method, (*params, "unexpected"), headers)
    got = rpc_outcome(r)
    assert got == "fault 400", f"{where} with one parameter too many: {got}\n{r.text[:300]}"
    assert not _changed(before, world.snapshot()), f"{where}: wrong parameters changed tables"


def test_the_rpc_table_names_exactly_the_methods_offered(world: World) -> None:
    """Read over the wire (system.listMethods) and from the class: a method added either way
    without a line in the table is caught, and so is a line for a method that is gone."""
    r = _rpc(world.api.client, "system.listMethods", ())
    assert rpc_outcome(r) == ANSWERED, r.text[:300]
    (listed,), _ = xmlrpc.client.loads(r.content)
    assert len(listed) == len(set(listed)), listed
    missing, gone = undeclared_methods(set(listed))
    assert not missing, f"XML-RPC methods without a rule (add them to RPC_METHODS): {missing}"
    assert not gone, f"rules for methods XML-RPC does not offer (remove them): {gone}"
    by_class = rpc_class_methods()
    assert by_class, "the class XML-RPC calls into has no public method"
    missing, _ = undeclared_methods(by_class)
    assert not missing, f"public methods of the XML-RPC class without a rule: {missing}"
    assert by_class == {m for m in listed if not m.startswith("system.")}, (by_class, listed)


def test_a_new_rpc_method_without_a_rule_is_caught() -> None:
    missing, gone = undeclared_methods(set(RPC_METHODS) | {"export_patients"})
    assert missing == ["export_patients"] and not gone
    missing, gone = undeclared_methods(set(RPC_METHODS) - {"register_patient"})
    assert not missing and gone == ["register_patient"]


def test_names_that_are_not_methods_are_a_fault_and_change_nothing(world: World) -> None:
    before = world.snapshot()
    for name in NOT_METHODS:
        r = _rpc(world.api.client, name, ())
        assert rpc_outcome(r) in ("fault 404", "fault 400"), (name, r.text[:300])
    assert not _changed(before, world.snapshot())
    world.last = None


def test_rpc_served_under_a_root_path_still_refuses_outside_networks(world: World) -> None:
    """Served under a root path (`root_path`, as `uvicorn --root-path` or a proxy mounting the
    app at /klinik sets it), the path a request carries starts with the root path; the route
    still answers at /RPC2 below it, so the network rule must hold there too."""
    client = world.client(world.apps[("rpc", "default")], ADDRESSES["public"], root_path="/klinik")
    let_through = []
    for method, rule in sorted(RPC_METHODS.items()):
        before = world.snapshot()
        r = _rpc(client, method, _params(rule, world.values), path="/klinik/RPC2")
        changed = _changed(before, world.snapshot())
        assert r.status_code < 500, (method, r.text[:300])
        if rpc_outcome(r) != REFUSED or changed:
            let_through.append(f"{method}: {rpc_outcome(r)}, tables changed: {changed}")
    world.last = None
    assert not let_through, (
        "Served under root path /klinik, /RPC2 answers a caller on a public address "
        f"({ADDRESSES['public']}) that rpc_networks refuses: the edge checks the network only "
        "when the request's full path starts with /RPC2, while the router matches the path "
        "below the root path. Let through: " + "; ".join(let_through)
    )


# --- webhooks: one call ------------------------------------------------------------------------


@dataclass
class HookRequest:
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    challenge: str = ""


def _body(path: str, n: int) -> bytes:
    """A patient's first message, as the route's provider posts it: new sender, new id, so
    that a caller let in would leave a trace."""
    phone = f"+6281255{n:06d}"
    if path == "/webhooks/whatsapp":
        return cloud_body(cloud_text_message(phone, "halo", message_id=f"wamid.cell-{n}"))
    if path == "/webhooks/waha":
        chat = f"{phone.lstrip('+')}@c.us"
        return waha_body(waha_message_event(phone, "halo", message_id=f"false_{chat}_CELL{n}"))
    if path == "/webhooks/gateway":
        return json.dumps(fonnte_incoming(phone, "halo", inboxid=f"cell-{n}")).encode()
    return json.dumps({"sender": phone, "message": "halo", "id": f"sms-cell-{n}"}).encode()


def _handshake(who: str, n: int, headers: dict[str, str]) -> HookRequest:
    challenge = f"challenge-{n}"
    tokens = {
        SIGNED: VERIFY,
        CHANNEL_OFF: VERIFY,
        WRONG: "guess-the-token",
        OTHER_PROVIDER: WAHA_KEY,
        MISUSED: VERIFY,
        SECRET_UNSET: "",
    }
    params = {"hub.mode": "unsubscribe" if who == MISUSED else "subscribe"}
    params["hub.challenge"] = challenge
    if who in tokens:
        params["hub.verify_token"] = tokens[who]
    if who == OTHER_PROVIDER:
        params["token"] = HOOK_TOKEN
    return HookRequest(params=params, headers=headers, challenge=challenge)


def _hook_request(world: World, method: str, path: str, who: str) -> HookRequest:
    hook = WEBHOOKS[method, path]
    n = next(world.serial)
    headers: dict[str, str] = {}
    if who == HOOK_ADMIN_BEARER:
        headers = dict(world.headers[ADMIN_BEARER])
    elif who == HOOK_ADMIN_SESSION:
        headers = dict(world.headers[ADMIN_SESSION])
    if hook.proof == VERIFY_TOKEN:
        return _handshake(who, n, headers)

    raw, other_raw = _body(path, n), _body(path, next(world.serial))
    params: dict[str, str] = {}
    headers["Content-Type"] = "application/json"
    if hook.proof == CLOUD_SIGNATURE:
        signature = {
            SIGNED: sign_cloud(APP_SECRET, raw),
            CHANNEL_OFF: sign_cloud(APP_SECRET, raw),
            WRONG: "sha256=" + "0" * 64,
            OTHER_PROVIDER: sign_cloud(WAHA_KEY, raw),
            MISUSED: sign_cloud(APP_SECRET, other_raw),
            SECRET_UNSET: sign_cloud("", raw),
        }.get(who)
        if who == OTHER_PROVIDER:  # and WAHA's own headers, signed right for WAHA
            headers |= waha_headers(WAHA_KEY, raw)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
    elif hook.proof == WAHA_SIGNATURE:
        signature = {
            SIGNED: sign_waha(WAHA_KEY, raw),
            CHANNEL_OFF: sign_waha(WAHA_KEY, raw),
            WRONG: "0" * 128,
            OTHER_PROVIDER: sign_waha(APP_SECRET, raw),
            MISUSED: sign_waha(WAHA_KEY, other_raw),
            SECRET_UNSET: sign_waha("", raw),
        }.get(who)
        if who == OTHER_PROVIDER:  # and the Cloud API's header, signed right for the Cloud API
            headers["X-Hub-Signature-256"] = sign_cloud(APP_SECRET, raw)
        if signature is not None:
            headers |= waha_headers(WAHA_KEY, raw) | {"X-Webhook-Hmac": signature}
    else:
        assert hook.proof == SHARED_TOKEN, hook
        token = {
            SIGNED: HOOK_TOKEN,
            CHANNEL_OFF: HOOK_TOKEN,
            WRONG: "wrong-token",
            OTHER_PROVIDER: WAHA_KEY,
            SECRET_UNSET: "",
        }.get(who)
        if who == OTHER_PROVIDER:
            headers["X-Hub-Signature-256"] = sign_cloud(APP_SECRET, raw)
            headers["X-Webhook-Token"] = APP_SECRET
        if who == MISUSED:  # the right token, in the body instead of the address or a header
            raw = json.dumps({**json.loads(raw), "token": HOOK_TOKEN}).encode()
        if token is not None:
            params["token"] = token
        if who == SECRET_UNSET:
            headers["X-Webhook-Token"] = ""
    return HookRequest(params=params, headers=headers, content=raw)


def _hook_app(world: World, method: str, path: str, who: str) -> Any:
    hook = WEBHOOKS[method, path]
    if who == CHANNEL_OFF:
        return world.app(("hooks", "off"), **CHANNELS_OFF, **SECRETS)
    if who == SECRET_UNSET:
        unset = dict.fromkeys(SECRETS, "")
        return world.app(("hooks", hook.channel, "unset"), **dict(hook.channel), **unset)
    return world.app(("hooks", hook.channel), **dict(hook.channel), **SECRETS)


def _hook_cells() -> list[Any]:
    cells = []
    for method, path in sorted(ADAPTER_HOOKS | WEBHOOKS.keys(), key=lambda k: (k[1], k[0])):
        if (method, path) not in WEBHOOKS or (method, path) not in ADAPTER_HOOKS:
            cells.append(pytest.param(method, path, None, id=f"{method}:{path}"))
            continue
        for who in HOOK_CALLERS:
            cells.append(pytest.param(method, path, who, id=f"{method}:{path}:{who}"))
    return cells


# --- webhooks: the tests -----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "who"), _hook_cells())
def test_each_webhook_accepts_only_its_providers_proof(
    world: World, method: str, path: str, who: str | None
) -> None:
    declared, exists = (method, path) in WEBHOOKS, (method, path) in ADAPTER_HOOKS
    assert declared, f"webhook {method} {path} has no rule: add a line for it to WEBHOOKS"
    assert exists, f"{method} {path} is in WEBHOOKS but there is no such webhook: remove it"
    assert who is not None
    hook = WEBHOOKS[method, path]
    want = hook_expected(hook, who)
    app = _hook_app(world, method, path, who)
    client = world.client(app, LOCAL_CLIENT[0])
    request = _hook_request(world, method, path, who)
    before = world.last if world.last is not None and who != SIGNED else world.snapshot()
    client.cookies.clear()
    r = client.request(
        method, path, params=request.params, headers=request.headers, content=request.content
    )
    after = world.snapshot()
    changed = _changed(before, after)
    where = f"{who}: {method} {path} answered {r.status_code}"
    assert r.status_code < 500, f"{where}\n{r.text[:500]}"
    if who != SIGNED:
        world.last = after
        assert r.status_code == want, f"{where}; the rule ({hook.proof}) refuses it with {want}"
        assert r.headers["content-type"] == "application/problem+json", f"{where}: {r.text[:200]}"
        if request.challenge:
            assert request.challenge not in r.text, f"{where}: the challenge was echoed"
        assert not changed, f"{where}, refused, yet these tables changed: {changed}"
        return
    world.last = None
    assert r.status_code == want, f"{where}, but it is signed right ({hook.proof})\n{r.text[:300]}"
    if method == "GET":
        assert r.text == request.challenge, f"{where}: {r.text[:200]}"
        assert not changed, f"{where}: the handshake changed {changed}"
        return
    answer = r.json()
    assert answer["ok"] is True and answer["messages"] == 1, f"{where}: {answer}"
    assert changed, f"{where}: accepted, yet the message left no trace"


def test_the_webhook_table_names_exactly_the_apps_webhooks(world: World) -> None:
    """Read from the running app: a webhook added anywhere (not only in the adapter's router)
    without a line in the table is caught, and so is a line for a webhook that is gone."""
    found = webhook_routes(world.api.client.app.routes)
    assert len(found) == len(WEBHOOKS)
    missing, gone = undeclared_hooks(found)
    assert not missing, f"webhooks without a rule (add them to WEBHOOKS): {missing}"
    assert not gone, f"rules for webhooks the app does not have (remove them): {gone}"


def test_a_new_webhook_without_a_rule_is_caught(world: World) -> None:
    app = create_app(world.api.container)

    @app.post("/webhooks/forgotten")
    async def forgotten() -> dict[str, str]:  # no signature checked at all
        return {"ok": "anyone"}

    missing, gone = undeclared_hooks(webhook_routes(app.routes))
    assert missing == ["POST /webhooks/forgotten"] and not gone

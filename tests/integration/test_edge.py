"""The edge every request meets first: security headers, body limits enforced before a body is
read, XML-RPC only for the configured networks, CORS for the allowed origins, and TLS."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pydantic import ValidationError

from antrean.bootstrap import build, ensure_facility
from antrean.config import Settings
from antrean.edge import DATA_CSP, Edge
from antrean.http import create_app
from antrean.testing.live_server import running_server
from tests.integration.conftest import LOCAL_CLIENT, SECRET, Api, make_settings

RPC_CALL = (
    b"<?xml version='1.0'?><methodCall><methodName>system.listMethods</methodName>"
    b"<params></params></methodCall>"
)


@pytest.fixture
def app_with(db_url: str, tmp_path: Path) -> Iterator:
    """An app built with some settings changed, and a client from a given address."""
    made = []

    def make(client: tuple[str, int] = LOCAL_CLIENT, base_url: str = "http://testserver", **s):
        container = build(make_settings(db_url, tmp_path / "data", **s))
        ensure_facility(container)
        made.append(container)
        return TestClient(
            create_app(container), raise_server_exceptions=False, client=client, base_url=base_url
        )

    yield make
    for container in made:
        container.close()


# --- Headers -------------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(api: Api):
    for path in ("/healthz", "/api/v1/clinics", "/api/v1/nothing-here", "/openapi.json"):
        r = api.client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["content-security-policy"] == DATA_CSP  # data: nothing may load
        assert "strict-transport-security" not in r.headers  # not over plain HTTP
    page = api.client.get("/login")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]  # the pages' own, kept
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_api_docs_run_only_their_own_inline_scripts(api: Api):
    for path in ("/docs", "/docs/oauth2-redirect"):
        r = api.client.get(path)
        assert r.status_code == 200
        policy = r.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]+)", policy).group(1)
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
        inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
        assert inline, path
        for script in inline:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in script_src  # each inline script, by its hash


def test_hsts_is_sent_only_over_tls(app_with):
    with app_with(base_url="https://testserver") as client:
        r = client.get("/healthz")
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
    with app_with() as client:
        assert "strict-transport-security" not in client.get("/healthz").headers


# --- Body limits ---------------------------------------------------------------------------


def _raw(base: str, head: bytes) -> bytes:
    """Send a request's head (no body) and read the answer the server gives anyway."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_body_declared_too_large_is_refused_before_it_is_read(db_url, tmp_path):
    with running_server(db_url, tmp_path / "data", workers=1, secret=SECRET) as base:
        for path, size in (
            ("/api/v1/patients", 50_000_000),
            ("/RPC2", 10_000_000),
            ("/webhooks/gateway", 2_000_000),
            ("/login", 5_000_000),
        ):
            head = (
                f"POST {path} HTTP/1.1\r\nHost: clinic\r\nContent-Type: application/json\r\n"
                f"Accept-Language: en\r\nContent-Length: {size}\r\n\r\n"
            ).encode()
            answer = _raw(base, head)  # answered although not one byte of the body was sent
            assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])
            assert b"application/problem+json" in answer and b'"code":"too_large"' in answer
            assert b"The request is too large." in answer
        assert httpx.get(f"{base}/healthz").status_code == 200  # and it keeps serving


def test_a_body_sent_in_chunks_is_cut_off_at_the_limit(app_with, api: Api):
    admin = api.staff("boss", "admin")
    with app_with(max_body_bytes=64 * 1024) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "boss", "password": "staff-password-1"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def chunks(total: int) -> Iterator[bytes]:  # no Content-Length: sent chunked
            yield b'{"name": "'
            for _ in range(total // 1024):
                yield b"x" * 1024
            yield b'", "birth_date": "1990-01-01"}'

        big = client.post("/api/v1/patients", content=chunks(200 * 1024), headers=headers)
        assert big.status_code == 413 and big.json()["code"] == "too_large"
        small = client.post("/api/v1/patients", content=chunks(1024), headers=headers)
        assert small.status_code != 413  # under the limit: the route judges it (a name too long)
    assert api.client.get("/api/v1/patients?q=xxxx", headers=admin).json()["items"] == []


def test_a_content_length_that_is_not_a_number_is_refused():
    asyncio.run(_bad_lengths())


async def _bad_lengths() -> None:
    reached = []

    async def app(scope, receive, send):  # pragma: no cover - must not be reached
        reached.append(scope)

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    edge = Edge(app, limits=[], default_limit=1024, rpc_networks=None)
    for value in (b"abc", b"-5", b"1e9", b"9" * 30):
        sent.clear()
        scope = {
            "type": "http",
            "path": "/api/v1/patients",
            "headers": [(b"content-length", value)],
        }
        await edge(scope, receive, send)
        assert sent[0]["status"] == 400, value
    assert reached == []


# --- XML-RPC networks ----------------------------------------------------------------------


def test_xmlrpc_answers_only_the_configured_networks(app_with, api: Api):
    def call(client: TestClient) -> httpx.Response:
        return client.post("/RPC2", content=RPC_CALL, headers={"content-type": "text/xml"})

    assert call(api.client).status_code == 200  # this machine
    for address in ("10.1.2.3", "192.168.1.20", "::ffff:172.16.5.4", "fd00::1"):
        with app_with(client=(address, 4000)) as client:
            assert call(client).status_code == 200, address  # the clinic's network
    for address in ("203.0.113.9", "2001:db8::1", "testclient", ""):
        with app_with(client=(address, 4000)) as client:
            r = call(client)
            assert r.status_code == 403, address
            assert r.headers["content-type"] == "application/problem+json"
            assert client.get("/healthz").status_code == 200  # only /RPC2 is closed to it
    with app_with(client=("203.0.113.9", 4000), rpc_networks="any") as client:
        assert call(client).status_code == 200
    with app_with(rpc_networks="10.20.0.0/16, 10.30.0.7") as client:
        assert call(client).status_code == 403  # 127.0.0.1 is not in the list
    with app_with(client=("10.30.0.7", 1), rpc_networks="10.20.0.0/16, 10.30.0.7") as client:
        assert call(client).status_code == 200


# --- CORS ----------------------------------------------------------------------------------


def test_only_the_allowed_origins_may_call_the_api_from_a_browser(app_with, api: Api):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    with app_with(cors_origins=["https://portal.example"]) as client:
        ok = client.options(
            "/api/v1/bookings", headers={"Origin": "https://portal.example", **preflight}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://portal.example"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        evil = client.options(
            "/api/v1/bookings", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in evil.headers
        got = client.get("/api/v1/clinics", headers={"Origin": "https://portal.example"})
        assert got.headers["access-control-allow-origin"] == "https://portal.example"
    # None allowed by default: a browser on another site cannot read the answers.
    r = api.client.get("/api/v1/clinics", headers={"Origin": "https://portal.example"})
    assert "access-control-allow-origin" not in r.headers


def test_edge_settings_that_cannot_work_are_refused_at_start(tmp_path: Path):
    cert = tmp_path / "cert.pem"
    cert.write_text("-")
    for bad in (
        {"rpc_networks": "10.0.0.0/8, clinic-lan"},
        {"cors_origins": ["portal.example"]},
        {"cors_origins": ["https://portal.example/path"]},
        {"tls_cert_file": cert},  # without its key
        {"tls_cert_file": cert, "tls_key_file": tmp_path / "missing.pem"},
    ):
        with pytest.raises(ValidationError):
            Settings(secret_key=SECRET, **bad)


# --- TLS -----------------------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_the_server_speaks_tls_when_given_a_certificate(db_url, tmp_path):
    cert, key = _self_signed(tmp_path)
    env = {"ANTREAN_TLS_CERT_FILE": str(cert), "ANTREAN_TLS_KEY_FILE": str(key)}
    with running_server(db_url, tmp_path / "data", workers=2, secret=SECRET, extra_env=env) as base:
        assert base.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(cert))
        r = httpx.get(f"{base}/api/v1/clinics", verify=trusted)
        assert r.status_code == 200
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
        with pytest.raises(httpx.ConnectError):  # an unknown certificate is not trusted
            httpx.get(f"{base}/healthz")
        plain = base.replace("https://", "http://")
        with pytest.raises(httpx.HTTPError):  # and plain HTTP gets no answer
            httpx.get(f"{plain}/healthz", timeout=5)

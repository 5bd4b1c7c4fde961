"""The edge of the HTTP application: what every request meets before any route does.

- A body larger than its route may take is refused with 413 before it is read: at once when
  `Content-Length` says so, and as soon as the count passes the limit when the body comes in
  chunks. A `Content-Length` that is not a number is refused with 400.
- `/RPC2` (XML-RPC: no browser uses it, and it carries staff actions) answers only clients in
  the configured networks; others get 403 and nothing is read.
- Security headers on every answer: `nosniff`, a referrer policy, framing refused, a
  Content-Security-Policy for answers that set none (nothing may load: an API answer is data),
  and HSTS on connections that came over TLS.

A pure ASGI middleware: it never buffers a body and costs a few dictionary look-ups a request.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antrean.domain.audit import RequestInfo
from antrean.domain.errors import preferred_language
from antrean.domain.fields import is_digits
from antrean.services.access import request_info

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Loopback and the private ranges: the clinic's own network. `ANTREAN_RPC_NETWORKS` changes it.
PRIVATE_NETWORKS = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
HSTS = "max-age=31536000; includeSubDomains"
# For answers that are data (JSON, problem details, files): nothing in them may run or load.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_MESSAGES = {
    400: ("bad_request", "Permintaan tidak valid.", "The request is not valid."),
    403: ("forbidden", "Alamat ini tidak melayani jaringan Anda.", "Not served to your network."),
    413: ("too_large", "Permintaan terlalu besar.", "The request is too large."),
}


def parse_networks(text: str) -> tuple[Network, ...] | None:
    """`ANTREAN_RPC_NETWORKS`: comma-separated networks (`10.0.0.0/8`) or addresses; `any`
    for every client (None). Raises ValueError naming what is not a network."""
    if text.strip().lower() == "any":
        return None
    found: list[Network] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"not a network: {part!r}") from None
    return tuple(found)


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The largest body a path prefix takes, in bytes (the longest matching prefix wins)."""

    prefix: str
    max_bytes: int


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Iterable[BodyLimit],
        default_limit: int,
        rpc_networks: tuple[Network, ...] | None,
    ) -> None:
        self.app = app
        self.limits = sorted(limits, key=lambda limit: -len(limit.prefix))
        self.default_limit = default_limit
        self.rpc_networks = rpc_networks

    def limit_for(self, path: str) -> int:
        for limit in self.limits:
            if path.startswith(limit.prefix):
                return limit.max_bytes
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"
        info = _request_info(scope)
        request_info.set(info)  # for the audit log: this task and the threads it calls into
        send = _with_headers(send, tls, info.request_id)
        path = _route_path(scope)
        if path.startswith("/RPC2") and not self._rpc_allowed(scope):
            await _refuse(scope, send, 403)
            return
        limit = self.limit_for(path)
        declared = _content_length(scope)
        if declared == -1:
            await _refuse(scope, send, 400)
            return
        if declared is not None and declared > limit:
            await _refuse(scope, send, 413)
            return
        await self._counted(scope, receive, send, limit)

    def _rpc_allowed(self, scope: Scope) -> bool:
        if self.rpc_networks is None:
            return True
        client = scope.get("client")
        try:
            address = ipaddress.ip_address(client[0]) if client else None
        except ValueError:
            return False
        if address is None:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.rpc_networks)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """The body counted as it arrives: past the limit, the route is told the client left
        and the client gets 413 (if no answer has begun)."""
        seen = 0
        started = False
        over = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if over:
                    return  # the route answered a body it never saw whole: 413 goes instead
                started = True
            elif over and not started:
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _refuse(scope, send, 413)


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when there is none; -1 when it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not is_digits(text) or len(text) > 18:
                return -1
            return int(text)
    return None


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _request_info(scope: Scope) -> RequestInfo:
    """The client's address and the request's id: the caller's `X-Request-ID` when it is a
    plain token (a proxy's or a client's, to follow one request across systems), else a new
    one. Both go into the audit log; the id also goes back in the answer."""
    client = scope.get("client")
    request_id = ""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            request_id = given if _REQUEST_ID.fullmatch(given) else ""
            break
    return RequestInfo(
        client_address=str(client[0])[:64] if client else "",
        request_id=request_id or uuid.uuid4().hex,
    )


def _with_headers(send: Send, tls: bool, request_id: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers.append((b"x-request-id", request_id.encode()))
            for name, value in _ALWAYS:
                if name not in present:
                    headers.append((name, value))
            if b"content-security-policy" not in present:
                headers.append((b"content-security-policy", DATA_CSP.encode()))
            if tls and b"strict-transport-security" not in present:
                headers.append((b"strict-transport-security", HSTS.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending


def _language(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"accept-language":
            return preferred_language(value.decode("latin-1"))
    return "id"


async def _refuse(scope: Scope, send: Send, status: int) -> None:
    """An RFC 9457 problem, in the client's language; the connection closes after it (the
    body that was refused may still be on its way)."""
    code, indonesian, english = _MESSAGES[status]
    detail = english if _language(scope) == "en" else indonesian
    media: bytes = b"application/problem+json"
    problem: dict[str, object] = {
        "type": f"/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": scope["path"],
    }
    if _route_path(scope).startswith("/fhir/"):  # FHIR clients read OperationOutcomes
        media = b"application/fhir+json; charset=utf-8"
        issue = {"forbidden": "forbidden", "too_large": "too-long"}.get(code, "invalid")
        problem = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": issue, "details": {"text": detail}}],
        }
    body = json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _route_path(scope: Scope) -> str:
    """The path the router matches: below the root path when the app is served under one
    (`--root-path /klinik` gives `/klinik/RPC2` in `path`, and the router matches `/RPC2`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path

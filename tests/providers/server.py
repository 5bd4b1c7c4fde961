"""A small threaded HTTP server that fake providers build on: it records every request, answers
in the mode a test sets (ok, fail, reject, rate_limit, hang) and lets a test wait for requests
instead of sleeping.

HTTP/1.1 with keep-alive, one thread per connection, Nagle off and each answer written in one
piece: a client that keeps its connections open gets well over a thousand answers a second.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit

Mode = Literal["ok", "fail", "reject", "rate_limit", "hang"]
MODES: tuple[Mode, ...] = ("ok", "fail", "reject", "rate_limit", "hang")
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes
    json: Any = None  # the parsed body, when it was JSON
    form: dict[str, str] | None = None  # the parsed body, when it was a form

    @property
    def fields(self) -> dict[str, Any]:
        """The body's fields, whether it came as JSON or as a form."""
        if isinstance(self.json, dict):
            return self.json
        return self.form or {}


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Set when the provider took the message: its id for the message.
    accepted_id: str | None = None
    accepted: bool = False

    def encode(self) -> bytes:
        body = self.body
        content_type = self.headers.get("Content-Type")
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
            content_type = content_type or "application/json"
        elif isinstance(body, str):
            body = body.encode()
            content_type = content_type or "text/html; charset=utf-8"
        phrase = _PHRASES.get(self.status, "Unknown")
        lines = [f"HTTP/1.1 {self.status} {phrase}", f"Content-Length: {len(body)}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines += [f"{k}: {v}" for k, v in self.headers.items() if k != "Content-Type"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message the fake provider took: to whom, what, and the id it answered with."""

    recipient: str
    text: str
    provider_id: str | None


class FakeProvider:
    """Base of the fake HTTP providers. A subclass answers a request for a mode (`answer`) and
    says whom a request is for and what it says (`recipient`, `message_text`).

    Use as a context manager (`with FakeCloudApi() as fake: ... fake.url ...`) or call
    `start()` and `stop()`. Switch behaviour at run time with `fake.mode = "fail"`.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._mode: Mode = "ok"
        self._gate = threading.Event()
        self._stopping = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.accepted: list[Accepted] = []
        self._received_for: Counter[str] = Counter()
        self._accepted_for: Counter[str] = Counter()

    # --- What a subclass answers -----------------------------------------------------------

    def answer(self, request: Request, mode: Mode) -> Reply:
        raise NotImplementedError

    def recipient(self, request: Request) -> str | None:
        return None

    def message_text(self, request: Request) -> str:
        return ""

    # --- Running ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake provider is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.provider = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving: hung requests are let go (their connections are dropped), open
        keep-alive connections closed."""
        server = self._server
        if server is None:
            return
        with self._cond:
            self._stopping = True
            self._gate.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- Modes -----------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ValueError(f"mode is one of {MODES}")
        with self._cond:
            if mode == "hang" and self._mode != "hang":
                self._gate = threading.Event()
            self._mode = mode

    def release(self) -> None:
        """Lets every hung request go on: each is then answered as taken ("ok"), as a provider
        that was slow, not down, would. The mode stays as it is."""
        with self._cond:
            self._gate.set()
            if self._mode == "hang":
                self._gate = threading.Event()

    def reset(self) -> None:
        """Forgets every request and goes back to "ok"."""
        self.release()
        with self._cond:
            self._mode = "ok"
            self.requests.clear()
            self.accepted.clear()
            self._received_for.clear()
            self._accepted_for.clear()

    # --- Waiting and counting --------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Request]:
        """Blocks until at least `count` requests have arrived (hung ones included); fails
        the test after `timeout` seconds."""
        return self._wait(lambda: len(self.requests) >= count, timeout, f"{count} requests")

    def wait_accepted(self, count: int, timeout: float = 5.0) -> list[Accepted]:
        """Blocks until at least `count` messages have been taken."""
        self._wait(lambda: len(self.accepted) >= count, timeout, f"{count} accepted messages")
        with self._cond:
            return list(self.accepted)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Blocks until `predicate()` (checked each time a request is recorded or answered)."""
        self._wait(predicate, timeout, "the condition")

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> list[Request]:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError(
                    f"waited {timeout}s for {what}; got {len(self.requests)} requests, "
                    f"{len(self.accepted)} accepted"
                )
            return list(self.requests)

    def received_for(self, recipient: str) -> int:
        """Requests addressed to an E.164 number (`+62...`), whatever the answer."""
        with self._cond:
            return self._received_for[recipient]

    def accepted_for(self, recipient: str) -> int:
        """Messages taken for an E.164 number (`+62...`)."""
        with self._cond:
            return self._accepted_for[recipient]

    def accepted_texts(self, recipient: str) -> list[str]:
        with self._cond:
            return [a.text for a in self.accepted if a.recipient == recipient]

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(recipient, text) pairs taken more than once: empty when every message went out
        exactly once."""
        with self._cond:
            counts = Counter((a.recipient, a.text) for a in self.accepted)
        return {key: n for key, n in counts.items() if n > 1}

    # --- Plumbing --------------------------------------------------------------------------

    def serve_request(self, request: Request) -> Reply | None:
        """Records a request and answers it (called by the server for each request)."""
        recipient = self.recipient(request)
        with self._cond:
            self.requests.append(request)
            if recipient:
                self._received_for[recipient] += 1
            self._cond.notify_all()
            mode = self._mode
            gate = self._gate
        if mode == "hang":
            gate.wait()
            if self._stopping:
                return None
            mode = "ok"
        reply = self.answer(request, mode)
        if reply.accepted:
            with self._cond:
                taken = Accepted(recipient or "", self.message_text(request), reply.accepted_id)
                self.accepted.append(taken)
                if recipient:
                    self._accepted_for[recipient] += 1
                self._cond.notify_all()
        return reply


def e164(raw: str) -> str:
    """A provider's way of writing a number (`628...`, `08...`, `628...@c.us`) as `+62...`."""
    digits = "".join(ch for ch in raw.split("@", 1)[0] if ch.isdigit())
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return "+" + digits if digits else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    provider: FakeProvider

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (getfqdn), which can take seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        parsed_json: Any = None
        form: dict[str, str] | None = None
        if content_type == "application/json" and body:
            try:
                parsed_json = json.loads(body)
            except ValueError:
                parsed_json = None
        elif content_type == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        request = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            json=parsed_json,
            form=form,
        )
        reply = self.server.provider.serve_request(request)
        if reply is None:  # the server is stopping: drop the connection unanswered
            self.close_connection = True
            return
        self.wfile.write(reply.encode())
        if headers.get("connection", "").lower() == "close":
            self.close_connection = True

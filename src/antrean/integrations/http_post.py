"""One HTTP client for the channels that send by HTTP POST (the WhatsApp Cloud API, WAHA, the
rented gateways, SMS gateways).

The worker's threads share it: it keeps connections alive per host, never retries by itself
(the outbox decides when to try again) and gives every answer back as an `HttpAnswer`, so the
channels read status, headers and body the same way whichever provider answered.

It is built on urllib3 rather than httpx, which the rest of the product uses for its own
clients: one worker posting to a local gateway managed about twice as many requests per second
through urllib3's pool as through httpx's with the same threads (see "Messages" in
docs/benchmarks.md), and the post is most of what a worker spends its time on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import certifi
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from antrean.domain.notifications import SendFailure
from antrean.integrations.retry_after import retry_after

# Connections kept open per provider host: at least the worker's threads times its lanes.
POOL_SIZE = 32
# Answers are read whole; a provider that sends more than this is not answering a send.
MAX_ANSWER_BYTES = 1 << 20
USER_AGENT = "antrean"


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A provider's answer: status, headers (any case) and the body as it came."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> object:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def retry_after(self) -> float | None:
        return retry_after(self.headers.get("Retry-After"))


class HttpPoster:
    """POSTs JSON or a form and hands back the answer; a timeout or a connection that fails
    becomes a `SendFailure` the outbox will try again."""

    def __init__(self, *, timeout: float = 10.0, pool_size: int = POOL_SIZE) -> None:
        self.timeout = timeout
        self._pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=pool_size,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            ca_certs=certifi.where(),
            headers={"User-Agent": USER_AGENT},
        )

    def post_json(self, url: str, payload: Any, *, headers: Mapping[str, str]) -> HttpAnswer:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return self._post(url, body, "application/json", headers)

    def post_form(
        self, url: str, fields: Mapping[str, str], *, headers: Mapping[str, str]
    ) -> HttpAnswer:
        body = urlencode(fields).encode()
        return self._post(url, body, "application/x-www-form-urlencoded", headers)

    def _post(
        self, url: str, body: bytes, content_type: str, headers: Mapping[str, str]
    ) -> HttpAnswer:
        sent = {**headers, "Content-Type": content_type, "Accept": "application/json"}
        try:
            response = self._pool.request(
                "POST", url, body=body, headers=sent, preload_content=False, redirect=False
            )
            try:
                answer = response.read(MAX_ANSWER_BYTES + 1)
            except BaseException:
                response.close()
                raise
            if len(answer) > MAX_ANSWER_BYTES:  # the rest is not read: the connection goes
                response.close()
                answer = answer[:MAX_ANSWER_BYTES]
            else:
                response.release_conn()
        except NewConnectionError as exc:  # urllib3 files a refused connection as a timeout
            raise SendFailure("connection", str(exc) or type(exc).__name__) from exc
        except TimeoutError as exc:
            raise SendFailure("timeout", str(exc) or type(exc).__name__) from exc
        except HTTPError as exc:
            raise SendFailure("connection", str(exc) or type(exc).__name__) from exc
        return HttpAnswer(
            status=response.status,
            reason=response.reason or "",
            headers=response.headers,
            body=answer,
        )

    def close(self) -> None:
        self._pool.clear()

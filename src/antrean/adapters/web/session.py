"""Browser sessions: a signed cookie holding the session's key and a CSRF secret.

The key is a refresh token of the same kind the API hands out (`services.identity`): the
session lives in the database, so signing out, an admin disabling the account or resetting
its sessions ends it on the next request. The cookie is HttpOnly (no page script can read it),
SameSite=Lax, and Secure when the page was served over TLS. The services never see it: the
adapter turns it into the same `Actor` a REST caller gets.

Every form that changes something carries the CSRF secret in a hidden field (HTMX requests
send it in the `X-CSRF-Token` header); a request without the right one is refused before any
use case runs.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "antrean_session"
LANG_COOKIE = "antrean_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_COOKIE_LENGTH = 600
YEAR = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class WebSession:
    csrf: str
    key: str | None = None  # the refresh token of a signed-in session
    changed: bool = False  # the cookie must be written with the response

    def signed_in(self, key: str) -> WebSession:
        # A new CSRF secret on every sign-in: one learnt before it is worth nothing after.
        return WebSession(csrf=secrets.token_urlsafe(24), key=key, changed=True)

    def signed_out(self) -> WebSession:
        return WebSession(csrf=secrets.token_urlsafe(24), key=None, changed=True)

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, secret: str, max_age: int) -> None:
        self._serializer = URLSafeSerializer(secret, salt="antrean.web.session")
        self._max_age = max_age  # as long as a session's key lives

    def read(self, request: Request) -> WebSession:
        raw = request.cookies.get(SESSION_COOKIE)
        if raw and len(raw) <= MAX_COOKIE_LENGTH:
            try:
                data = self._serializer.loads(raw)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("c"), str):
                key = data.get("k")
                return WebSession(csrf=data["c"], key=key if isinstance(key, str) else None)
        return WebSession(csrf=secrets.token_urlsafe(24), changed=True)

    def write(self, request: Request, response: Response, session: WebSession) -> None:
        if not session.changed:
            return
        value = self._serializer.dumps({"c": session.csrf, "k": session.key})
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=self._max_age,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )


def remember_language(request: Request, response: Response, lang: str) -> None:
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=YEAR,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )

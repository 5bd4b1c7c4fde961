"""A fake OpenID Connect provider for the staff single sign-on, written from the standards (Core
1.0 code flow, Discovery 1.0, RFC 6749, RFC 7636 with S256 only, RFC 7517, RFC 9207). It signs
its own tokens, so it shares no code with the sign-in it tests. `login_hint=<subject>` signs a
known user in at once; without it the provider answers a page with a button per user.

with FakeOpenIdProvider("antrean", "s3cret", [callback]) as idp:   # idp.issuer ends /realms/clinic
    idp.add_user("u-rina", preferred_username="rina", name="Rina Kusuma", groups=["admins"])
    idp.tamper_claims = {"aud": "someone-else"}  # the next ID token only; None drops a claim
    idp.sign_with_stranger = True   # the next ID token: the published kid, an unpublished key
    idp.unsigned = True             # the next ID token: alg "none"
    idp.rotate_key()                # a new signing key; the JWKS keeps the old one too
    idp.mode = "fail"               # 500 everywhere; "rate_limit" 429; "reject": the user declines
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import unquote_plus, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.providers.server import FakeProvider, Mode, Reply, Request

DISCOVERY = "/.well-known/openid-configuration"
AUTH = "/protocol/openid-connect/auth"
TOKEN = "/protocol/openid-connect/token"
CERTS = "/protocol/openid-connect/certs"
USERINFO = "/protocol/openid-connect/userinfo"
LOGOUT = "/protocol/openid-connect/logout"
TOKEN_LIFETIME = 300  # seconds, for access and ID tokens
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256, unpadded
_REQUIRED = ("state", "nonce", "code_challenge")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CLAIMS = ["iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "name"]
_CLAIMS += ["preferred_username", "email", "email_verified", "groups"]


@dataclass(slots=True)
class _Grant:
    """An authorization code: who signed in, and the authorization request it answers."""

    subject: str
    request: dict[str, str]  # client_id, redirect_uri, scope, nonce, code_challenge, ...
    auth_time: int
    expires_at: float  # monotonic
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)


class FakeOpenIdProvider(FakeProvider):
    """One realm with one confidential client. Every endpoint lives under `issuer`."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        realm_path: str = "/realms/clinic",
        post_logout_redirect_uris: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris)
        self.post_logout_redirect_uris = list(post_logout_redirect_uris or [])
        self.realm_path = "/" + realm_path.strip("/")
        self.users: dict[str, dict[str, Any]] = {}
        self.code_lifetime = 60.0  # seconds
        # Test knobs: each holds for the next ID token issued, then goes back to its default.
        self.tamper_claims: dict[str, Any] = {}
        self.sign_with_stranger = False
        self.unsigned = False
        self.revoked: list[str] = []  # codes presented again, whose tokens were then revoked
        self._lock = threading.Lock()
        self._keys: list[tuple[str, rsa.RSAPrivateKey]] = []
        self._stranger: rsa.RSAPrivateKey | None = None
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, tuple[str, float]] = {}  # access token: subject, expiry
        self.rotate_key()

    @property
    def issuer(self) -> str:
        return self.url + self.realm_path

    def add_user(self, subject: str, **claims: Any) -> None:
        """A user who can sign in, with the claims of its ID token (an email counts verified)."""
        if "email" in claims:
            claims.setdefault("email_verified", True)
        self.users[subject] = claims

    def rotate_key(self) -> str:
        """Signs from now on with a new key under a new kid (returned); the JWKS keeps the old."""
        kid, key = secrets.token_hex(8), rsa.generate_private_key(65537, 2048)
        with self._lock:
            self._keys.append((kid, key))
        return kid

    @property
    def jwks(self) -> dict[str, Any]:
        """The public keys, as the certs endpoint publishes them."""
        with self._lock:
            keys = [(kid, key.public_key()) for kid, key in self._keys]
        jwks = [{**RSAAlgorithm.to_jwk(k, as_dict=True), "kid": kid} for kid, k in keys]
        return {"keys": [{**jwk, "use": "sig", "alg": "RS256"} for jwk in jwks]}

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider Metadata (Discovery 1.0 §3)."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + AUTH,
            "token_endpoint": self.issuer + TOKEN,
            "userinfo_endpoint": self.issuer + USERINFO,
            "end_session_endpoint": self.issuer + LOGOUT,
            "jwks_uri": self.issuer + CERTS,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", "email", "groups"],
            "claims_supported": _CLAIMS,
            "authorization_response_iss_parameter_supported": True,
        }

    def reset(self) -> None:
        """Forgets the requests, the revoked codes and the test knobs; users and keys stay."""
        super().reset()
        with self._lock:
            self.tamper_claims, self.sign_with_stranger, self.unsigned = {}, False, False
            self.revoked.clear()

    def answer(self, request: Request, mode: Mode) -> Reply:
        if mode == "fail":
            return Reply(500, {"error": "server_error", "error_description": "provider failed"})
        if mode == "rate_limit":
            return Reply(429, {"error": "temporarily_unavailable"}, headers={"Retry-After": "1"})
        routes: dict[str, Callable[[Request, Mode], Reply]] = {
            DISCOVERY: lambda request, mode: Reply(200, self.discovery()),
            CERTS: lambda request, mode: Reply(200, self.jwks),
            AUTH: self._authorize,  # GET, or POST from the sign-in page
            TOKEN: self._token,
            USERINFO: self._userinfo,
            LOGOUT: self._logout,
        }
        path = request.path.removeprefix(self.realm_path)
        if path == request.path or path not in routes:
            return Reply(404, {"error": "not_found"})
        return routes[path](request, mode)

    def _authorize(self, request: Request, mode: Mode) -> Reply:
        """Authorization endpoint (Core §3.1.2). Until the client and its redirect URI are
        known, errors are a page; after that they go back to the client (RFC 6749 §4.1.2.1)."""
        params = {**request.query, **(request.form or {})}
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or redirect_uri not in self.redirect_uris:
            return _page(
                400, "Sign-in error", "<p>The application or its return address is unknown.</p>"
            )
        state = params.get("state") or None

        def back(**answer: str) -> Reply:
            return _redirect(redirect_uri, {**answer, "state": state, "iss": self.issuer})

        error = _authorization_error(params)
        if error:
            return back(error=error[0], error_description=error[1])
        if mode == "reject" or "cancel" in params:
            return back(error="access_denied", error_description="the user declined")
        subject = params.get("subject") or params.get("login_hint", "")
        if subject not in self.users:
            if params.get("prompt") == "none":
                return back(error="login_required", error_description="nobody is signed in")
            return self._sign_in_page(params)
        code, expires_at = secrets.token_urlsafe(32), time.monotonic() + self.code_lifetime
        with self._lock:
            self._grants[code] = _Grant(subject, params, int(time.time()), expires_at)
        return back(code=code)

    def _sign_in_page(self, params: dict[str, str]) -> Reply:
        """One form per user, each carrying the authorization request along, and Cancel."""
        action = escape(self.realm_path + AUTH)
        carried = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in params.items()
            if k not in ("subject", "cancel")
        )
        form = f'<form method="post" action="{action}">{carried}<input type="hidden" name='
        forms = "".join(
            f'<li>{form}"subject" value="{escape(subject)}"><button type="submit">Sign in as '
            f"{escape(str(claims.get('name') or subject))}</button></form></li>"
            for subject, claims in self.users.items()
        )
        cancel = f'{form}"cancel" value="1"><button type="submit">Cancel</button></form>'
        intro = f"<p>Choose an account to continue to {escape(self.client_id)}.</p>"
        return _page(200, "Sign in", f'{intro}<ul aria-label="Accounts">{forms}</ul>{cancel}')

    def _token(self, request: Request, mode: Mode) -> Reply:
        """Token endpoint (RFC 6749 §4.1.3, Core §3.1.3, RFC 7636 §4.6)."""
        form = request.form or {}
        if not form.get("grant_type"):
            return _token_error("invalid_request", "a form with grant_type is required")
        if form["grant_type"] != "authorization_code":
            return _token_error("unsupported_grant_type", "only authorization_code is supported")
        if refused := self._authenticate_client(request.headers.get("authorization"), form):
            return refused
        if not (code := form.get("code", "")):
            return _token_error("invalid_request", "code is missing")
        with self._lock:
            grant = self._grants.get(code)
            if grant is None or grant.request["client_id"] != self.client_id:
                return _token_error("invalid_grant", "the code is unknown")
            if grant.used:  # a replay: revoke what the code gave (RFC 6749 §4.1.2)
                for token in grant.access_tokens:
                    self._tokens.pop(token, None)
                self.revoked.append(code)
                return _token_error("invalid_grant", "the code was already used")
            if time.monotonic() >= grant.expires_at:
                return _token_error("invalid_grant", "the code expired")
            if form.get("redirect_uri") != grant.request["redirect_uri"]:
                return _token_error("invalid_grant", "redirect_uri differs from the request's")
            verifier = form.get("code_verifier", "")
            if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
                _b64(hashlib.sha256(verifier.encode()).digest()), grant.request["code_challenge"]
            ):
                return _token_error("invalid_grant", "code_verifier does not match")
            grant.used = True
            access_token = secrets.token_urlsafe(32)
            grant.access_tokens.append(access_token)
            self._tokens[access_token] = (grant.subject, time.monotonic() + TOKEN_LIFETIME)
            id_token = self._id_token(grant, access_token)
        answer = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "id_token": id_token,
            "scope": grant.request["scope"],
        }
        return Reply(200, answer, headers=_NO_STORE)

    def _authenticate_client(self, authorization: str | None, form: dict[str, str]) -> Reply | None:
        """client_secret_basic (id and secret form-urlencoded, RFC 6749 §2.3.1) or
        client_secret_post, never both. None when the client is who it says it is."""
        if authorization and authorization[:6].lower() == "basic ":
            if "client_secret" in form:
                return _token_error("invalid_request", "use one way to authenticate the client")
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except ValueError:
                decoded = ""
            client_id, colon, secret = decoded.partition(":")
            client_id, secret = unquote_plus(client_id), unquote_plus(secret)
            if not colon or form.get("client_id", client_id) != client_id:
                client_id = ""
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if _same(client_id, self.client_id) and _same(secret, self.client_secret):
            return None
        challenge = {"WWW-Authenticate": f'Basic realm="{self.realm_path.rsplit("/", 1)[-1]}"'}
        return _token_error("invalid_client", "client authentication failed", 401, **challenge)

    def _id_token(self, grant: _Grant, access_token: str) -> str:
        """The ID token (Core §2, §3.1.3.6), with the knobs applied once and then reset."""
        now = int(time.time())
        claims = {
            **self.users.get(grant.subject, {}),
            "iss": self.issuer,
            "sub": grant.subject,
            "aud": self.client_id,
            "azp": self.client_id,
            "exp": now + TOKEN_LIFETIME,
            "iat": now,
            "auth_time": grant.auth_time,
            "nonce": grant.request["nonce"],
            "at_hash": _b64(hashlib.sha256(access_token.encode()).digest()[:16]),
        }
        claims = {k: v for k, v in (claims | self.tamper_claims).items() if v is not None}
        kid, key = self._keys[-1]
        if self.unsigned:
            token = jwt.encode(claims, None, algorithm="none")
        else:
            if self.sign_with_stranger:  # the published kid, a key nobody published
                self._stranger = self._stranger or rsa.generate_private_key(65537, 2048)
                key = self._stranger
            token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
        self.tamper_claims, self.sign_with_stranger, self.unsigned = {}, False, False
        return token

    def _userinfo(self, request: Request, mode: Mode) -> Reply:
        """UserInfo endpoint (Core §5.3): a bearer access token gets the user's claims."""
        authorization = request.headers.get("authorization", "")
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        with self._lock:
            subject, expires_at = self._tokens.get(token, ("", 0.0))
        if time.monotonic() >= expires_at:
            challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return Reply(401, {"error": "invalid_token"}, headers=challenge)
        return Reply(200, {**self.users.get(subject, {}), "sub": subject}, headers=_NO_STORE)

    def _logout(self, request: Request, mode: Mode) -> Reply:
        """End-session endpoint (RP-Initiated Logout 1.0): back to a registered
        post_logout_redirect_uri with the state, or a page saying the user is signed out."""
        params = {**request.query, **(request.form or {})}
        if not (target := params.get("post_logout_redirect_uri")):
            return _page(200, "Signed out", "<p>You are signed out.</p>")
        if target not in self.post_logout_redirect_uris:
            return _page(400, "Sign-out error", "<p>The return address is not allowed.</p>")
        return _redirect(target, {"state": params.get("state") or None})


def _authorization_error(params: dict[str, str]) -> tuple[str, str] | None:
    """What is wrong with an authorization request from a known client, if anything."""
    response_type, challenge = params.get("response_type"), params.get("code_challenge", "")
    checks = [
        (not response_type, "invalid_request", "response_type is missing"),
        (response_type != "code", "unsupported_response_type", "only the code flow is supported"),
        ("openid" not in params.get("scope", "").split(), "invalid_request", "no openid scope"),
        *((not params.get(n), "invalid_request", f"{n} is required") for n in _REQUIRED),
        (params.get("code_challenge_method") != "S256", "invalid_request", "use S256 for PKCE"),
        (not _CHALLENGE.fullmatch(challenge), "invalid_request", "malformed code_challenge"),
    ]
    return next(((error, text) for failed, error, text in checks if failed), None)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _same(given: str, known: str) -> bool:
    return hmac.compare_digest(given.encode(), known.encode())


def _redirect(uri: str, params: dict[str, str | None]) -> Reply:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    location = uri + ("&" if "?" in uri else "?") + query if query else uri
    return Reply(302, headers={"Location": location, **_NO_STORE})


def _token_error(error: str, text: str, status: int = 400, **headers: str) -> Reply:
    return Reply(status, {"error": error, "error_description": text}, {**_NO_STORE, **headers})


def _page(status: int, title: str, body: str) -> Reply:
    """A whole page (`body` is HTML): language, title, a main landmark and a heading."""
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"
    )
    return Reply(status, page, headers=_NO_STORE)

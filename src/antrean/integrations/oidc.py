"""Staff single sign-on: this server as an OpenID Connect relying party (Authlib).

The organisation's provider (Keycloak, Microsoft Entra ID, Google Workspace, Authentik ...) is
found through its discovery document (OpenID Connect Discovery 1.0); the sign-in is the
authorization code flow with PKCE (S256), a `state` against forged callbacks and a `nonce`
against replayed ID tokens. The ID token is checked in full before anyone is let in: its
signature against the provider's published keys (asymmetric algorithms only, never `none` or a
shared secret), issuer, audience, authorised party, expiry, issue time, nonce and access-token
hash. What comes out is an `ExternalIdentity`; the services decide which account and roles it
gets (`services.single_sign_on`).

Nothing here stores anything: the adapter keeps the `Pending` values of one sign-in in a
short-lived signed cookie of the browser that started it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx
from authlib.common.security import is_secure_transport
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from antrean.domain.identity import ExternalIdentity

log = logging.getLogger(__name__)

# Signatures with the provider's private key only: `none` and HMAC (a secret the client knows
# too) would let anyone holding the client secret mint ID tokens.
SAFE_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
METADATA_SECONDS = 3600.0  # discovery document and keys are fetched again after an hour
CLOCK_LEEWAY = 60  # seconds of clock difference with the provider that are forgiven
MAX_CLAIM_LENGTH = 255


class SignInFailed(Exception):
    """The provider's side of a sign-in did not check out; the message says why, for the log
    (never shown to the person signing in)."""


@dataclass(frozen=True, slots=True)
class Pending:
    """What one sign-in must show again when the provider sends the browser back."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid profile email"
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    timeout: float = 10.0


class OpenIdProvider:
    """One organisation's OpenID provider, as this server signs staff in through it."""

    def __init__(
        self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def metadata(self, *, fresh: bool = False) -> dict[str, Any]:
        """The provider's discovery document, checked: it names this issuer, and every endpoint
        is HTTPS (or loopback, for a provider on the same machine)."""
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > METADATA_SECONDS
            if self._metadata is None or stale or fresh:
                issuer = self.settings.issuer.rstrip("/")
                found = await self._get_json(issuer + "/.well-known/openid-configuration")
                if str(found.get("issuer", "")).rstrip("/") != issuer:
                    named = found.get("issuer")
                    raise SignInFailed(f"the discovery document names issuer {named!r}")
                for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    url = found.get(name)
                    if not isinstance(url, str) or not is_secure_transport(url):
                        raise SignInFailed(f"the discovery document's {name} is not HTTPS")
                self._metadata, self._keys = found, None
                self._fetched_at = time.monotonic()
            return self._metadata

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(
                timeout=self.settings.timeout, transport=self._transport
            ) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed(f"cannot read {url}: {exc.__class__.__name__}") from None
        if not isinstance(found, dict):
            raise SignInFailed(f"{url} is not a JSON object")
        return found

    async def _key_set(self, *, fresh: bool = False) -> KeySet:
        meta = await self.metadata()
        if self._keys is None or fresh:
            self._keys = await self._get_json(meta["jwks_uri"])
        try:
            return KeySet.import_key_set(self._keys)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SignInFailed(f"the provider's keys cannot be read: {exc}") from None

    async def start(self, redirect_uri: str) -> tuple[str, Pending]:
        """Where to send the browser, and what its return must carry."""
        meta = await self.metadata()
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
        )
        url = add_params_to_uri(
            meta["authorization_endpoint"],
            [
                ("response_type", "code"),
                ("client_id", self.settings.client_id),
                ("redirect_uri", redirect_uri),
                ("scope", self.settings.scopes),
                ("state", pending.state),
                ("nonce", pending.nonce),
                ("code_challenge", create_s256_code_challenge(pending.verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        return url, pending

    async def finish(
        self, params: Mapping[str, str], pending: Pending, redirect_uri: str
    ) -> ExternalIdentity:
        """The person the provider's answer (the callback's query) vouches for, once the code
        is traded for tokens and the ID token is checked; `SignInFailed` otherwise."""
        if not hmac.compare_digest(params.get("state", "").encode(), pending.state.encode()):
            raise SignInFailed("the state does not match the one this browser was given")
        if "error" in params:
            raise SignInFailed(f"the provider answered {params.get('error', '')[:60]!r}")
        meta = await self.metadata()
        # RFC 9207: a provider that names itself must name the issuer this flow started with.
        if "iss" in params and params["iss"].rstrip("/") != meta["issuer"].rstrip("/"):
            raise SignInFailed("the callback names another issuer")
        code = params.get("code", "")
        if not code or len(code) > 2048:
            raise SignInFailed("the callback carries no code")
        token = await self._trade(meta, code, pending, redirect_uri)
        claims = await self._checked_claims(meta, token, pending)
        return self._person(meta["issuer"], claims)

    async def _trade(
        self, meta: dict[str, Any], code: str, pending: Pending, redirect_uri: str
    ) -> dict[str, Any]:
        """The code traded at the token endpoint, the client authenticated as the provider
        prefers: HTTP Basic (the default every provider takes), with the id and secret
        form-encoded first as RFC 6749 section 2.3.1 says, or in the form."""
        s = self.settings
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pending.verifier,
        }
        methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        auth: httpx.BasicAuth | None = None
        if "client_secret_basic" in methods:
            auth = httpx.BasicAuth(quote_plus(s.client_id), quote_plus(s.client_secret))
        else:
            form |= {"client_id": s.client_id, "client_secret": s.client_secret}
        try:
            async with httpx.AsyncClient(timeout=s.timeout, transport=self._transport) as client:
                response = await client.post(
                    meta["token_endpoint"],
                    data=form,
                    auth=auth,
                    headers={"Accept": "application/json"},
                )
            token = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed(f"the token endpoint failed: {exc.__class__.__name__}") from None
        if not isinstance(token, dict):
            raise SignInFailed("the token endpoint's answer is not a JSON object")
        if response.status_code != 200 or "error" in token:
            error = str(token.get("error", response.status_code))[:60]
            raise SignInFailed(f"the token endpoint refused the code: {error}")
        if not isinstance(token.get("id_token"), str):
            raise SignInFailed("the token endpoint gave no ID token")
        if str(token.get("token_type", "")).lower() != "bearer":
            raise SignInFailed("the token endpoint's token type is not Bearer")
        return token

    async def _checked_claims(
        self, meta: dict[str, Any], token: dict[str, Any], pending: Pending
    ) -> CodeIDToken:
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in SAFE_ALGORITHMS] or ["RS256"]
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                decoded = jwt.decode(token["id_token"], await self._key_set(), registry=registry)
            except InvalidKeyIdError:  # the provider rolled its keys: read them again
                decoded = jwt.decode(
                    token["id_token"], await self._key_set(fresh=True), registry=registry
                )
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": meta["issuer"]},
                    "aud": {"essential": True, "value": self.settings.client_id},
                    "sub": {"essential": True},
                },
                {
                    "nonce": pending.nonce,
                    "client_id": self.settings.client_id,
                    "access_token": token.get("access_token"),
                },
            )
            claims.validate(leeway=CLOCK_LEEWAY)
        except (JoseError, ValueError, TypeError) as exc:
            raise SignInFailed(f"the ID token does not check out: {exc}") from None
        return claims

    def _person(self, issuer: str, claims: Mapping[str, Any]) -> ExternalIdentity:
        s = self.settings
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 1 <= len(subject) <= MAX_CLAIM_LENGTH:
            raise SignInFailed("the ID token's subject is not a short string")
        username = claims.get(s.username_claim)
        if not isinstance(username, str) or not username:
            raise SignInFailed(f"the ID token has no {s.username_claim!r} claim")
        groups = _claim(claims, s.groups_claim)
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list):
            groups = []
        name = claims.get("name")
        return ExternalIdentity(
            issuer=issuer.rstrip("/")[:MAX_CLAIM_LENGTH],
            subject=subject,
            username=username[:MAX_CLAIM_LENGTH],
            full_name=name if isinstance(name, str) else "",
            groups=tuple(g for g in groups if isinstance(g, str))[:200],
        )


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects (`realm_access.roles`)."""
    if path in claims:
        return claims[path]
    found: Any = claims
    for part in path.split("."):
        if not isinstance(found, Mapping) or part not in found:
            return None
        found = found[part]
    return found

"""Staff sign-in through the organisation's OpenID provider (single sign-on).

`/login/sso` sends the browser to the provider with a fresh state, nonce and PKCE verifier,
kept for ten minutes in a signed, HttpOnly cookie scoped to these two paths (SameSite=Lax:
the provider's redirect back is a top-level navigation, which carries it). `/login/sso/return`
checks the answer (`integrations.oidc`), lets the services pick the account and roles
(`services.single_sign_on`) and starts the same browser session a password sign-in starts.
A refusal comes back to the sign-in page with the reason in the visitor's language; why the
provider's side failed is written to the log only.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from antrean.adapters.web.core import (
    Visitor,
    WebRoute,
    redirect,
    render,
    safe_next,
    visit,
    web_of,
)
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.integrations.oidc import OpenIdProvider, Pending, SignInFailed
from antrean.services import identity, single_sign_on

router = APIRouter(route_class=WebRoute, include_in_schema=False)
log = logging.getLogger(__name__)

START, RETURN = "/login/sso", "/login/sso/return"
COOKIE = "antrean_sso"
COOKIE_SECONDS = 600  # the sign-in at the provider must end within ten minutes


def _provider(request: Request) -> OpenIdProvider:
    found = web_of(request).container.identity_provider
    if found is None:
        raise AntreanError("not_found")
    return found


def _return_url(request: Request) -> str:
    """Where the provider sends the browser back: registered with the provider as is."""
    public = web_of(request).container.settings.public_url
    base = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    return base + RETURN


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = web_of(request).container.tokens.secret
    return URLSafeTimedSerializer(secret, salt="antrean.web.sso")


@router.get(START)
async def start(request: Request, v: Visitor = Depends(visit)) -> Response:
    next_url = safe_next(request.query_params.get("next"), "")
    if v.user is not None:
        return redirect(next_url or v.home)
    try:
        url, pending = await _provider(request).start(_return_url(request))
    except SignInFailed as reason:
        log.warning("single sign-on cannot start: %s", reason)
        return _refused(request, v, AntreanError("sso_failed"), next_url)
    response = redirect(url)
    del response.headers["HX-Redirect"]  # a full navigation to another site
    value = _serializer(request).dumps(
        {"s": pending.state, "n": pending.nonce, "v": pending.verifier, "next": next_url}
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=START,
    )
    return response


@router.get(RETURN)
async def finish(request: Request, v: Visitor = Depends(visit)) -> Response:
    provider = _provider(request)
    try:
        saved = _serializer(request).loads(request.cookies.get(COOKIE, ""), max_age=COOKIE_SECONDS)
        pending = Pending(state=saved["s"], nonce=saved["n"], verifier=saved["v"])
        next_url = safe_next(saved.get("next"), "")
    except (BadSignature, KeyError, TypeError):
        return _refused(request, v, AntreanError("sso_expired"), "")
    c = web_of(request).container
    try:
        person = await provider.finish(request.query_params, pending, _return_url(request))
        pair = await c.call(
            single_sign_on.sign_in_with_provider,
            c.uow(),
            actor=c.anonymous(),
            tokens=c.tokens,
            rules=c.settings.single_sign_on_rules(),
            person=person,
        )
    except SignInFailed as reason:
        log.warning("single sign-on refused: %s", reason)
        return _refused(request, v, AntreanError("sso_failed"), next_url)
    except AntreanError as exc:
        return _refused(request, v, exc, next_url)
    v.session = v.session.signed_in(pair.refresh_token)
    user = await c.call(
        identity.resume_session, c.uow(), actor=c.anonymous(), refresh_token=pair.refresh_token
    )
    v.user, v.actor = user, user.actor()
    response = redirect(next_url or v.home)
    response.delete_cookie(COOKIE, path=START)
    return response


def _refused(request: Request, v: Visitor, exc: AntreanError, next_url: str) -> Response:
    """Back on the sign-in page, with what went wrong and what to do."""
    context = {
        "errors": {"_form": exc.message(v.lang)},
        "username": "",
        "next": next_url,
        "ask_code": False,
    }
    status = 403 if exc.kind is ErrorKind.FORBIDDEN else 400
    response = render(request, v, "login.html", context, status=status)
    response.delete_cookie(COOKIE, path=START)
    return response

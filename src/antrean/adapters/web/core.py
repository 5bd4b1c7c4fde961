"""What every page shares: the visitor (session, account, actor, language), rendering a
template in the visitor's language, forms with their CSRF check, and one place that turns a
refusal of the services into a page people can act on.

Routes stay translators: read the form, call one use case with the visitor's actor, render.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from babel.support import Translations
from fastapi import Request
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from antrean.adapters.web.assets import Assets
from antrean.adapters.web.i18n import LANGUAGES, Formats, language, load_translations
from antrean.adapters.web.qr import qr_svg
from antrean.adapters.web.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    LANG_COOKIE,
    Sessions,
    WebSession,
)
from antrean.adapters.web.speech import Voice
from antrean.bootstrap import Container
from antrean.domain.catalog import Facility
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.domain.fields import MAX_ID, is_digits
from antrean.domain.identity import Actor, Role, User
from antrean.services import catalog, identity

TEMPLATES = Path(__file__).parent / "templates"
log = logging.getLogger(__name__)
COMPRESS_FROM = 1400  # bytes: below one packet, compressing gains nothing
MAX_FORM_FIELDS = 200

# Where each role lands after signing in; the first role held wins.
HOMES = (
    (Role.ADMIN, "/admin"),
    (Role.OPERATOR, "/console"),
    (Role.DOCTOR, "/doctor"),
    (Role.PATIENT, "/my"),
)

# Headers on every page. Scripts and styles come only from this server (no inline script,
# no style attribute): a script injected into a page has nowhere to run from.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(slots=True)
class Visitor:
    """Who is looking at the page: their session, account (when signed in) and language."""

    session: WebSession
    user: User | None
    actor: Actor
    lang: str
    facility: Facility

    @property
    def home(self) -> str:
        if self.user is not None:
            for role, path in HOMES:
                if role in self.user.roles:
                    return path
        return "/"

    @property
    def role(self) -> str:
        """The role the pages treat this visitor as (the first of admin, operator, doctor,
        patient held)."""
        if self.user is not None:
            for role, _ in HOMES:
                if role in self.user.roles:
                    return role.value
        return "anonymous"

    @property
    def is_admin(self) -> bool:
        return self.user is not None and Role.ADMIN in self.user.roles

    def has(self, *roles: Role) -> bool:
        return self.user is not None and self.actor.has_any(*roles)


class SharedFragments:
    """Rendered page parts shared by many readers of the same version (every board of a
    display link, for the same event): the first asks the database and renders, the others
    wait for that answer. Bounded: the oldest are dropped; a failed render is not kept."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._found: OrderedDict[tuple[str, ...], asyncio.Future[str]] = OrderedDict()

    async def get(self, key: tuple[str, ...], make: Callable[[], Awaitable[str]]) -> str:
        found = self._found.get(key)
        if found is None:
            found = asyncio.get_running_loop().create_future()
            self._found[key] = found
            if len(self._found) > self.limit:
                self._found.popitem(last=False)
            try:
                found.set_result(await make())
            except BaseException as exc:
                self._found.pop(key, None)
                found.set_exception(exc)
                found.exception()  # retrieved: waiting readers get it raised
                raise
        return await asyncio.shield(found)


@dataclass
class Web:
    """The web adapter's state, built once per server process."""

    container: Container
    assets: Assets = field(default_factory=Assets)
    envs: dict[str, Environment] = field(default_factory=dict)
    sessions: Sessions | None = None
    voice: Voice = field(init=False)
    translations: dict[str, Translations] = field(default_factory=dict)
    fragments: SharedFragments = field(default_factory=SharedFragments)

    def __post_init__(self) -> None:
        c = self.container
        self.voice = Voice(c.settings.data_dir / "speech")
        self.sessions = Sessions(c.tokens.secret, max_age=int(c.tokens.refresh_ttl.total_seconds()))
        for lang in LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(TEMPLATES),
                autoescape=select_autoescape(default=True),
                extensions=["jinja2.ext.i18n"],
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                auto_reload=False,
            )
            self.translations[lang] = load_translations(lang)
            env.install_gettext_translations(self.translations[lang], newstyle=True)  # type: ignore[attr-defined]
            env.globals["asset"] = self.assets.url
            env.globals["timedelta"] = timedelta
            env.globals["qr_svg"] = qr_svg
            # Staff single sign-on: the provider's name on the sign-in page ("" for a plain
            # label), or None when it is off.
            env.globals["sso"] = c.settings.oidc_label if c.settings.single_sign_on else None
            # Words for states and roles, as macros every template can call.
            env.globals["words"] = env.get_template("words.html").module
            env.globals["ui"] = env.get_template("macros.html").module
            self.envs[lang] = env


def web_of(request: Request) -> Web:
    w: Web = request.app.state.web
    return w


async def visit(request: Request) -> Visitor:
    """The visitor of this request, resolved once (a FastAPI dependency)."""
    found: Visitor | None = getattr(request.state, "visitor", None)
    if found is not None:
        return found
    w = web_of(request)
    c = w.container
    assert w.sessions is not None
    session = w.sessions.read(request)
    user = None
    if session.key is not None:
        try:
            user = await c.call(
                identity.resume_session, c.uow(), actor=c.anonymous(), refresh_token=session.key
            )
        except AntreanError:
            session = session.signed_out()
    facility = await c.call(catalog.get_facility, c.uow(), actor=c.anonymous())
    visitor = Visitor(
        session=session,
        user=user,
        actor=user.actor() if user is not None else c.anonymous(),
        lang=language(request.cookies.get(LANG_COOKIE)),
        facility=facility,
    )
    request.state.visitor = visitor
    return visitor


def wants_fragment(request: Request) -> bool:
    """An HTMX request for part of a page (not a boosted link, which wants the whole page)."""
    return "hx-request" in request.headers and "hx-boosted" not in request.headers


def _html(request: Request, text: str, status: int) -> Response:
    body = text.encode()
    headers = dict(PAGE_HEADERS)
    headers["Vary"] = "Accept-Encoding, Cookie, HX-Request"
    if len(body) >= COMPRESS_FROM and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return HTMLResponse(body, status_code=status, headers=headers)


def render(
    request: Request,
    visitor: Visitor,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    block: str | None = None,
) -> Response:
    """A page (or, with `block`, one named block of it, for HTMX) in the visitor's language."""
    w = web_of(request)
    env = w.envs[visitor.lang]
    values = {
        "v": visitor,
        "fmt": Formats(visitor.lang, w.container.policy.time_zone),
        "csrf": visitor.session.csrf,
        "path": request.url.path,
        "here": _here(request),
        "request_args": request.query_params,
        "demo_accounts": w.container.settings.is_development,
        **(context or {}),
    }
    page = env.get_template(template)
    if block is not None:
        ctx = page.new_context(values)
        text = "".join(page.blocks[block](ctx))
    else:
        text = page.render(values)
    return _html(request, text, status)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


def redirect(url: str) -> Response:
    """After a form: 303 See Other, so a reload does not send the form again. HTMX follows
    `HX-Redirect` instead of swapping the next page into the current one."""
    response = RedirectResponse(url, status_code=303)
    response.headers["HX-Redirect"] = url
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(value: str | None, default: str = "/") -> str:
    """A return address after signing in: a path on this site, never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or len(value) > 2000:
        return default
    return value


def login_url(request: Request) -> str:
    return "/login?next=" + quote(_here(request), safe="")


class SignInFirst(Exception):
    """A page for signed-in people, asked for by someone signed out: to the sign-in page, and
    back here after it."""


def require(v: Visitor, *roles: Role) -> None:
    """Signed in (with one of `roles`, when given; admins always). The use case checks again:
    this only picks the right page (sign in, or the 403 page) before any work is done."""
    if v.user is None:
        raise SignInFirst
    if roles and not v.has(*roles):
        raise AntreanError("forbidden")


class FormRefused(Exception):
    """A form without the session's CSRF secret: refused before any use case runs."""


async def read_form(request: Request, visitor: Visitor) -> FormData:
    try:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    except Exception as exc:  # a body that is not a form
        raise FormRefused from exc
    # The form's own field first: it was rendered with the page the form is on, while a header
    # set once on the page may predate a sign-in that changed the secret.
    token = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not isinstance(token, str) or not visitor.session.csrf_ok(token):
        raise FormRefused
    return form


def text_of(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def parse_id(value: str | None) -> int | None:
    """An id from a form or a link; None when it is missing or cannot be one."""
    if value is None or not is_digits(value) or len(value) > 19:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


STATUS = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.INVALID: 400,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.TOO_MANY: 429,
}


async def error_page(request: Request, exc: AntreanError) -> Response:
    visitor = await visit(request)
    if exc.kind is ErrorKind.UNAUTHORIZED or (exc.code == "forbidden" and visitor.user is None):
        return redirect(login_url(request))
    status = STATUS[exc.kind]
    return render(request, visitor, "error.html", {"error": exc, "status": status}, status=status)


async def broken_page(request: Request) -> Response:
    try:
        visitor = await visit(request)
        return render(request, visitor, "error.html", {"error": None, "status": 500}, status=500)
    except Exception:
        return PlainTextResponse("Maaf, terjadi kesalahan. / Sorry, something went wrong.", 500)


async def refused_form_page(request: Request) -> Response:
    visitor = await visit(request)
    return render(request, visitor, "error.html", {"error": None, "status": 403}, status=403)


class WebRoute(APIRoute):
    """A page route: a refusal of the services becomes a page in the visitor's language, and
    the session cookie is written when it changed."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except AntreanError as exc:
                response = await error_page(request, exc)
            except FormRefused:
                response = await refused_form_page(request)
            except SignInFirst:
                response = redirect(login_url(request))
            except Exception:  # a fault of ours: logged, and a page that says so in words
                log.exception("page %s failed", request.url.path)
                response = await broken_page(request)
            visitor: Visitor | None = getattr(request.state, "visitor", None)
            if visitor is not None:
                sessions = web_of(request).sessions
                assert sessions is not None
                sessions.write(request, response, visitor.session)
            return response

        return handler

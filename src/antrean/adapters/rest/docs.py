"""The API docs at /docs, served from the package: Swagger UI's files are vendored under
`static/swagger-ui/`, so the docs work on a clinic's network without internet."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

SWAGGER_UI_VERSION = "5.35.0"
ASSETS = f"/static/swagger-ui/{SWAGGER_UI_VERSION}"
_DIRECTORY = Path(__file__).parent / "static" / "swagger-ui"


class _VersionedFiles(StaticFiles):
    """Files whose URL carries their version: cached by browsers for a year."""

    async def get_response(self, path: str, scope: Scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install(app: FastAPI) -> None:
    """`/docs`, its OAuth2 redirect page and the Swagger UI files (the app is made with
    `docs_url=None`)."""
    app.mount(ASSETS, _VersionedFiles(directory=_DIRECTORY), name="swagger-ui")
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return with_policy(
            get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} API",
                oauth2_redirect_url=oauth2_redirect,
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            )
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def redirect() -> HTMLResponse:
        return with_policy(get_swagger_ui_oauth2_redirect_html())


def with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a Content-Security-Policy that lets its own inline scripts run (by their
    SHA-256, not `unsafe-inline`) and nothing else that is not from this server. Swagger UI
    sets styles on elements as it draws, so inline styles are allowed on these pages."""
    scripts = re.findall(rb"<script>(.*?)</script>", bytes(page.body), re.S)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return page

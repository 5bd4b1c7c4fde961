"""The HTTP application: the REST API under /api/v1 (OpenAPI docs at /docs), XML-RPC at /RPC2,
the web pages and the health probes, mounted side by side on one ASGI app. `create` is
uvicorn's factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text

from antrean import __version__
from antrean.adapters import fhir, rest, web, webhooks, xmlrpc
from antrean.bootstrap import Container, MessageWorker, build
from antrean.config import Settings
from antrean.edge import BodyLimit, Edge, parse_networks

DESCRIPTION = """
Appointment booking and patient queue for clinics and hospitals.

Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`;
`detail` is in Bahasa Indonesia, or in English when `Accept-Language: en` is sent.
Sign in with the **Authorize** button (OAuth2 password flow).
"""


def _database_answers(container: Container) -> bool:
    try:
        with container.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def _lifespan(container: Container) -> Any:
    """While the app serves: live events flow to this process, then everything is closed."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        container.broadcaster.bind(asyncio.get_running_loop())
        listener = asyncio.create_task(container.bus.run())
        settings = container.settings
        # The embedded worker: `make run` sends messages with nothing else running.
        worker = (
            MessageWorker(container).start()
            if settings.messages and settings.embedded_worker
            else None
        )
        container.worker_wake = worker.wake if worker is not None else None
        if not container.inline_db_calls:
            # No more threads at the database than connections in the pool: a thread beyond
            # that would only wait for a connection while holding a thread.
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = container.settings.db_pool_size
        yield
        if worker is not None:
            await anyio.to_thread.run_sync(worker.close)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        container.close()

    return lifespan


def _probes(app: FastAPI, container: Container) -> None:
    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="The database answers",
        response_model=None,
        responses={503: {"description": "The database does not answer"}},
    )
    async def readyz() -> JSONResponse:
        ok = await container.call(_database_answers, container)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503
        )


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan(container),
        title="antrean",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served from the package by `adapters.rest.docs`
        redoc_url=None,
    )
    app.state.container = container
    # Routes are matched in the order they were added, a few microseconds each: the probes,
    # then the API (its busiest routes first), then XML-RPC.
    _probes(app, container)
    rest.install(app, prefix="/api/v1")
    app.add_route(
        "/RPC2", xmlrpc.make_endpoint(container), methods=["POST"], include_in_schema=False
    )
    webhooks.install(app)
    fhir.install(app)
    web.install(app, container)  # the pages last: their paths are the most general
    _edge(app, container.settings)
    return app


def _edge(app: FastAPI, settings: Settings) -> None:
    """What every request meets first (the middleware added last runs first): the edge's
    limits, network rule and headers, then CORS for the allowed origins."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept-Language", "Idempotency-Key"],
            expose_headers=["Location", "Retry-After", "ETag"],
            max_age=600,
        )
    app.add_middleware(
        Edge,
        limits=[
            BodyLimit("/RPC2", xmlrpc.MAX_BODY),
            BodyLimit("/webhooks/", webhooks.MAX_BODY),
        ],
        default_limit=settings.max_body_bytes,
        rpc_networks=parse_networks(settings.rpc_networks),
    )


def create() -> FastAPI:
    """Each server process builds its own settings, engine and pools."""
    return create_app(build(Settings()))

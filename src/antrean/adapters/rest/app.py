"""The FastAPI application: REST API under /api/v1, OpenAPI docs at /docs, health checks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from antrean import __version__
from antrean.adapters.rest import (
    problems,
    routes_auth,
    routes_booking,
    routes_catalog,
    routes_events,
    routes_patients,
    routes_queue,
)
from antrean.adapters.xmlrpc import make_endpoint as make_xmlrpc_endpoint
from antrean.bootstrap import Container

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


def create_app(container: Container) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        container.broadcaster.bind(asyncio.get_running_loop())
        listener = asyncio.create_task(container.bus.run())
        if not container.inline_db_calls:
            # No more threads at the database than connections in the pool: a thread beyond
            # that would only wait for a connection while holding a thread.
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = container.settings.db_pool_size
        yield
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        container.close()

    app = FastAPI(
        lifespan=lifespan,
        title="antrean",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.container = container
    problems.install(app)

    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The database answers", response_model=None)
    async def readyz() -> JSONResponse:
        ok = await container.call(_database_answers, container)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503
        )

    # A request is matched against the routes in the order they were added, a few
    # microseconds each: the probes and the busiest routes (queue, booking) come first.
    for module in (
        routes_queue,
        routes_booking,
        routes_events,
        routes_catalog,
        routes_patients,
        routes_auth,
    ):
        app.include_router(module.router, prefix="/api/v1")

    app.add_route(
        "/RPC2", make_xmlrpc_endpoint(container), methods=["POST"], include_in_schema=False
    )

    return app

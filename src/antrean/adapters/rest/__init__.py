"""The REST adapter: routers under /api/v1, RFC 9457 problems for every error."""

from __future__ import annotations

from fastapi import FastAPI

from antrean.adapters.rest import (
    docs,
    problems,
    routes_audit,
    routes_auth,
    routes_booking,
    routes_catalog,
    routes_events,
    routes_messages,
    routes_patients,
    routes_queue,
    routes_scheduling,
)

# The busiest routes (queue, booking) first: routes are matched in order.
ROUTERS = (
    routes_queue,
    routes_booking,
    routes_events,
    routes_catalog,
    routes_scheduling,
    routes_messages,
    routes_audit,  # before patients: /patients/me/access-log
    routes_patients,
    routes_auth,
)


def install(app: FastAPI, *, prefix: str) -> None:
    problems.install(app)
    for module in ROUTERS:
        app.include_router(module.router, prefix=prefix, responses=problems.RESPONSES)
    problems.document(app)
    docs.install(app)

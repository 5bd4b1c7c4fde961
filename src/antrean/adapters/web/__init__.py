"""The web adapter: server-rendered pages for patients, staff, waiting rooms and admins.

Routes render Jinja2 templates in the visitor's language and call the same use cases, with the
same actor, as the REST API; HTMX (vendored) makes the forms quicker, and every form also works
without script."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from antrean.adapters.web import (
    routes_account,
    routes_admin,
    routes_admin_catalog,
    routes_admin_doctors,
    routes_admin_people,
    routes_appointments,
    routes_audit,
    routes_booking,
    routes_bookings,
    routes_console,
    routes_display,
    routes_doctor,
    routes_kiosk,
    routes_messages,
    routes_sso,
    routes_ticket,
    routes_two_step,
)
from antrean.adapters.web.assets import PREFIX
from antrean.adapters.web.core import Web
from antrean.bootstrap import Container

ROUTERS = (
    routes_account,
    routes_booking,
    routes_appointments,
    routes_ticket,
    routes_doctor,
    routes_console,
    routes_display,
    routes_kiosk,
    routes_admin,
    routes_admin_catalog,
    routes_admin_doctors,
    routes_admin_people,
    routes_bookings,
    routes_messages,
    routes_two_step,
    routes_sso,
    routes_audit,
)


def install(app: FastAPI, container: Container) -> None:
    web = Web(container)
    app.state.web = web

    async def asset(request: Request) -> Response:
        return web.assets.response(request)

    app.add_route(PREFIX + "{name}", asset, methods=["GET", "HEAD"], include_in_schema=False)
    for module in ROUTERS:
        app.include_router(module.router)

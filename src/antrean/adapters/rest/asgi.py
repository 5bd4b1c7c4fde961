"""ASGI entry point for uvicorn's factory mode (`--factory antrean.adapters.rest.asgi:create`)."""

from __future__ import annotations

from fastapi import FastAPI

from antrean.adapters.rest.app import create_app
from antrean.bootstrap import build
from antrean.config import Settings


def create() -> FastAPI:
    """Each server process builds its own settings, engine and pools."""
    return create_app(build(Settings()))

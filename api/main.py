"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

import jaylym
from api.routes import health


def create_app() -> FastAPI:
    """Build the app with every router mounted."""
    app = FastAPI(
        title="Jaylym API",
        version=jaylym.__version__,
        description="Pasture registry, grazing pressure and alerts for Unions of Pasture Users.",
    )
    app.include_router(health.router)
    return app

"""`jaylym serve` and, until the demo lands, `jaylym demo`."""

from __future__ import annotations

import typer

from jaylym.settings import get_settings


def serve(
    host: str | None = typer.Option(None, help="Bind address (default JAYLYM_API_HOST)."),
    port: int | None = typer.Option(None, help="Port (default JAYLYM_API_PORT)."),
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from api.main import create_app

    settings = get_settings()
    uvicorn.run(
        create_app(),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level,
    )


def demo(port: int = typer.Option(8000, help="Port of the demo's API.")) -> None:
    """Run the demo on embedded defaults (for now: the API alone)."""
    serve(host="127.0.0.1", port=port)

"""`jaylym ingest`: run the MQTT ingest until SIGTERM or SIGINT."""

from __future__ import annotations

import typer


def ingest(
    client_id: str | None = typer.Option(
        None,
        "--client-id",
        help="MQTT client id (default JAYLYM_INGEST_CLIENT_ID); one per process of a group.",
    ),
) -> None:
    """Run the MQTT ingest: broker -> decoders -> validation -> time-series store."""
    import signal
    import threading

    from ingest.wiring import build_service
    from jaylym.settings import get_settings

    service = build_service(get_settings(), client_id=client_id)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.run(stop)

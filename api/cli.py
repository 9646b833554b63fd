"""`jaylym serve` and `jaylym demo`."""

from __future__ import annotations

from pathlib import Path

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
    ensure_schema(settings.registry_url)
    app = create_app()
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level,
        timeout_keep_alive=settings.api_keep_alive_s,
    )


def freeze_startup_heap() -> None:
    """Move everything built so far (modules, the app, the registry's and the store's
    machinery) out of the cyclic collector's sight. Every few seconds the shared refreshes
    (season figures, latest fixes) allocate enough for a full collection, which walked that
    whole heap with the interpreter lock held: 100–140 ms during which no request moved, the
    API's p99 under polling (bench/results/api-round4.md). Frozen, they take 15–30 ms."""
    import gc

    gc.collect()  # what is garbage now is collected, not frozen
    gc.freeze()


def ensure_schema(url: str) -> None:
    """The embedded SQLite registry is migrated in place; a server database must be migrated
    by the operator (`jaylym db upgrade`, a deliberate step with backups) and we refuse to
    serve an outdated schema rather than fail on the first request."""
    from jaylym.registry.db import make_engine
    from jaylym.registry.migrate import current_revision, head_revision, upgrade

    engine = make_engine(url)
    try:
        if url.startswith("sqlite"):
            upgrade(engine)
            return
        current = current_revision(engine)
        if current != head_revision():
            typer.echo(
                f"jaylym: the registry schema is at {current or 'empty'}, this version needs "
                f"{head_revision()}: run `jaylym db upgrade`",
                err=True,
            )
            raise typer.Exit(2)
    finally:
        engine.dispose()


def demo(
    port: int = typer.Option(8000, help="Port of the demo's API and page."),
    speed: float = typer.Option(
        360.0,
        min=1.0,
        help="Simulated seconds per real second (360: one simulated hour every 10 s).",
    ),
    duration: float = typer.Option(
        1200.0,
        min=5.0,
        help="Stop after this many real seconds (Ctrl-C stops earlier). Simulated time starts "
        "duration x speed in the past (at most 6 days) and reaches the present at the end.",
    ),
    data_dir: Path = typer.Option(
        Path("var/demo"), help="Where the demo keeps its state (emptied at start)."
    ),
    max_micropython: int = typer.Option(
        32,
        min=0,
        help="Devices on the MicroPython unix port at most; the rest run the same firmware "
        "on CPython.",
    ),
) -> None:
    """The whole platform on embedded defaults, with a simulated Sogety okrug."""
    import logging
    import os

    from jaylym.demo.runner import DemoOptions, run
    from jaylym.logs import configure_logging

    if "JAYLYM_LOG_LEVEL" not in os.environ:
        # The terminal is for the story (URL, tokens, alerts); services log warnings only
        # unless asked for more.
        configure_logging(get_settings().model_copy(update={"log_level": "warning"}))
        logging.getLogger().setLevel(logging.WARNING)

    options = DemoOptions(
        port=port,
        speed=speed,
        duration_s=duration,
        data_dir=data_dir,
        max_micropython=max_micropython,
    )
    try:
        options.check()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from jaylym.demo.runner import DemoError

    try:
        run(options)
    except DemoError as exc:
        typer.echo(f"jaylym demo: {exc}", err=True)
        raise typer.Exit(2) from None


def alerts(
    once: bool = typer.Option(False, help="Evaluate once, deliver what is due, and exit."),
) -> None:
    """Run the alert engine and the delivery worker alone (without the HTTP API).

    Set JAYLYM_ALERTS_IN_SERVE=false for `jaylym serve` when this runs as its own process.
    """
    import signal
    import threading

    from api.alerts.runtime.service import AlertService
    from jaylym.registry.db import make_engine
    from jaylym.store import open_store

    settings = get_settings()
    ensure_schema(settings.registry_url)
    engine = make_engine(settings.registry_url)
    store = open_store(settings)
    service = AlertService.from_settings(settings, engine, store)
    try:
        if once:
            report = service.engine.evaluate(service.source(service.source_clock_ms()))
            service.deliverer.run_until_idle(settings.delivery_timeout_s * 2)
            typer.echo(f"evaluated: {dict(report.transitions)} transitions")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        service.start()
        while not stop.wait(1.0):
            pass
        if not service.stop(timeout_s=10.0):
            typer.echo("jaylym alerts: workers did not stop within 10 s", err=True)
    finally:
        store.close()
        engine.dispose()

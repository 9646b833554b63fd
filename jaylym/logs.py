"""Structured logging for every service: JSON lines for machines, colour for people."""

from __future__ import annotations

import logging
import sys

import structlog

from jaylym.settings import Settings


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was configured.

    A stream captured at configure time outlives its owner when the CLI runs in-process
    (typer's CliRunner, pytest's capture): every later log line would then fail on a
    closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging to stderr in the configured format and level."""
    level = getattr(logging, settings.log_level.upper())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=level, stream=_CurrentStderr(), format="%(levelname)s %(name)s %(message)s"
    )

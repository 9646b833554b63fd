"""Logging follows `sys.stderr` as it is when a line is written.

The `jaylym` CLI configures logging on every invocation; in-process runs (typer's CliRunner,
used across the suite) swap `sys.stderr` for a buffer they close afterwards. Log lines after
that must not fail on the closed buffer, whichever test happens to run next.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from jaylym.logs import configure_logging
from jaylym.settings import Settings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    config = structlog.get_config()
    handlers = logging.root.handlers[:]
    yield
    structlog.configure(**config)
    logging.root.handlers[:] = handlers


@pytest.mark.usefixtures("restore_logging")
def test_logging_outlives_a_closed_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    logging.root.handlers[:] = []
    borrowed = io.StringIO()
    monkeypatch.setattr(sys, "stderr", borrowed)
    configure_logging(Settings(log_format="json"))
    log = structlog.get_logger("test")
    log.info("during", n=1)
    borrowed.close()

    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)
    log.info("after", n=2)  # the cached logger, written after its first stream closed
    logging.getLogger("stdlib").warning("stdlib after")

    assert '"event": "after"' in later.getvalue()
    assert "stdlib after" in later.getvalue()

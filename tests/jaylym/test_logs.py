"""Logging keeps working when stderr is swapped and closed by a harness after configuration."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from jaylym.logs import configure_logging
from jaylym.settings import Settings


def test_logs_go_to_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging(Settings(log_format="json"))
    log = structlog.get_logger("t")
    log.info("one", n=1)
    first.close()  # a CLI runner closes the stream it lent

    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    log.info("two", n=2)
    record = json.loads(second.getvalue().strip().splitlines()[-1])
    assert record["event"] == "two"
    assert record["n"] == 2

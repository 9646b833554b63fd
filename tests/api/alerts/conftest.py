"""Fixtures for delivery tests: a recording HTTP server and a delivery log in a temp file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.alerts.delivery_log import SqlDeliveryLog
from tests.recording_http import Recorder, recording_server


@pytest.fixture
def http_server() -> Iterator[Recorder]:
    with recording_server() as recorder:
        yield recorder


@pytest.fixture
def log_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'delivery.db'}"


@pytest.fixture
def delivery_log(log_url: str) -> SqlDeliveryLog:
    store = SqlDeliveryLog.from_url(log_url)
    store.create_all()
    return store

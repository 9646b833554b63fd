"""The seeded week in a real InfluxDB, shared by every dashboard test that reads it (seeding
takes seconds: once per session, not once per module)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.dashboards import seed as seeding


@pytest.fixture(scope="session")
def influx_db(influx_session: Any) -> Iterator[seeding.SeededInflux]:
    db = f"dash_{uuid.uuid4().hex[:10]}"
    seeded = seeding.seed(influx_session.url, db, now_ms=int(time.time() * 1000))
    yield seeding.SeededInflux(influx_session.url, db, seeded)
    httpx.post(f"{influx_session.url}/query", data={"q": f'DROP DATABASE "{db}"'}, timeout=30)

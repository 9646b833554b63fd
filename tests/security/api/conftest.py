"""The API-side security suite reuses the API tests' seeded world (two okrugs, a token per
role) and adds one with a real InfluxDB behind the telemetry routes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jaylym.settings import InfluxConfig
from jaylym.store.influx import InfluxStore
from tests.api.conftest import Api, api, make_api, seed_readings, sqlite_api
from tests.conftest import InfluxHandle

__all__ = ["api", "influx_api", "sqlite_api"]


@pytest.fixture
def influx_api(registry_url: str, tmp_path: Path, influx: InfluxHandle) -> Iterator[Api]:
    """The seeded API on SQLite and on PostgreSQL, with the real InfluxDB of the session (a
    database of this test's own) behind every telemetry route."""
    store = InfluxStore(
        InfluxConfig.model_validate(
            {
                "url": influx.url,
                "database": f"t_{uuid.uuid4().hex[:16]}",
                "retries": 2,
                "retry_backoff_s": 0.02,
                "timeout_s": 10.0,
            }
        )
    )
    store.create_database()
    seed_readings(store)
    built = make_api(registry_url, tmp_path, store=store)
    yield built
    built.client.close()
    built.app.state.engine.dispose()
    store.drop_database()
    store.close()

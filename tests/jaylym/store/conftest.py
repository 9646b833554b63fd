"""Both stores behind one fixture, so every contract test runs against each.

The InfluxDB one is the real server of the `influx` fixture, with a database of the test's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jaylym.settings import InfluxConfig
from jaylym.store.base import TimeSeriesStore
from jaylym.store.influx import InfluxStore
from jaylym.store.sqlite import SqliteStore


def influx_store(url: str, **overrides: object) -> InfluxStore:
    """A store on its own fresh database name; retries short so failing tests end fast."""
    config = {
        "url": url,
        "database": f"t_{uuid.uuid4().hex[:16]}",
        "retries": 2,
        "retry_backoff_s": 0.02,
        "timeout_s": 5.0,
        **overrides,
    }
    return InfluxStore(InfluxConfig.model_validate(config))


@pytest.fixture(params=["sqlite", pytest.param("influx", marks=pytest.mark.influx)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "tsdb.sqlite3")
        yield sqlite
        sqlite.close()
        return
    influx = influx_store(request.getfixturevalue("influx").url)
    yield influx
    influx.drop_database()
    influx.close()

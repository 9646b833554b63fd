"""Open the configured time-series store."""

from __future__ import annotations

from jaylym.settings import Settings
from jaylym.store.base import TimeSeriesStore


def open_store(settings: Settings) -> TimeSeriesStore:
    """`JAYLYM_TSDB=influx`: InfluxDB at `JAYLYM_INFLUX_URL`; `sqlite` (default): the file
    `<JAYLYM_DATA_DIR>/tsdb.sqlite3`, with `JAYLYM_TSDB_RETENTION_DAYS`."""
    if settings.tsdb == "influx":
        from jaylym.store.influx import InfluxStore

        return InfluxStore(settings.influx())
    from jaylym.store.sqlite import SqliteStore

    return SqliteStore(settings.tsdb_path, retention_days=settings.tsdb_retention_days)

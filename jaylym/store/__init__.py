"""Time-series storage: one small contract (`TimeSeriesStore`), two implementations.

- `influx`: InfluxDB through its v1-compatible HTTP API (line protocol + InfluxQL), which
  works unchanged on InfluxDB 1.8+, 2.x (v1 compatibility API) and 3.x.
- `sqlite`: an embedded file, for the demo and small single-machine installs.

Both pass the same contract test suite (`tests/jaylym/store/`).
"""

from jaylym.store.base import (
    LatestReading,
    Point,
    SoilSample,
    StoreError,
    StoreRejected,
    StoreUnavailable,
    TimeSeriesStore,
)
from jaylym.store.buffer import BufferedWriter, BufferFull
from jaylym.store.factory import open_store

__all__ = [
    "BufferFull",
    "BufferedWriter",
    "LatestReading",
    "Point",
    "SoilSample",
    "StoreError",
    "StoreRejected",
    "StoreUnavailable",
    "TimeSeriesStore",
    "open_store",
]

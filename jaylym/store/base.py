"""The contract every time-series store serves, and the errors it raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from jaylym.models import PositionReading, Reading, SoilReading


class StoreError(Exception):
    """Base of store failures. `retryable` tells the caller whether to try the batch again."""

    retryable = False


class StoreUnavailable(StoreError):
    """Server down, timeout, 5xx after bounded retries: the batch is intact, try later."""

    retryable = True


class StoreRejected(StoreError):
    """The store refused the data (4xx: partial write, type conflict): do not retry as is."""

    retryable = False


@dataclass(frozen=True, slots=True)
class LatestReading:
    """The newest reading of one device, of whatever kind."""

    device_id: str
    ts_ms: int
    reading: Reading


@dataclass(frozen=True, slots=True)
class SoilSample:
    """Soil moisture at one depth and time, possibly a mean over an interval."""

    ts_ms: int
    depth_cm: int
    vwc: float
    tsoil: float | None


class TimeSeriesStore(Protocol):
    """Write readings, read them back. Times are UTC milliseconds, intervals are [start, end)."""

    def write(self, readings: Sequence[Reading]) -> None:
        """Store a batch. The same (device, ts, depth) overwrites: replays never double.

        Raises `StoreUnavailable` (retryable) or `StoreRejected` (not).
        """
        ...

    def latest(self) -> dict[str, LatestReading]:
        """The latest reading per device."""
        ...

    def device_readings(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        """One device's readings in [start, end), in time order."""
        ...

    def positions(self, start_ms: int, end_ms: int) -> dict[str, list[PositionReading]]:
        """Every position reading in [start, end), grouped by device, each in time order."""
        ...

    def soil(
        self, device_id: str, start_ms: int, end_ms: int, every_s: int | None = None
    ) -> list[SoilSample]:
        """A station's soil samples in [start, end); with `every_s`, the mean per interval
        and depth of valid readings only."""
        ...

    def soil_readings(self, start_ms: int, end_ms: int) -> dict[str, list[SoilReading]]:
        """Every soil reading in [start, end), grouped by device, each in time order."""
        ...

    def last_seen(self) -> dict[str, int]:
        """Time (ms) of the newest reading per device."""
        ...

    def close(self) -> None: ...

"""The contract every time-series store serves, and the errors it raises."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
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
    """The store refused the data (4xx: partial write, type conflict): do not retry as is.

    `status` is the HTTP status when a server said no; `dropped` how many points it dropped
    when it told us (InfluxDB's `partial write: … dropped=N`).
    """

    retryable = False

    def __init__(
        self, message: str, *, status: int | None = None, dropped: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.dropped = dropped


# Measurement names, tag keys and field keys: a strict identifier, so that they never need
# escaping, are safe to double-quote in InfluxQL, and read well in Grafana.
IDENT_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# `time` is InfluxDB's own column; the readings' measurements belong to `write()`.
RESERVED_KEYS = frozenset({"time"})
RESERVED_MEASUREMENTS = frozenset({"position", "soil"})
MAX_TAG_VALUE_CHARS = 256  # tags are bounded identifiers, not text
MAX_STRING_FIELD_CHARS = 16_384
# InfluxDB keeps nanoseconds in an int64: ms timestamps must stay inside 1677..2262.
MIN_TS_MS = -9_223_372_036_854
MAX_TS_MS = 9_223_372_036_854


def is_identifier(name: str) -> bool:
    return IDENT_RE.fullmatch(name) is not None and name not in RESERVED_KEYS


@dataclass(frozen=True, slots=True)
class Point:
    """A generic typed point, for measurements other than the readings (e.g. the grazing
    engine's `pasture_state`, the ingest's device statistics).

    Numbers are always stored as floats (ints are converted, bools refused) so a field never
    changes type. Empty tag values are dropped (InfluxDB cannot store them). Construction
    raises `ValueError` on anything a store could not keep exactly.
    """

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, float | str]
    ts_ms: int

    def __post_init__(self) -> None:
        if not is_identifier(self.measurement) or self.measurement in RESERVED_MEASUREMENTS:
            raise ValueError(f"measurement {self.measurement!r} is not an allowed identifier")
        if isinstance(self.ts_ms, bool) or not isinstance(self.ts_ms, int):
            raise ValueError("ts_ms must be an int (UTC milliseconds)")
        if not MIN_TS_MS <= self.ts_ms <= MAX_TS_MS:
            raise ValueError(f"ts_ms {self.ts_ms} is outside what InfluxDB can store")
        tags = {}
        for key, value in self.tags.items():
            if not is_identifier(key):
                raise ValueError(f"tag key {key!r} is not an identifier")
            if not isinstance(value, str):
                raise ValueError(f"tag {key!r} must be a string")
            if len(value) > MAX_TAG_VALUE_CHARS:
                raise ValueError(f"tag {key!r} is longer than {MAX_TAG_VALUE_CHARS} characters")
            _check_encodable(value, key)
            if value:
                tags[key] = value
        fields: dict[str, float | str] = {}
        for key, raw in self.fields.items():
            if not is_identifier(key):
                raise ValueError(f"field key {key!r} is not an identifier")
            if key in tags or key in self.tags:
                raise ValueError(f"{key!r} is both a tag and a field")
            fields[key] = _field_value(key, raw)
        if not fields:
            raise ValueError("a point needs at least one field")
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "fields", fields)


def _check_encodable(value: str, key: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{key!r} is not valid Unicode text") from None


def _field_value(key: str, raw: object) -> float | str:
    if isinstance(raw, str):
        if len(raw) > MAX_STRING_FIELD_CHARS:
            raise ValueError(f"field {key!r} is longer than {MAX_STRING_FIELD_CHARS} characters")
        _check_encodable(raw, key)
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"field {key!r} must be a float or a string, got {type(raw).__name__}")
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"field {key!r} is not finite")
    return value


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

    def write_points(self, points: Sequence[Point]) -> None:
        """Store generic points. The same (measurement, tags, ts) overwrites, field by field.
        A field written with another type than before raises `StoreRejected`."""
        ...

    def query_points(
        self,
        measurement: str,
        start_ms: int,
        end_ms: int,
        tags: Mapping[str, str] | None = None,
    ) -> list[Point]:
        """Points of one measurement in [start, end) whose tags include `tags`, in time order
        (ties in tag order)."""
        ...

    def close(self) -> None: ...

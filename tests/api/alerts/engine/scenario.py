"""Builders for alert-engine tests: pastures around Sogety, collars walking, a recording sink.

Distances are real: positions are placed in metres east/north of an origin through pyproj,
so the immobile rule's geodesic metres mean what they say.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import shapely
from pyproj import Geod

from api.alerts.engine import (
    AlertEngine,
    EngineConfig,
    InMemoryRepository,
    NotificationEvent,
    Pasture,
    PastureStatus,
    Snapshot,
)
from api.alerts.engine.repository import AlertRepository
from jaylym.models import DeviceInfo, PositionReading, datetime_to_ms

GEOD = Geod(ellps="WGS84")
ORIGIN = (78.40, 43.50)  # lon, lat: foothills south of the Ili, near Sogety
OKRUG = "sogety"
T0 = datetime_to_ms(datetime(2026, 6, 1, 6, 0, tzinfo=UTC))
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def at(east_m: float, north_m: float) -> tuple[float, float]:
    """(lon, lat) of a point `east_m`, `north_m` from the origin."""
    lon, lat, _ = GEOD.fwd(ORIGIN[0], ORIGIN[1], 90, east_m)
    lon, lat, _ = GEOD.fwd(lon, lat, 0, north_m)
    return (lon, lat)


def square(east_m: float, north_m: float, size_m: float) -> shapely.Polygon:
    """A square pasture with its south-west corner at (east_m, north_m)."""
    corners = [(0, 0), (size_m, 0), (size_m, size_m), (0, size_m)]
    return shapely.Polygon([at(east_m + dx, north_m + dy) for dx, dy in corners])


def pasture(
    pid: str,
    east_m: float,
    north_m: float = 0.0,
    size_m: float = 1000.0,
    *,
    status: PastureStatus = PastureStatus.OPEN,
    limit: float | None = None,
    okrug: str = OKRUG,
) -> Pasture:
    return Pasture(
        id=pid,
        okrug=okrug,
        name=f"Pasture {pid}",
        geometry=square(east_m, north_m, size_m),
        status=status,
        load_limit_lu_per_ha=limit,
    )


def collar(device_id: str, herd_id: str | None = "h1", interval_s: int = 300) -> DeviceInfo:
    return DeviceInfo(
        device_id=device_id,
        kind="collar",
        okrug=OKRUG,
        herd_id=herd_id,
        expected_interval_s=interval_s,
    )


def track(
    device_id: str,
    path: Iterable[tuple[int, float, float]],
    *,
    herd_id: str | None = "h1",
) -> list[PositionReading]:
    """Fixes from (ts_ms, east_m, north_m) triples."""
    out = []
    for seq, (ts, east, north) in enumerate(path):
        lon, lat = at(east, north)
        out.append(
            PositionReading(
                device_id=device_id,
                ts_ms=ts,
                seq=seq,
                lat=lat,
                lon=lon,
                okrug=OKRUG,
                herd_id=herd_id,
            )
        )
    return out


def every(start_ms: int, end_ms: int, step_ms: int) -> list[int]:
    return list(range(start_ms, end_ms + 1, step_ms))


@dataclass
class RecordingSink:
    """Stands for the delivery layer's intake: records what it accepts, can refuse on demand,
    and fails the test if it is ever offered a transition it already accepted."""

    events: list[NotificationEvent] = field(default_factory=list)
    refuse: bool = False
    offered_twice: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, events: Sequence[NotificationEvent]) -> None:
        if self.refuse:
            raise ConnectionError("delivery layer unavailable")
        with self.lock:
            seen = {e.key for e in self.events}
            self.offered_twice.extend(e.key for e in events if e.key in seen)
            self.events.extend(events)

    def kinds(self) -> list[str]:
        return [e.kind.value for e in self.events]


def make_engine(
    repo: AlertRepository | None = None,
    config: EngineConfig | None = None,
    sink: RecordingSink | None = None,
    id_prefix: str = "a",
) -> tuple[AlertEngine, RecordingSink]:
    """An engine with readable alert ids (`a-000001`...); give a restarted engine another
    `id_prefix`, as a real one would draw fresh UUIDs."""
    sink = sink or RecordingSink()
    counter = iter(range(1, 1_000_000))
    engine = AlertEngine(
        repo or InMemoryRepository(),
        sink,
        config or EngineConfig(),
        new_id=lambda: f"{id_prefix}-{next(counter):06d}",
    )
    return engine, sink


def snapshot(now_ms: int, **kwargs: object) -> Snapshot:
    return Snapshot(now_ms=now_ms, **kwargs)  # type: ignore[arg-type]

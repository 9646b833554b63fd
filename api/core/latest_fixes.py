"""The district's newest valid fix per collar, shared by concurrent requests.

`GET /positions/latest` is what every map polls. Without this, each request asked the
time-series store for the last reading of every series (~0.25 s for 2 000 collars on
InfluxDB) and 50 map clients queued 50 such queries behind each other. Here the store is
asked at most once per `max_age_s`, and only by one request at a time (single flight):
requests arriving while a refresh runs get the previous view (api/core/single_flight.py).

The view is the whole district, unscoped; routes apply the caller's scope to it on every
request (from the registry, in SQL), so one tenant's request never answers with a view
filtered for another. Registry facts (herd, okrug) are read per request too; each collar's
GeoJSON feature is serialised once per refresh, with the registry facts of that moment, and
reused by a request only while its own registry row still says the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic_core

from api.core.single_flight import SingleFlight
from jaylym.models import PositionReading, ms_to_datetime
from jaylym.store.base import TimeSeriesStore

HOUR_MS = 3_600_000
# Windows scanned for collars whose very latest reading is not a valid fix; older than a
# week is not "latest" for a herder.
LOOKBACKS_MS = (6 * HOUR_MS, 24 * HOUR_MS, 7 * 24 * HOUR_MS)


def newest_valid_fixes(
    store: TimeSeriesStore, wanted: Collection[str], now_ms: int
) -> dict[str, PositionReading]:
    """The newest valid fix per collar. `latest()` answers most collars in one query; only
    those whose latest reading is flagged (or not a fix) cost a window scan, widened step by
    step, so a district of a thousand collars does not read a week of fixes."""
    wanted = set(wanted)
    found: dict[str, PositionReading] = {}
    for device_id, latest in store.latest().items():
        reading = latest.reading
        if device_id in wanted and isinstance(reading, PositionReading) and reading.valid:
            found[device_id] = reading
    for lookback in LOOKBACKS_MS:
        missing = wanted - found.keys()
        if not missing:
            break
        for device_id, readings in store.positions(now_ms - lookback, now_ms + 1).items():
            if device_id in missing:
                valid = [r for r in readings if r.valid]
                if valid:
                    found[device_id] = valid[-1]
    cutoff = now_ms - LOOKBACKS_MS[-1]
    return {d: r for d, r in found.items() if r.ts_ms >= cutoff}


@dataclass(frozen=True, slots=True)
class Fix:
    """A fix as the answer shows it; the datetime is made once per refresh, not per request."""

    ts_ms: int
    time: datetime
    lon: float
    lat: float
    hdop: float | None
    sats: int | None
    bat: float | None

    @classmethod
    def of(cls, r: PositionReading) -> Fix:
        return cls(r.ts_ms, ms_to_datetime(r.ts_ms), r.lon, r.lat, r.hdop, r.sats, r.bat)


# A collar as the registry describes it: (device id, herd id, okrug id).
Collar = tuple[str, str | None, str]
_AGE = -987_654_321  # placeholder age, split out of a serialised feature


def feature(collar: Collar, fix: Fix, age_s: int) -> dict[str, Any]:
    """One collar's GeoJSON feature (the shape of api.schemas.telemetry.PositionFeature)."""
    device_id, herd_id, okrug_id = collar
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [fix.lon, fix.lat]},
        "properties": {
            "device_id": device_id,
            "herd_id": herd_id,
            "okrug_id": okrug_id,
            "time": fix.time,
            "age_s": age_s,
            "hdop": fix.hdop,
            "sats": fix.sats,
            "bat": fix.bat,
        },
        "id": device_id,
    }


@dataclass(frozen=True, slots=True)
class Piece:
    """A serialised feature, cut around its age (the one figure that changes per request)."""

    collar: Collar
    ts_ms: int
    head: bytes
    tail: bytes

    @classmethod
    def of(cls, collar: Collar, fix: Fix) -> Piece:
        head, tail = pydantic_core.to_json(feature(collar, fix, _AGE)).split(b"%d" % _AGE)
        return cls(collar, fix.ts_ms, head, tail)

    def render(self, now_ms: int) -> bytes:
        return b"%s%d%s" % (self.head, max(0, (now_ms - self.ts_ms) // 1000), self.tail)


@dataclass(frozen=True)
class LatestView:
    now_ms: int  # when it was computed
    fixes: dict[str, Fix]  # newest valid fix of each collar that has one (within a week)
    searched: frozenset[str]  # collars whose search is complete: absent from fixes = none
    pieces: dict[str, Piece]  # the features of `fixes` with the registry rows of `now_ms`

    def geojson(self, store: TimeSeriesStore, collars: list[Collar], now_ms: int) -> bytes:
        """The FeatureCollection of `collars` (already scoped by the caller), in their order.

        Hand-joined from pieces pydantic-core serialised: re-serialising 2 000 features per
        request cost more than everything else the request does."""
        fixes = self.for_collars(store, [c[0] for c in collars], now_ms)
        out = []
        for collar in collars:
            fix = fixes.get(collar[0])
            if fix is None:
                continue
            piece = self.pieces.get(collar[0])
            if piece is None or piece.collar != collar or piece.ts_ms != fix.ts_ms:
                piece = Piece.of(collar, fix)  # registered or moved since the refresh
            out.append(piece.render(now_ms))
        return b'{"type":"FeatureCollection","features":[%s]}' % b",".join(out)

    def for_collars(
        self, store: TimeSeriesStore, collars: Collection[str], now_ms: int
    ) -> dict[str, Fix]:
        """The fixes of `collars`; collars registered since the view was made are searched
        now (uncached: rare, and the next refresh covers them)."""
        cutoff = now_ms - LOOKBACKS_MS[-1]
        out = {c: f for c in collars if (f := self.fixes.get(c)) is not None and f.ts_ms >= cutoff}
        unseen = [c for c in collars if c not in self.searched]
        if unseen:
            out.update((d, Fix.of(r)) for d, r in newest_valid_fixes(store, unseen, now_ms).items())
        return out


class LatestFixes:
    """The shared `LatestView`, at most `max_age_s` old (plus one refresh while a refresh
    runs); `max_age_s=0` recomputes for every request."""

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._shared: SingleFlight[LatestView] = SingleFlight(max_age_s, clock)

    @property
    def refreshes(self) -> int:
        return self._shared.computations

    def current(self) -> LatestView | None:
        """The view if it is fresh, without refreshing it."""
        return self._shared.current()

    def get(
        self, store: TimeSeriesStore, all_collars: Callable[[], Collection[Collar]], now_ms: int
    ) -> LatestView:
        """The current view; `all_collars` lists every registered collar (unscoped) and is
        called only on a refresh. Store errors propagate to the refreshing caller."""
        return self._shared.get(lambda: self._compute(store, all_collars, now_ms))

    @staticmethod
    def _compute(
        store: TimeSeriesStore, all_collars: Callable[[], Collection[Collar]], now_ms: int
    ) -> LatestView:
        collars = {c[0]: c for c in all_collars()}
        found = newest_valid_fixes(store, collars, now_ms) if collars else {}
        fixes = {d: Fix.of(r) for d, r in found.items()}
        pieces = {d: Piece.of(collars[d], f) for d, f in fixes.items()}
        return LatestView(now_ms, fixes, frozenset(collars), pieces)

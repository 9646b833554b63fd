"""Collar tracks as the rules need them: valid fixes in time order, when each fix stops
holding (`max_gap`), and which pastures contain each fix.

Everything is held twice over: as flat arrays for the whole district (every collar's fixes
end to end, sorted by collar then time), on which the rules compute per-collar answers for
10 000 collars in a few numpy calls (`Tracks.run_starts`), and as one `Track` per collar
(views into those arrays, made on first use) for the few collars a rule looks at closely.

Containment is computed once per evaluation for every fix of every collar (`containment`).
A point on a pasture's boundary counts as inside, as in the grazing model (`intersects_xy`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from api.alerts.engine.config import FixConfig
from api.alerts.engine.inputs import Pasture, Snapshot
from jaylym.models import DeviceInfo, PositionReading

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def max_gap_ms(device: DeviceInfo, cfg: FixConfig) -> int:
    """How long a fix holds: 3 x the expected interval, never more than 2 h (the defaults)."""
    return int(min(cfg.max_gap_intervals * device.expected_interval_s, cfg.max_gap_cap_s) * 1000)


@dataclass(frozen=True)
class Track:
    """One collar's valid fixes, sorted and de-duplicated by time."""

    device: DeviceInfo
    ts: IntArray
    lon: FloatArray
    lat: FloatArray
    max_gap_ms: int
    # Containment pairs: fix index -> pasture index (into Tracks.pastures).
    pair_fix: IntArray
    pair_pasture: IntArray

    def __len__(self) -> int:
        return int(self.ts.size)

    def known_at(self, now_ms: int) -> bool:
        """Whether the last fix still holds at `now_ms`."""
        return bool(self.ts.size) and now_ms - int(self.ts[-1]) < self.max_gap_ms

    def inside(self, pasture_mask: BoolArray) -> BoolArray:
        """Per fix: inside at least one pasture selected by `pasture_mask`."""
        out = np.zeros(self.ts.size, dtype=bool)
        out[self.pair_fix[pasture_mask[self.pair_pasture]]] = True
        return out

    def run_start_ms(self, pred: BoolArray, now_ms: int) -> int | None:
        """Start of the run of fixes, ending with the latest one, for which `pred` holds with no
        gap longer than `max_gap` -- provided the latest fix still holds at `now_ms`.

        None when the position is unknown now or `pred` is false for the latest fix.
        """
        if not self.known_at(now_ms) or not pred[-1]:
            return None
        start = 0
        false_idx = np.flatnonzero(~pred)
        if false_idx.size:
            start = int(false_idx[-1]) + 1
        gap_idx = np.flatnonzero(np.diff(self.ts) > self.max_gap_ms)
        if gap_idx.size:
            start = max(start, int(gap_idx[-1]) + 1)
        return int(self.ts[start])


@dataclass(frozen=True)
class Tracks:
    """The district's tracks. Collar `i` owns fixes `offsets[i]:offsets[i + 1]` (never empty)
    of `ts`/`lon`/`lat`; containment pairs are (fix index, pasture index), sorted by fix."""

    pastures: Sequence[Pasture]
    pasture_okrug: npt.NDArray[np.str_]
    collars: Sequence[DeviceInfo] = ()
    offsets: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    ts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lon: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    lat: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    max_gap: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_fix: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_pasture: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @cached_property
    def dev(self) -> IntArray:
        """The collar index of each fix."""
        return np.repeat(np.arange(len(self.collars), dtype=np.int64), np.diff(self.offsets))

    @cached_property
    def last(self) -> IntArray:
        """The index of each collar's latest fix."""
        return self.offsets[1:] - 1

    def known(self, now_ms: int) -> BoolArray:
        """Per collar: does its latest fix still hold at `now_ms` (`Track.known_at`)?"""
        return now_ms - self.ts[self.last] < self.max_gap

    @cached_property
    def _gap_starts(self) -> IntArray:
        """Per fix: the first fix of the run without a gap longer than max_gap that it ends."""
        n = self.ts.size
        idx = np.arange(n, dtype=np.int64)
        start = np.zeros(n, dtype=np.int64)
        gap = np.zeros(n, dtype=bool)
        if n:
            gap[1:] = np.diff(self.ts) > self.max_gap[self.dev[1:]]
            gap[self.offsets[:-1]] = True  # a collar's first fix starts its first run
        start[gap] = idx[gap]
        return np.maximum.accumulate(start) if n else start

    def run_starts(self, pred: BoolArray, now_ms: int) -> IntArray:
        """Per collar, `Track.run_start_ms` for all at once: the index of the first fix of the
        run ending with the latest one in which `pred` holds throughout with no gap longer
        than max_gap; -1 when the latest fix no longer holds or `pred` is false for it."""
        n = self.ts.size
        out = np.full(len(self.collars), -1, dtype=np.int64)
        if not n:
            return out
        idx = np.arange(n, dtype=np.int64)
        # After a fix where pred is false, the run can start at the next one at the earliest.
        after_false = np.where(pred, 0, idx + 1)
        after_false = np.maximum.accumulate(after_false)
        start = np.maximum(after_false, self._gap_starts)[self.last]
        ok = self.known(now_ms) & pred[self.last]
        out[ok] = start[ok]
        return out

    def inside(self, pasture_mask: BoolArray) -> BoolArray:
        """Per fix: inside at least one pasture selected by `pasture_mask`."""
        out = np.zeros(self.ts.size, dtype=bool)
        out[self.pair_fix[pasture_mask[self.pair_pasture]]] = True
        return out

    def track(self, i: int) -> Track:
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        plo, phi = np.searchsorted(self.pair_fix, (lo, hi))
        return Track(
            device=self.collars[i],
            ts=self.ts[lo:hi],
            lon=self.lon[lo:hi],
            lat=self.lat[lo:hi],
            max_gap_ms=int(self.max_gap[i]),
            pair_fix=self.pair_fix[plo:phi] - lo,
            pair_pasture=self.pair_pasture[plo:phi],
        )

    @cached_property
    def by_device(self) -> dict[str, Track]:
        return {c.device_id: self.track(i) for i, c in enumerate(self.collars)}


def _arrays(
    collars: Sequence[DeviceInfo], fixes: Mapping[str, Sequence[PositionReading]], now_ms: int
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """(collar index, ts, lon, lat) of valid fixes up to now, sorted by collar then time,
    one per (collar, timestamp): the first received wins, as duplicates from re-sent
    messages would otherwise make zero-length gaps."""
    readings = [fixes[d.device_id] for d in collars]
    total = sum(len(r) for r in readings)

    def column(name: str, dtype: type) -> npt.NDArray[Any]:
        return np.fromiter(map(attrgetter(name), chain.from_iterable(readings)), dtype, total)

    ts, lon, lat = column("ts_ms", np.int64), column("lon", np.float64), column("lat", np.float64)
    valid = ~column("flags", np.bool_)  # an empty frozenset is falsy
    dev = np.repeat(np.arange(len(collars), dtype=np.int64), [len(r) for r in readings])
    keep = valid & (ts <= now_ms) & np.isfinite(lon) & np.isfinite(lat)
    dev, ts, lon, lat = dev[keep], ts[keep], lon[keep], lat[keep]
    order = np.lexsort((ts, dev))  # stable: the first received of equal times stays first
    dev, ts, lon, lat = dev[order], ts[order], lon[order], lat[order]
    first = np.ones(ts.size, dtype=bool)
    first[1:] = (dev[1:] != dev[:-1]) | (ts[1:] != ts[:-1])
    return dev[first], ts[first], lon[first], lat[first]


def containment(
    lon: FloatArray, lat: FloatArray, geoms: Sequence[shapely.Geometry]
) -> tuple[IntArray, IntArray]:
    """(point index, polygon index) of every point inside (or on the edge of) a polygon,
    sorted by point then polygon.

    A sweep over the points sorted by longitude and one `intersects_xy` per polygon on the
    points in its bounding box: no shapely Point is ever made. Making 120 000 of them for an
    STRtree query cost more than the whole query; here the exact test runs on raw
    coordinates against the prepared polygon, a few numpy calls per pasture.
    """
    if not len(geoms) or not lon.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    polys = np.asarray(geoms, dtype=object)
    shapely.prepare(polys)
    order = np.argsort(lon, kind="stable")
    slon, slat = lon[order], lat[order]
    box = shapely.bounds(polys)
    lo = np.searchsorted(slon, box[:, 0], side="left")
    hi = np.searchsorted(slon, box[:, 2], side="right")
    points: list[IntArray] = []
    owners: list[IntArray] = []
    for i in np.flatnonzero(hi > lo):
        a, b = int(lo[i]), int(hi[i])
        ys = slat[a:b]
        cand = np.flatnonzero((ys >= box[i, 1]) & (ys <= box[i, 3])) + a
        if cand.size:
            hit = order[cand[shapely.intersects_xy(polys[i], slon[cand], slat[cand])]]
            points.append(hit)
            owners.append(np.full(hit.size, i, dtype=np.int64))
    if not points:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pt, pa = np.concatenate(points).astype(np.int64), np.concatenate(owners)
    by_point = np.lexsort((pa, pt))
    return pt[by_point], pa[by_point]


def build_tracks(snapshot: Snapshot, cfg: FixConfig) -> Tracks:
    pastures = list(snapshot.pastures)
    okrugs = np.array([p.okrug for p in pastures], dtype=np.str_)
    fixes = snapshot.fixes or {}
    candidates = [d for d in snapshot.collars if fixes.get(d.device_id)]
    dev, ts, lon, lat = _arrays(candidates, fixes, snapshot.now_ms)
    counts_all = np.bincount(dev, minlength=len(candidates))
    collars = [d for d, n in zip(candidates, counts_all, strict=True) if n]
    counts = counts_all[counts_all > 0]
    pair_fix, pair_pasture = containment(lon, lat, [p.geometry for p in pastures])
    return Tracks(
        pastures=pastures,
        pasture_okrug=okrugs,
        collars=collars,
        offsets=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        ts=ts,
        lon=lon,
        lat=lat,
        max_gap=np.array([max_gap_ms(d, cfg) for d in collars], dtype=np.int64),
        pair_fix=pair_fix,
        pair_pasture=pair_pasture,
    )

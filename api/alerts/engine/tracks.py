"""Collar tracks as the rules need them: valid fixes in time order, when each fix stops
holding (`max_gap`), and which pastures contain each fix.

Containment is computed once per evaluation for every fix of every collar with one shapely 2
STRtree query (vectorised, no Python loop over polygons). A point on a pasture's boundary
counts as inside, as in the grazing model, hence the `intersects` predicate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    pastures: Sequence[Pasture]
    pasture_okrug: npt.NDArray[np.str_]
    by_device: dict[str, Track]


def _arrays(
    collars: Sequence[DeviceInfo], fixes: Mapping[str, Sequence[PositionReading]], now_ms: int
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """(collar index, ts, lon, lat) of valid fixes up to now, sorted by collar then time,
    one per (collar, timestamp): the first received wins, as duplicates from re-sent
    messages would otherwise make zero-length gaps."""
    readings = [fixes[d.device_id] for d in collars]
    total = sum(len(r) for r in readings)
    ts = np.fromiter((r.ts_ms for rs in readings for r in rs), dtype=np.int64, count=total)
    lon = np.fromiter((r.lon for rs in readings for r in rs), dtype=np.float64, count=total)
    lat = np.fromiter((r.lat for rs in readings for r in rs), dtype=np.float64, count=total)
    valid = np.fromiter((not r.flags for rs in readings for r in rs), dtype=bool, count=total)
    dev = np.repeat(np.arange(len(collars), dtype=np.int64), [len(r) for r in readings])
    keep = valid & (ts <= now_ms) & np.isfinite(lon) & np.isfinite(lat)
    dev, ts, lon, lat = dev[keep], ts[keep], lon[keep], lat[keep]
    order = np.lexsort((ts, dev))  # stable: the first received of equal times stays first
    dev, ts, lon, lat = dev[order], ts[order], lon[order], lat[order]
    first = np.ones(ts.size, dtype=bool)
    first[1:] = (dev[1:] != dev[:-1]) | (ts[1:] != ts[:-1])
    return dev[first], ts[first], lon[first], lat[first]


def build_tracks(snapshot: Snapshot, cfg: FixConfig) -> Tracks:
    pastures = list(snapshot.pastures)
    okrugs = np.array([p.okrug for p in pastures], dtype=np.str_)
    fixes = snapshot.fixes or {}
    candidates = [d for d in snapshot.collars if fixes.get(d.device_id)]
    dev, ts, lon, lat = _arrays(candidates, fixes, snapshot.now_ms)
    counts_all = np.bincount(dev, minlength=len(candidates))
    collars = [d for d, n in zip(candidates, counts_all, strict=True) if n]
    counts = counts_all[counts_all > 0]
    total = int(counts.sum())
    if pastures and total:
        tree = shapely.STRtree([p.geometry for p in pastures])
        pt_idx, pa_idx = tree.query(shapely.points(lon, lat), predicate="intersects")
        order = np.lexsort((pa_idx, pt_idx))
        pt_idx, pa_idx = pt_idx[order].astype(np.int64), pa_idx[order].astype(np.int64)
    else:
        pt_idx = pa_idx = np.zeros(0, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    # Pairs are sorted by point, so each collar's pairs are one contiguous slice.
    pair_bounds = np.searchsorted(pt_idx, offsets)
    by_device: dict[str, Track] = {}
    for i, device in enumerate(collars):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        plo, phi = int(pair_bounds[i]), int(pair_bounds[i + 1])
        by_device[device.device_id] = Track(
            device=device,
            ts=ts[lo:hi],
            lon=lon[lo:hi],
            lat=lat[lo:hi],
            max_gap_ms=max_gap_ms(device, cfg),
            pair_fix=pt_idx[plo:phi] - lo,
            pair_pasture=pa_idx[plo:phi],
        )
    return Tracks(pastures=pastures, pasture_okrug=okrugs, by_device=by_device)

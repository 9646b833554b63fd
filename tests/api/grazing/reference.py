"""A deliberately naive implementation of the issue's formulas, to check the fast model against.

It shares nothing with api/grazing/ but the inputs: it walks every elementary interval
between consecutive event times, asks shapely about each fix and pasture one by one, and sums
LU_p(t) × duration. Slow and obviously right, for small scenarios.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from shapely.geometry import Point

from api.grazing import Herd, Pasture
from jaylym.models import PositionReading

MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Hold:
    start: int
    end: int
    point: Point


def holds(readings: Sequence[PositionReading], max_gap_ms: int) -> list[Hold]:
    valid = sorted(
        (r for r in readings if not r.flags), key=lambda r: (r.ts_ms, r.seq, r.lat, r.lon)
    )
    out = []
    for i, r in enumerate(valid):
        end = r.ts_ms + max_gap_ms
        if i + 1 < len(valid):
            end = min(end, valid[i + 1].ts_ms)
        if end > r.ts_ms:
            out.append(Hold(r.ts_ms, end, Point(r.lon, r.lat)))
    return out


def position_at(collar_holds: list[Hold], t: int) -> Point | None:
    for hold in collar_holds:
        if hold.start <= t < hold.end:
            return hold.point
    return None


def lu_at(
    pasture: Pasture,
    herds: Sequence[Herd],
    herd_lu: Mapping[str, float],
    all_holds: Mapping[str, list[Hold]],
    t: int,
) -> float:
    """LU_p(t), straight from the definition."""
    total = 0.0
    for herd in herds:
        known = inside = 0
        for collar in herd.collar_ids:
            point = position_at(all_holds.get(collar, []), t)
            if point is None:
                continue
            known += 1
            if pasture.geometry.covers(point):  # boundary counts as inside
                inside += 1
        if known:
            total += herd_lu[herd.herd_id] * inside / known
    return total


def reference_lu_days(
    pastures: Sequence[Pasture],
    herds: Sequence[Herd],
    herd_lu: Mapping[str, float],
    fixes: Mapping[str, Sequence[PositionReading]],
    max_gap_ms: Mapping[str, int],
    start: int,
    end: int,
) -> dict[str, float]:
    """∫_{start}^{end} LU_p(t) dt in LU-days, for each pasture."""
    all_holds = {c: holds(rs, max_gap_ms[c]) for c, rs in fixes.items() if c in max_gap_ms}
    cuts = {start, end}
    for collar_holds in all_holds.values():
        for hold in collar_holds:
            cuts.update(t for t in (hold.start, hold.end) if start < t < end)
    times = sorted(cuts)
    out = {}
    for pasture in pastures:
        total = 0.0
        for a, b in pairwise(times):
            total += lu_at(pasture, herds, herd_lu, all_holds, a) * (b - a)
        out[pasture.pasture_id] = total / MS_PER_DAY
    return out


def reference_lu_now(
    pastures: Sequence[Pasture],
    herds: Sequence[Herd],
    herd_lu: Mapping[str, float],
    fixes: Mapping[str, Sequence[PositionReading]],
    max_gap_ms: Mapping[str, int],
    at: int,
) -> dict[str, float]:
    all_holds = {c: holds(rs, max_gap_ms[c]) for c, rs in fixes.items() if c in max_gap_ms}
    return {p.pasture_id: lu_at(p, herds, herd_lu, all_holds, at) for p in pastures}

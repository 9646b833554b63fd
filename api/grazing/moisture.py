"""The moisture factor: how much of a pasture's normal forage the soil water supports now.

For pasture p: the stations inside p (boundary included), or else the nearest station within
the radius (geodesic), each give the mean VWC of their valid readings over the look-back
window, all depths together. Each station's relative water is (VWC − wp)/(fc − wp) with its own
wilting point and field capacity; the pasture's factor is the mean over its stations, clamped
to [moisture_min, moisture_max]. No station with readings in the window: factor 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely

from api.grazing.config import GrazingConfig
from api.grazing.geodesy import degree_box, geodesic_distances_m
from api.grazing.inputs import SoilStation
from jaylym.models import SoilReading

MoistureSource = Literal["inside", "nearest", "none"]
_MS_PER_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class MoistureFactor:
    """The factor of one pasture, with what it was computed from (for audit)."""

    factor: float
    source: MoistureSource
    stations: tuple[str, ...] = ()
    vwc_pct: float | None = None  # mean of the stations' mean VWC
    relative_water: float | None = None  # before clamping
    distance_m: float | None = None  # to the nearest station, when that was used


NO_STATION = MoistureFactor(1.0, "none")


@dataclass(frozen=True, slots=True)
class _StationWater:
    station: SoilStation
    vwc_pct: float
    relative: float


def _station_water(
    stations: Sequence[SoilStation],
    soil: Mapping[str, Sequence[SoilReading]],
    now_ms: int,
    config: GrazingConfig,
) -> list[_StationWater]:
    since = now_ms - round(config.moisture_window_days * _MS_PER_DAY)
    out = []
    for station in stations:
        values = [
            r.vwc
            for r in soil.get(station.device_id, ())
            if not r.flags and since <= r.ts_ms < now_ms and math.isfinite(r.vwc)
        ]
        if not values:
            continue  # a silent station is no evidence: treat it as absent
        wp, fc = station.limits(config.wilting_point_pct, config.field_capacity_pct)
        vwc = math.fsum(values) / len(values)
        out.append(_StationWater(station, vwc, (vwc - wp) / (fc - wp)))
    return out


def _factor(
    waters: list[_StationWater], source: MoistureSource, config: GrazingConfig, dist: float | None
) -> MoistureFactor:
    relative = math.fsum(w.relative for w in waters) / len(waters)
    clamped = min(max(relative, config.moisture_min), config.moisture_max)
    return MoistureFactor(
        factor=clamped,
        source=source,
        stations=tuple(sorted(w.station.device_id for w in waters)),
        vwc_pct=math.fsum(w.vwc_pct for w in waters) / len(waters),
        relative_water=relative,
        distance_m=dist,
    )


def moisture_factors(
    geometries: np.ndarray[Any, Any],
    tree: shapely.STRtree,
    stations: Sequence[SoilStation],
    soil: Mapping[str, Sequence[SoilReading]],
    now_ms: int,
    config: GrazingConfig,
) -> list[MoistureFactor]:
    """One factor per pasture (same order as `geometries`, which `tree` indexes)."""
    n = len(geometries)
    waters = _station_water(stations, soil, now_ms, config)
    if not waters:
        return [NO_STATION] * n

    points = shapely.points([w.station.lon for w in waters], [w.station.lat for w in waters])
    st_idx, p_idx = tree.query(points, predicate="covered_by")
    inside: dict[int, list[_StationWater]] = {}
    for s, p in zip(st_idx.tolist(), p_idx.tolist(), strict=True):
        inside.setdefault(p, []).append(waters[s])

    nearest: dict[int, tuple[float, str, int]] = {}  # pasture -> (distance, station id, index)
    radius = config.moisture_station_radius_m
    for s, water in enumerate(waters):
        box = degree_box(water.station.lon, water.station.lat, radius)
        candidates = np.array(
            [p for p in tree.query(box).tolist() if p not in inside], dtype=np.int64
        )
        if candidates.size == 0:
            continue
        dists = geodesic_distances_m(water.station.lon, water.station.lat, geometries[candidates])
        for p, d in zip(candidates.tolist(), dists.tolist(), strict=True):
            best = nearest.get(p)
            key = (d, water.station.device_id, s)
            if d <= radius and (best is None or key < best):
                nearest[p] = key

    factors = []
    for p in range(n):
        if p in inside:
            factors.append(_factor(inside[p], "inside", config, None))
        elif p in nearest:
            dist, _sid, s = nearest[p]
            factors.append(_factor([waters[s]], "nearest", config, dist))
        else:
            factors.append(NO_STATION)
    return factors

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
) -> dict[int, _StationWater]:
    """Mean VWC and relative water of each station with valid readings in the window."""
    since = now_ms - round(config.moisture_window_days * _MS_PER_DAY)
    out = {}
    for s, station in enumerate(stations):
        values = [
            r.vwc
            for r in soil.get(station.device_id, ())
            if not r.flags and since <= r.ts_ms < now_ms and math.isfinite(r.vwc)
        ]
        if not values:
            continue  # a silent station is no evidence: treat it as absent
        wp, fc = station.limits(config.wilting_point_pct, config.field_capacity_pct)
        vwc = math.fsum(values) / len(values)
        out[s] = _StationWater(station, vwc, (vwc - wp) / (fc - wp))
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


@dataclass(frozen=True, slots=True)
class StationIndex:
    """Which stations serve which pasture: static geometry, worked out once per model.

    `inside[p]` lists the stations that pasture p covers; `nearby[p]` the others within the
    radius, nearest first, as (distance m, station id, station index).
    """

    stations: tuple[SoilStation, ...]
    inside: dict[int, list[int]]
    nearby: dict[int, list[tuple[float, str, int]]]

    @classmethod
    def build(
        cls,
        geometries: np.ndarray[Any, Any],
        tree: shapely.STRtree,
        stations: Sequence[SoilStation],
        radius_m: float,
    ) -> StationIndex:
        inside: dict[int, list[int]] = {}
        nearby: dict[int, list[tuple[float, str, int]]] = {}
        if not stations or len(geometries) == 0:
            return cls(tuple(stations), inside, nearby)
        points = shapely.points([st.lon for st in stations], [st.lat for st in stations])
        st_idx, p_idx = tree.query(points, predicate="covered_by")
        covering: set[tuple[int, int]] = set()
        for s, p in zip(st_idx.tolist(), p_idx.tolist(), strict=True):
            inside.setdefault(p, []).append(s)
            covering.add((s, p))
        for s, station in enumerate(stations):
            box = degree_box(station.lon, station.lat, radius_m)
            candidates = np.array(
                [p for p in tree.query(box).tolist() if (s, p) not in covering], dtype=np.int64
            )
            if candidates.size == 0:
                continue
            dists = geodesic_distances_m(station.lon, station.lat, geometries[candidates])
            for p, d in zip(candidates.tolist(), dists.tolist(), strict=True):
                if d <= radius_m:
                    nearby.setdefault(p, []).append((d, station.device_id, s))
        for near in nearby.values():
            near.sort()
        return cls(tuple(stations), inside, nearby)

    def factors(
        self,
        n_pastures: int,
        soil: Mapping[str, Sequence[SoilReading]],
        now_ms: int,
        config: GrazingConfig,
    ) -> list[MoistureFactor]:
        """One factor per pasture at `now_ms`, from the soil readings before it."""
        water = _station_water(self.stations, soil, now_ms, config)
        if not water:
            return [NO_STATION] * n_pastures
        factors = []
        for p in range(n_pastures):
            mine = [water[s] for s in self.inside.get(p, ()) if s in water]
            if mine:
                factors.append(_factor(mine, "inside", config, None))
                continue
            nearest = next(((d, s) for d, _sid, s in self.nearby.get(p, ()) if s in water), None)
            if nearest is None:
                factors.append(NO_STATION)
            else:
                factors.append(_factor([water[nearest[1]]], "nearest", config, nearest[0]))
        return factors

"""The grazing pressure model of issue 6, evaluated exactly and in bulk.

Build a `GrazingModel` once from the registry's pastures, herds and soil stations (it indexes
the pastures in an STRtree and prepares them), then evaluate it for any window:

    model = GrazingModel(pastures, herds, stations, config)
    result = model.evaluate(fixes, start_ms, end_ms)          # GP over [start, end)
    result = model.evaluate_season(fixes, now_ms)             # U_p from each season's start

Integration is exact: LU_p(t) is piecewise constant between fix events, and the integral is
assembled from per-fix weights (see occupancy.py), with one vectorised point-in-polygon test
per fix rather than any sampling in time or any loop over polygons.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely

from api.grazing.config import GrazingConfig
from api.grazing.fixes import HoldIntervals, hold_intervals, lookback_ms
from api.grazing.inputs import GrazingInputError, Herd, Pasture, SoilStation
from api.grazing.moisture import MoistureFactor, StationIndex
from api.grazing.occupancy import HerdClocks, collar_weights
from api.grazing.results import GrazingResult, HerdInPasture, PastureGrazing
from api.grazing.seasons import season_start_ms
from jaylym.models import PositionReading, SoilReading

Array = np.ndarray[Any, Any]
MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000


class GrazingModel:
    """Pastures, herds and stations, indexed once; evaluated for any window."""

    def __init__(
        self,
        pastures: Sequence[Pasture],
        herds: Sequence[Herd],
        stations: Sequence[SoilStation] = (),
        config: GrazingConfig | None = None,
    ) -> None:
        self.config = config or GrazingConfig()
        self.pastures = tuple(pastures)
        self.herds = tuple(herds)
        self.stations = tuple(stations)
        _require_unique("pasture", [p.pasture_id for p in self.pastures])
        _require_unique("herd", [h.herd_id for h in self.herds])
        _require_unique("station", [s.device_id for s in self.stations])
        for station in self.stations:  # fail now, not in the middle of an evaluation
            station.limits(self.config.wilting_point_pct, self.config.field_capacity_pct)

        self._geoms: Array = np.array([p.geometry for p in self.pastures], dtype=object)
        shapely.prepare(self._geoms)  # the vectorised covers() below then runs prepared
        self._tree = shapely.STRtree(self._geoms)
        self._stations = StationIndex.build(
            self._geoms, self._tree, self.stations, self.config.moisture_station_radius_m
        )
        self._area_ha = np.array([p.area_ha for p in self.pastures], dtype=np.float64)
        self._herd_lu = np.array(
            [h.livestock_units(self.config.lu_coefficients) for h in self.herds],
            dtype=np.float64,
        )
        self._collar_index: dict[str, int] = {}
        collar_herd: list[int] = []
        for h, herd in enumerate(self.herds):
            for collar in herd.collar_ids:
                if collar in self._collar_index:
                    raise GrazingInputError(f"collar {collar!r} is in two herds")
                self._collar_index[collar] = len(collar_herd)
                collar_herd.append(h)
        self._collar_herd = np.array(collar_herd, dtype=np.int64)
        self._collar_ids = list(self._collar_index)

    @property
    def lookback_ms(self) -> int:
        """Fetch fixes from this long before a window's start: the last may hold into it."""
        return lookback_ms(self.config.max_gap_cap_s)

    def herd_lu(self, herd_id: str) -> float:
        """LU(h) of one herd under this model's coefficients."""
        for h, herd in enumerate(self.herds):
            if herd.herd_id == herd_id:
                return float(self._herd_lu[h])
        raise KeyError(herd_id)

    def evaluate(
        self,
        fixes: Mapping[str, Sequence[PositionReading]],
        start_ms: int,
        end_ms: int,
        *,
        at_ms: int | None = None,
        soil: Mapping[str, Sequence[SoilReading]] | None = None,
        expected_interval_s: Mapping[str, float] | None = None,
    ) -> GrazingResult:
        """Every pasture over [start_ms, end_ms); its current state at `at_ms` (default: the
        window's last millisecond). `utilisation` is then the window's share of the season's
        capacity. Moisture uses the soil readings of the look-back window before `end_ms`."""
        if start_ms >= end_ms:
            raise ValueError("the window's end must come after its start")
        starts = np.full(len(self.pastures), start_ms, dtype=np.int64)
        return self._evaluate(fixes, starts, end_ms, at_ms, soil, expected_interval_s)

    def evaluate_season(
        self,
        fixes: Mapping[str, Sequence[PositionReading]],
        now_ms: int,
        *,
        soil: Mapping[str, Sequence[SoilReading]] | None = None,
        expected_interval_s: Mapping[str, float] | None = None,
    ) -> GrazingResult:
        """Every pasture from the start of its own season to `now_ms`: utilisation is U_p."""
        return self.evaluate_from(
            fixes,
            self.season_starts_ms(now_ms),
            now_ms,
            soil=soil,
            expected_interval_s=expected_interval_s,
        )

    def evaluate_from(
        self,
        fixes: Mapping[str, Sequence[PositionReading]],
        starts_ms: Mapping[str, int],
        end_ms: int,
        *,
        at_ms: int | None = None,
        soil: Mapping[str, Sequence[SoilReading]] | None = None,
        expected_interval_s: Mapping[str, float] | None = None,
    ) -> GrazingResult:
        """Each pasture over its own window [starts_ms[id], end_ms), in one pass.

        A window may be empty (start == end); every pasture needs a start.
        """
        missing = [p.pasture_id for p in self.pastures if p.pasture_id not in starts_ms]
        if missing:
            raise ValueError(f"no window start for pasture {missing[0]!r}")
        starts = np.array([starts_ms[p.pasture_id] for p in self.pastures], dtype=np.int64)
        return self._evaluate(fixes, starts, end_ms, at_ms, soil, expected_interval_s)

    def season_starts_ms(self, now_ms: int) -> dict[str, int]:
        """Each pasture's season start for `now_ms` (what the caller fetches fixes from)."""
        return {p.pasture_id: season_start_ms(p.season, now_ms, self.config) for p in self.pastures}

    def moisture(
        self, soil: Mapping[str, Sequence[SoilReading]], now_ms: int
    ) -> list[MoistureFactor]:
        """The moisture factor of every pasture at `now_ms`, in pasture order."""
        return self._stations.factors(len(self.pastures), soil, now_ms, self.config)

    def _max_gaps(self, expected_interval_s: Mapping[str, float] | None) -> Array:
        """Per collar: min(max_gap_intervals × expected interval, cap), in ms (as config's
        `max_gap_ms`, vectorised: this runs once per evaluation over every collar)."""
        intervals = expected_interval_s or {}
        cfg = self.config
        seconds = np.fromiter(
            (intervals.get(c, cfg.default_expected_interval_s) for c in self._collar_ids),
            dtype=np.float64,
            count=len(self._collar_ids),
        )
        if not np.all(np.isfinite(seconds) & (seconds > 0)):
            raise ValueError("expected intervals must be positive numbers of seconds")
        gap_s = np.minimum(cfg.max_gap_intervals * seconds, float(cfg.max_gap_cap_s))
        gap_ms: Array = np.rint(gap_s * 1000).astype(np.int64)
        return gap_ms

    def _evaluate(
        self,
        fixes: Mapping[str, Sequence[PositionReading]],
        starts: Array,
        end_ms: int,
        at_ms: int | None,
        soil: Mapping[str, Sequence[SoilReading]] | None,
        expected_interval_s: Mapping[str, float] | None,
    ) -> GrazingResult:
        if starts.size and int(starts.max()) > end_ms:
            raise ValueError("a window's end must not come before its start")
        at = end_ms - 1 if at_ms is None else at_ms
        n_p, n_h = len(self.pastures), len(self.herds)
        lo = min(int(starts.min()) if starts.size else end_ms, at)
        hi = max(end_ms, at + 1)
        with _gc_paused():
            iv, counts = hold_intervals(
                fixes,
                self._collar_index,
                self._collar_herd,
                self._max_gaps(expected_interval_s),
                lo,
                hi,
            )
            fix, past = self._inside_pairs(iv)
        clocks = HerdClocks.build(iv, lo, hi, n_h)
        herd = iv.herd[fix]

        # ∫ frac dt per (fix, pasture) pair, each pasture clipped to its own window.
        w_ms = collar_weights(
            clocks,
            herd,
            np.maximum(iv.start_ms[fix], starts[past]),
            np.minimum(iv.end_ms[fix], end_ms),
        )
        lu_ms = w_ms * self._herd_lu[herd]

        # frac at the instant `at`: each active collar stands for 1/known of its herd.
        active = (iv.start_ms <= at) & (at < iv.end_ms)
        known_now = np.bincount(iv.herd[active], minlength=n_h).astype(np.float64)
        pair_active = active[fix]
        frac_now = np.zeros(fix.size)
        frac_now[pair_active] = 1.0 / known_now[herd[pair_active]]
        lu_now = frac_now * self._herd_lu[herd]

        lu_days = np.bincount(past, lu_ms, minlength=n_p) / MS_PER_DAY
        current_lu = np.bincount(past, lu_now, minlength=n_p)
        per_herd = self._per_herd(past, herd, w_ms, lu_ms, frac_now, lu_now)
        moisture = self.moisture(soil or {}, end_ms)
        pastures = tuple(
            self._pasture_result(
                p,
                int(starts[p]),
                end_ms,
                at,
                float(lu_days[p]),
                float(current_lu[p]),
                moisture[p],
                per_herd.get(p, []),
            )
            for p in range(n_p)
        )
        return GrazingResult(pastures, counts)

    def _inside_pairs(self, iv: HoldIntervals) -> tuple[Array, Array]:
        """(fix, pasture) index pairs where the pasture covers the fix (boundary counts).

        The STRtree narrows candidates by bounding box; the exact test then runs vectorised
        on the prepared pastures, so cost grows with fixes, not fixes × pastures.
        """
        if iv.lon.size == 0 or len(self.pastures) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        points = shapely.points(iv.lon, iv.lat)
        fix, past = self._tree.query(points)
        hit = shapely.covers(self._geoms[past], points[fix])
        return fix[hit].astype(np.int64), past[hit].astype(np.int64)

    def _per_herd(
        self, past: Array, herd: Array, w_ms: Array, lu_ms: Array, frac_now: Array, lu_now: Array
    ) -> dict[int, list[HerdInPasture]]:
        seen = (w_ms > 0) | (frac_now > 0)
        if not seen.any():
            return {}
        n_h = len(self.herds)
        keys, inverse = np.unique(past[seen] * n_h + herd[seen], return_inverse=True)
        sums = [
            np.bincount(inverse, values[seen], minlength=keys.size)
            for values in (w_ms, lu_ms, frac_now, lu_now)
        ]
        out: dict[int, list[HerdInPasture]] = {}
        for k, key in enumerate(keys.tolist()):
            p, h = divmod(key, n_h)
            out.setdefault(p, []).append(
                HerdInPasture(
                    herd_id=self.herds[h].herd_id,
                    fraction_now=float(sums[2][k]),
                    lu_now=float(sums[3][k]),
                    hours=float(sums[0][k]) / MS_PER_HOUR,
                    lu_days=float(sums[1][k]) / MS_PER_DAY,
                )
            )
        return out

    def _pasture_result(
        self,
        p: int,
        start_ms: int,
        end_ms: int,
        at_ms: int,
        lu_days: float,
        current_lu: float,
        moisture: MoistureFactor,
        herds: list[HerdInPasture],
    ) -> PastureGrazing:
        pasture = self.pastures[p]
        area = pasture.area_ha
        gp = lu_days / area
        capacity = self.capacity(pasture, moisture.factor)
        return PastureGrazing(
            pasture_id=pasture.pasture_id,
            okrug=pasture.okrug,
            start_ms=start_ms,
            end_ms=end_ms,
            at_ms=at_ms,
            area_ha=area,
            lu_days=lu_days,
            lu_days_per_ha=gp,
            capacity_lu_days_per_ha=capacity,
            utilisation=None if capacity is None else gp / capacity,
            moisture=moisture,
            current_lu=current_lu,
            current_density_lu_per_ha=current_lu / area,
            herds_present=tuple(h.herd_id for h in herds if h.fraction_now > 0),
            herds=tuple(herds),
        )

    def capacity(self, pasture: Pasture, moisture_factor: float) -> float | None:
        """C_p = productivity · utilisation / intake · moisture factor, LU-days per hectare."""
        if pasture.productivity_kg_dm_ha is None:
            return None
        cfg = self.config
        return (
            pasture.productivity_kg_dm_ha
            * cfg.utilisation
            / cfg.intake_kg_dm_per_lu_day
            * moisture_factor
        )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector over an allocation burst that makes no cycles.

    One shapely point per fix (GC-tracked objects, 10^5 of them) otherwise sets off full
    collections that walk the caller's whole heap: measured, every other evaluation took twice
    as long. Everything allocated here is freed by reference counting. Only the caller that
    turned the collector off turns it back on, so concurrent evaluations never leave it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _require_unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise GrazingInputError(f"{what} {ident!r} is given twice")
        seen.add(ident)

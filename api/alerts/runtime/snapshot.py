"""The engine's `SnapshotSource`: registry + time-series store + grazing model, per evaluation.

Season utilisation without a season of fixes per minute: a `SeasonLedger` is *committed*
through `now − settle` (the longest a fix can hold, 2 h), and each evaluation adds the recent
window [committed, now) on a throw-away copy. GP is additive over adjacent windows, so this
equals one evaluation over the whole season; fixes stored more than `settle` late (a collar
replaying its flash queue) make it count again from before them (`SeasonTotals`, from the
store's `last_seen`). A restarted process rebuilds the ledger with one fetch from the season
start.

After each evaluation the pasture's numbers go to the store as `pasture_state` points; the
last hour of them is also the density series the overstocked rule needs, so its "for 30
min" survives a restart.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence

import structlog
from sqlalchemy.orm import Session

from api.alerts.engine import inputs as engine_inputs
from api.alerts.runtime.registry_view import RegistryView, load_view
from api.alerts.runtime.season import SeasonTotals
from api.grazing import (
    GrazingConfig,
    GrazingModel,
    pasture_herd_points,
    pasture_state_points,
)
from api.grazing.results import GrazingResult
from jaylym.models import PositionReading, SoilReading
from jaylym.store.base import Point, StoreError, TimeSeriesStore

log = structlog.get_logger("jaylym.alerts.snapshot")

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
FIX_WINDOW_MS = 12 * MS_PER_HOUR  # the immobile window (10 h) plus the 2 h max_gap cap
BATTERY_WINDOW_MS = 7 * MS_PER_DAY
DENSITY_WINDOW_MS = MS_PER_HOUR
MOISTURE_DAYS = 10  # daily factors: the drought rule needs 7 days


class FixCache:
    """The positions of the last fetch window, refreshed by fetching only its recent end.

    Reading 12 h of fixes of a whole fleet every evaluation dominated its cost (2000 collars:
    3 of 4 s on SQLite). Each evaluation now fetches [now − overlap, now) and merges it (a
    reading stored again for the same device and time replaces the old one, as in the store);
    a full fetch happens at the first call, when the window moves back or jumps further than
    the overlap, and every `full_every_ms`, so a reading stored late with a timestamp older
    than the overlap (a collar emptying its flash queue) reaches the engine within that time.
    """

    def __init__(self, overlap_ms: int = 30 * 60_000, full_every_ms: int = 10 * 60_000) -> None:
        self.overlap_ms = overlap_ms
        self.full_every_ms = full_every_ms
        self._by_device: dict[str, dict[int, PositionReading]] = {}
        self._start: int | None = None
        self._end = 0
        self._full_at = 0

    def fetch(
        self, store: TimeSeriesStore, start_ms: int, end_ms: int
    ) -> dict[str, list[PositionReading]]:
        full = (
            self._start is None
            or start_ms < self._start
            or end_ms < self._end
            or end_ms - self._end > self.overlap_ms
            or end_ms - self._full_at >= self.full_every_ms
        )
        if full:
            fetched = store.positions(start_ms, end_ms)  # raises StoreError: cache unchanged
            self._by_device = {d: {r.ts_ms: r for r in rs} for d, rs in fetched.items()}
            self._full_at = end_ms
        else:
            recent = store.positions(max(start_ms, self._end - self.overlap_ms), end_ms)
            for device, rows in recent.items():
                self._by_device.setdefault(device, {}).update((r.ts_ms, r) for r in rows)
        self._start, self._end = start_ms, end_ms
        out: dict[str, list[PositionReading]] = {}
        for device, by_ts in list(self._by_device.items()):
            if full:
                kept = by_ts
            else:
                kept = (
                    {t: r for t, r in by_ts.items() if t >= start_ms}
                    if min(by_ts) < start_ms
                    else by_ts
                )
                self._by_device[device] = kept
            if kept:
                out[device] = [kept[t] for t in sorted(kept)]
        return out


class RegistrySnapshotSource:
    """Callable `now_ms -> Snapshot` for `run_loop`. Not thread-safe: one loop calls it."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        store: TimeSeriesStore,
        grazing: GrazingConfig,
        *,
        timezone: str = "Asia/Almaty",
        name_language: str = "kk",
        write_state: bool = True,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.grazing = grazing
        self.timezone = timezone
        self.name_language = name_language
        self.write_state = write_state
        self.view: RegistryView | None = None  # the latest, for the sink's names
        self.totals = SeasonTotals(grazing)
        self._battery: dict[str, dict[int, float]] = {}
        self._battery_loaded = False
        self._battery_lists: dict[str, list[engine_inputs.Sample]] = {}
        self._battery_dirty: set[str] = set()
        self._battery_trimmed_ms = 0
        self._fix_cache = FixCache()
        self._lock = threading.Lock()

    def load_view(self) -> RegistryView:
        with self.sessions() as session:
            return load_view(
                session,
                self.grazing.lu_coefficients,
                timezone=self.timezone,
                name_language=self.name_language,
            )

    def __call__(self, now_ms: int) -> engine_inputs.Snapshot:
        view = self.load_view()
        with self._lock:
            self.view = view
        snapshot = engine_inputs.Snapshot(
            now_ms=now_ms,
            pastures=view.pastures,
            herds=view.herds,
            devices=view.devices,
            plan=view.plan,
        )
        fixes = soil = last_seen = None
        try:
            last_seen = self.store.last_seen()
        except StoreError as exc:
            log.warning("snapshot.last_seen_unavailable", error=str(exc))
        try:
            fixes = self._fixes(view, now_ms, last_seen)
        except StoreError as exc:
            log.warning("snapshot.fixes_unavailable", error=str(exc))
        try:
            soil = self.store.soil_readings(now_ms - self._soil_window_ms(), now_ms + 1)
        except StoreError as exc:
            log.warning("snapshot.soil_unavailable", error=str(exc))
        grazing = None
        if fixes is not None and soil is not None:
            try:
                grazing = self._grazing(view, fixes, soil, now_ms)
            except StoreError as exc:
                log.warning("snapshot.grazing_unavailable", error=str(exc))
        battery = None
        if fixes is not None and soil is not None:
            try:
                battery = self._battery_series(fixes, soil, now_ms)
            except StoreError as exc:
                log.warning("snapshot.battery_unavailable", error=str(exc))
        recent = None
        if fixes is not None:
            recent = {
                d: [f for f in fs if f.ts_ms >= now_ms - FIX_WINDOW_MS] for d, fs in fixes.items()
            }
        return engine_inputs.Snapshot(
            now_ms=now_ms,
            pastures=snapshot.pastures,
            herds=snapshot.herds,
            devices=snapshot.devices,
            plan=snapshot.plan,
            fixes=recent,
            grazing=grazing,
            last_seen_ms=last_seen,
            battery=battery,
        )

    # -- grazing -------------------------------------------------------------------------

    def _soil_window_ms(self) -> int:
        return round(self.grazing.moisture_window_days * MS_PER_DAY) + MOISTURE_DAYS * MS_PER_DAY

    def _fixes(
        self, view: RegistryView, now_ms: int, last_seen: Mapping[str, int] | None
    ) -> dict[str, list[PositionReading]]:
        # `last_seen` lets the season totals count again what a collar's replay filled in.
        start = min(now_ms - FIX_WINDOW_MS, self.totals.fetch_from_ms(view, now_ms, last_seen))
        return self._fix_cache.fetch(self.store, start, now_ms + 1)

    def _grazing(
        self,
        view: RegistryView,
        fixes: Mapping[str, Sequence[PositionReading]],
        soil: Mapping[str, Sequence[SoilReading]],
        now_ms: int,
    ) -> dict[str, engine_inputs.PastureGrazing]:
        season = self.totals.season(view, fixes, now_ms, soil=soil)
        density = self._density_series(now_ms)
        moisture = self._moisture_series(self.totals.model(view), soil, now_ms)
        if self.write_state:
            self._write_state(season, now_ms)
        out: dict[str, engine_inputs.PastureGrazing] = {}
        for p in season.pastures:
            series = [
                *density.get(p.pasture_id, ()),
                engine_inputs.Sample(now_ms, p.current_density_lu_per_ha),
            ]
            out[p.pasture_id] = engine_inputs.PastureGrazing(
                pasture_id=p.pasture_id,
                utilisation=math.nan if p.utilisation is None else p.utilisation,
                current_density_lu_per_ha=p.current_density_lu_per_ha,
                moisture_factor=p.moisture_factor,
                herds_present=p.herds_present,
                herd_time_s={h.herd_id: h.hours * 3600 for h in p.herds},
                density_series=series,
                moisture_series=moisture.get(p.pasture_id, ()),
            )
        return out

    def _density_series(self, now_ms: int) -> dict[str, list[engine_inputs.Sample]]:
        out: dict[str, list[engine_inputs.Sample]] = {}
        for point in self.store.query_points("pasture_state", now_ms - DENSITY_WINDOW_MS, now_ms):
            value = point.fields.get("density")
            pasture = point.tags.get("pasture")
            if isinstance(value, float) and pasture:
                out.setdefault(pasture, []).append(engine_inputs.Sample(point.ts_ms, value))
        return out

    @staticmethod
    def _moisture_series(
        model: GrazingModel, soil: Mapping[str, Sequence[SoilReading]], now_ms: int
    ) -> dict[str, list[engine_inputs.Sample]]:
        """The factor at now and at each of the previous days, recomputed from stored soil
        readings (so a restart sees the same week)."""
        out: dict[str, list[engine_inputs.Sample]] = {p.pasture_id: [] for p in model.pastures}
        for days_ago in range(MOISTURE_DAYS - 1, -1, -1):
            at = now_ms - days_ago * MS_PER_DAY
            for pasture, factor in zip(model.pastures, model.moisture(soil, at), strict=True):
                out[pasture.pasture_id].append(engine_inputs.Sample(at, factor.factor))
        return out

    def _write_state(self, result: GrazingResult, now_ms: int) -> None:
        # `pasture_herd` feeds the dashboards' per-herd LU and time-per-pasture panels.
        measured = [
            *pasture_state_points(result, ts_ms=now_ms),
            *pasture_herd_points(result, ts_ms=now_ms),
        ]
        points = [
            Point(mp.measurement, mp.tags, mp.fields, mp.ts_ms) for mp in measured if mp.fields
        ]
        try:
            self.store.write_points(points)
        except StoreError as exc:  # Grafana misses a point; the alerts still run
            log.warning("pasture_state.write_failed", error=str(exc), points=len(points))

    # -- battery -------------------------------------------------------------------------

    def _battery_series(
        self,
        fixes: Mapping[str, Sequence[PositionReading]],
        soil: Mapping[str, Sequence[SoilReading]],
        now_ms: int,
    ) -> dict[str, list[engine_inputs.Sample]]:
        """Each device's battery samples of about the last week (the rule cuts its exact
        window). Only the series of devices with a new sample are rebuilt, and old samples
        are dropped once an hour: a week of a fleet is over a million samples."""
        if not self._battery_loaded:  # a week once, then what each cycle's fetch brings
            self._add_battery(self.store.positions(now_ms - BATTERY_WINDOW_MS, now_ms + 1))
            self._battery_loaded = True
        self._add_battery(fixes)
        self._add_battery(soil)
        if now_ms - self._battery_trimmed_ms >= MS_PER_HOUR:
            cutoff = now_ms - BATTERY_WINDOW_MS
            for device, samples in self._battery.items():
                self._battery[device] = {ts: v for ts, v in samples.items() if ts >= cutoff}
            self._battery_dirty = set(self._battery)
            self._battery_trimmed_ms = now_ms
        for device in self._battery_dirty:
            samples = self._battery[device]
            self._battery_lists[device] = [
                engine_inputs.Sample(ts, samples[ts]) for ts in sorted(samples)
            ]
        self._battery_dirty = set()
        return {d: s for d, s in self._battery_lists.items() if s}

    def _add_battery(
        self,
        readings: Mapping[str, Sequence[PositionReading]] | Mapping[str, Sequence[SoilReading]],
    ) -> None:
        for device, rows in readings.items():
            samples = self._battery.setdefault(device, {})
            for r in rows:
                if r.bat is not None and math.isfinite(r.bat) and samples.get(r.ts_ms) != r.bat:
                    samples[r.ts_ms] = r.bat
                    self._battery_dirty.add(device)

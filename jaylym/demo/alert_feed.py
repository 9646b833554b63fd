"""What the demo's alert engine evaluates: a `Snapshot` built from the registry, the
time-series store and the grazing model, at the demo's simulated time.

The demo needs it before `jaylym serve` runs the engine itself (the integration issue); when
that lands, the demo should take the API's snapshot source instead of this one. It reads
everything fresh at each evaluation (the demo's okrug is small), except the density and
moisture series that the sustained rules need, which it keeps from its own earlier
evaluations (bounded).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jaylym.models import PositionReading
from jaylym.store.base import TimeSeriesStore

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
FIX_WINDOW_MS = 12 * HOUR_MS  # the longest rule window on fixes (immobile: 10 h) and then some
BATTERY_WINDOW_MS = 7 * DAY_MS  # low_battery's trend window
SERIES_KEEP = 2000  # density and moisture samples kept per pasture


def _local_midnight_ms(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp() * 1000)


class SnapshotSource:
    """`source(now_ms) -> Snapshot`, as `api.alerts.engine.run_loop` calls it."""

    def __init__(
        self,
        registry: Engine,
        store: TimeSeriesStore,
        lu_coefficients: Mapping[str, float],
        timezone: str = "Asia/Almaty",
    ) -> None:
        self.registry = registry
        self.store = store
        self.lu = dict(lu_coefficients)
        self.zone = ZoneInfo(timezone)
        self._density: dict[str, deque[Any]] = defaultdict(lambda: deque(maxlen=SERIES_KEEP))
        self._moisture: dict[str, deque[Any]] = defaultdict(lambda: deque(maxlen=SERIES_KEEP))
        self.last_grazing: dict[str, Any] = {}  # pasture id -> api.grazing PastureGrazing

    def __call__(self, now_ms: int) -> Any:
        from api.alerts.engine import Snapshot

        registry = self._registry()
        fixes = self.store.positions(now_ms - FIX_WINDOW_MS, now_ms + 1)
        grazing = self._grazing(registry, now_ms)
        return Snapshot(
            now_ms=now_ms,
            pastures=registry["pastures"],
            herds=registry["herds"],
            devices=registry["devices"],
            plan=registry["plan"],
            fixes=fixes,
            grazing=grazing,
            last_seen_ms={d: ts for d, ts in self.store.last_seen().items() if ts <= now_ms},
            battery=self._battery(fixes, now_ms),
        )

    # -- registry -------------------------------------------------------------------------

    def _registry(self) -> dict[str, Any]:
        from shapely.geometry import shape

        from api.alerts.engine import Herd, Pasture, PastureStatus, PlanEntry
        from jaylym.registry import models as m
        from jaylym.registry.directory import device_info

        with Session(self.registry) as s:
            pastures = list(s.scalars(select(m.Pasture).order_by(m.Pasture.id)))
            herds = list(s.scalars(select(m.Herd).order_by(m.Herd.id)))
            devices = list(s.scalars(select(m.Device).order_by(m.Device.id)))
            plan = list(s.scalars(select(m.GrazingPlanEntry).order_by(m.GrazingPlanEntry.id)))
            herds_of_okrug: dict[str, list[str]] = defaultdict(list)
            for h in herds:
                herds_of_okrug[h.okrug_id].append(h.id)
            okrug_of_pasture = {p.id: p.okrug_id for p in pastures}
            entries = []
            for e in plan:
                # A plan entry without a herd is for every herd of the okrug.
                for herd_id in (
                    [e.herd_id]
                    if e.herd_id
                    else herds_of_okrug[okrug_of_pasture.get(e.pasture_id, "")]
                ):
                    entries.append(
                        PlanEntry(
                            herd_id=herd_id,
                            pasture_id=e.pasture_id,
                            start_ms=_local_midnight_ms(e.start_date, self.zone),
                            end_ms=_local_midnight_ms(e.end_date + timedelta(days=1), self.zone),
                        )
                    )
            return {
                "pastures": [
                    Pasture(
                        id=p.id,
                        okrug=p.okrug_id,
                        name=p.name,
                        geometry=shape(p.geometry),
                        status=PastureStatus(p.status),
                        load_limit_lu_per_ha=p.max_lu_per_ha,
                    )
                    for p in pastures
                ],
                "herds": [
                    Herd(
                        id=h.id,
                        okrug=h.okrug_id,
                        name=h.name,
                        herder_ids=(str(h.herder_id),) if h.herder_id is not None else (),
                    )
                    for h in herds
                ],
                "devices": [device_info(d) for d in devices],
                "plan": entries,
                "rows": (pastures, herds, devices),
            }

    # -- grazing model --------------------------------------------------------------------

    def _grazing(self, registry: dict[str, Any], now_ms: int) -> dict[str, Any]:
        from shapely.geometry import shape

        from api.alerts.engine import PastureGrazing, Sample
        from api.grazing import GrazingConfig, GrazingModel, SoilStation
        from api.grazing import Herd as GHerd
        from api.grazing import Pasture as GPasture

        pastures, herds, devices = registry["rows"]
        collars: dict[str, list[str]] = defaultdict(list)
        for d in devices:
            if d.kind == "collar" and d.herd_id and d.active:
                collars[d.herd_id].append(d.id)
        model = GrazingModel(
            [
                GPasture(
                    p.id, p.okrug_id, shape(p.geometry), p.area_ha, p.forage_kg_dm_ha, p.season
                )
                for p in pastures
            ],
            [
                GHerd(
                    h.id,
                    {s: getattr(h, s) for s in ("cattle", "horse", "sheep", "goat", "camel")},
                    tuple(collars[h.id]),
                    h.okrug_id,
                )
                for h in herds
            ],
            [
                SoilStation(d.id, d.lon, d.lat)
                for d in devices
                if d.kind == "soil" and d.lat is not None and d.lon is not None
            ],
            GrazingConfig(lu_coefficients=self.lu),
        )
        starts = model.season_starts_ms(now_ms)
        since = min(starts.values(), default=now_ms) - model.lookback_ms
        fixes = self.store.positions(since, now_ms + 1)
        soil = self.store.soil_readings(
            now_ms - round(model.config.moisture_window_days * DAY_MS), now_ms + 1
        )
        expected = {d.id: float(d.expected_interval_s) for d in devices}
        result = model.evaluate_from(
            fixes, starts, now_ms + 1, soil=soil, expected_interval_s=expected
        )
        out = {}
        for g in result.pastures:
            self.last_grazing[g.pasture_id] = g
            self._density[g.pasture_id].append(Sample(now_ms, g.current_density_lu_per_ha))
            self._moisture[g.pasture_id].append(Sample(now_ms, g.moisture_factor))
            if g.utilisation is None:
                continue
            out[g.pasture_id] = PastureGrazing(
                pasture_id=g.pasture_id,
                utilisation=g.utilisation,
                current_density_lu_per_ha=g.current_density_lu_per_ha,
                moisture_factor=g.moisture_factor,
                herds_present=g.herds_present,
                herd_time_s={h.herd_id: h.hours * 3600 for h in g.herds},
                density_series=tuple(self._density[g.pasture_id]),
                moisture_series=tuple(self._moisture[g.pasture_id]),
            )
        return out

    # -- batteries ------------------------------------------------------------------------

    def _battery(
        self, fixes: Mapping[str, Sequence[PositionReading]], now_ms: int
    ) -> dict[str, list[Any]]:
        from api.alerts.engine import Sample

        series: dict[str, list[Any]] = defaultdict(list)
        for device_id, readings in fixes.items():
            series[device_id] = [Sample(r.ts_ms, r.bat) for r in readings if r.bat is not None]
        soil = self.store.soil_readings(now_ms - BATTERY_WINDOW_MS, now_ms + 1)
        for device_id, soil_readings in soil.items():
            seen: set[int] = set()
            for r in soil_readings:  # one message is several depths: one battery sample
                if r.bat is not None and r.ts_ms not in seen:
                    seen.add(r.ts_ms)
                    series[device_id].append(Sample(r.ts_ms, r.bat))
        return dict(series)

"""A realistic week of two okrugs in a real InfluxDB, written the way production writes it.

- Collars and soil stations produce `PositionReading`s and `SoilReading`s (15-minute fixes
  walking the herds' pastures, some flagged: HDOP > 10, a zero fix; a seq gap; draining
  batteries; soil drying between rain events), written by `jaylym.store`'s InfluxDB store.
- The grazing engine (`api.grazing.SeasonLedger`, as its evaluation loop runs it) reads the
  fixes and soil back from the store every 15 minutes and its `pasture_state` and
  `pasture_herd` points go back through the store's generic point write.
- The ingest's `device_stats` and `dlq` increments (docs/storage-dashboards.md) are written
  as generic points too.

Times end at "now", so the dashboards' relative ranges see data. The firmware simulator
(`jaylym simulate`) stamps readings with the real clock and reaches the store only through
the broker and the ingest, so it cannot lay down a past week in a second; this scripted week
goes through the same store and engine code instead.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from shapely import box

from api.grazing import (
    GrazingConfig,
    GrazingModel,
    GrazingResult,
    Herd,
    MeasurementPoint,
    Pasture,
    SeasonLedger,
    SoilStation,
    pasture_herd_points,
    pasture_state_points,
)
from jaylym.models import PositionReading, SoilReading, ms_to_datetime
from jaylym.settings import InfluxConfig
from jaylym.store.base import Point
from jaylym.store.influx import InfluxStore

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
FIX_MS = 15 * MIN
DAYS = 8
DEPTHS = (10, 30, 60)
UTC_OFFSET_H = 5  # Asia/Almaty

# (okrug, pasture id, centre lat, centre lon, productivity kg DM/ha per season)
PASTURES = (
    ("sogety", "sogety-p1", 43.452, 78.612, 1400.0),
    ("sogety", "sogety-p2", 43.480, 78.655, 1600.0),
    ("sogety", "sogety-p3", 43.452, 78.652, 1100.0),
    ("akshi", "akshi-p1", 43.380, 77.905, 1300.0),
)
HALF_LAT, HALF_LON = 0.012, 0.016  # a pasture is about 2.7 km x 2.6 km
# herd id -> (okrug, composition, collars, home pasture index)
HERDS = {
    "sogety-h1": ("sogety", {"cattle": 80, "sheep": 200}, ("c-101", "c-102", "c-103"), 0),
    "sogety-h2": ("sogety", {"cattle": 25, "horse": 20, "sheep": 100}, ("c-201", "c-202"), 1),
    "akshi-h1": ("akshi", {"cattle": 40, "goat": 150, "sheep": 100}, ("c-301", "c-302"), 3),
}
AFTERNOON = ("sogety-h1", 2, 13, 17)  # this herd grazes pasture p3 13:00-17:00 local
SPARE_COLLAR = ("c-900", "sogety")  # registered, not yet on an animal: no herd tag
# station id -> (okrug, pasture index it stands in)
STATIONS = {"soil-s1": ("sogety", 0), "soil-s2": ("sogety", 1), "soil-a1": ("akshi", 3)}

GAP_DEVICE = "c-101"
GAP_SEQS = 10  # consecutive readings lost before the broker, about ten hours ago
DLQ_REASONS = ("malformed_json", "unknown_device", "out_of_range")


@dataclass
class Seeded:
    """What was written, for tests that check a panel's numbers against the truth."""

    now_ms: int
    readings: int = 0
    points: int = 0
    valid_fixes: dict[str, list[PositionReading]] = field(default_factory=dict)
    results: dict[int, GrazingResult] = field(default_factory=dict)  # evaluation time -> result

    @property
    def start_ms(self) -> int:
        return self.now_ms - DAYS * DAY


@dataclass
class SeededInflux:
    """The seeded database on a real InfluxDB, queried as Grafana's datasource does."""

    url: str
    db: str
    seeded: Seeded

    def query(self, text: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/query",
            params={"db": self.db, "epoch": "ms"},
            data={"q": text},
            timeout=30,
        )
        assert response.status_code == 200, f"{response.status_code} {response.text}\n{text}"
        result: dict[str, Any] = response.json()["results"][0]
        assert "error" not in result, f"InfluxDB: {result['error']}\nquery: {text}"
        return result


def _local_hour(ts: int) -> int:
    return ((ts // HOUR) + UTC_OFFSET_H) % 24


def pastures() -> list[Pasture]:
    """The seeded pastures as the grazing engine sees them (geometry, geodesic area)."""
    return [
        Pasture.from_geometry(
            pid,
            okrug,
            box(lon - HALF_LON, lat - HALF_LAT, lon + HALF_LON, lat + HALF_LAT),
            productivity_kg_dm_ha=prod,
        )
        for okrug, pid, lat, lon, prod in PASTURES
    ]


def _collars(rng: random.Random, start: int, now: int) -> list[PositionReading]:
    readings: list[PositionReading] = []
    collars = [
        (device, okrug, herd, home)
        for herd, (okrug, _comp, devices, home) in HERDS.items()
        for device in devices
    ]
    collars.append((SPARE_COLLAR[0], SPARE_COLLAR[1], None, 0))
    gap_start = (now - start) // FIX_MS - 40
    for index, (device, okrug, herd, home) in enumerate(collars):
        lat, lon = PASTURES[home][2], PASTURES[home][3]
        drain = 0.09 if device == "c-201" else 0.02  # c-201's battery drains fast
        for seq, ts in enumerate(range(start + index * 7_000, now, FIX_MS), start=1):
            target = home
            if herd == AFTERNOON[0] and AFTERNOON[2] <= _local_hour(ts) < AFTERNOON[3]:
                target = AFTERNOON[1]
            # Graze around the target pasture's centre by day, rest by night; when driven to
            # another pasture, walk there at about 3 km/h.
            t_lat, t_lon = PASTURES[target][2], PASTURES[target][3]
            pull = 0.4 if abs(t_lon - lon) + abs(t_lat - lat) > 0.01 else 0.05
            step = 0.0005 if 6 <= _local_hour(ts) <= 20 else 0.00005
            lat += (t_lat - lat) * pull + rng.gauss(0, step)
            lon += (t_lon - lon) * pull + rng.gauss(0, step)
            if device == GAP_DEVICE and gap_start <= seq < gap_start + GAP_SEQS:
                continue  # lost before the broker: never stored
            flags: frozenset[str] = frozenset()
            fix_lat, fix_lon, hdop = lat, lon, round(rng.uniform(0.7, 2.5), 2)
            if seq % 97 == 0:
                hdop, flags = 12.5, frozenset({"hdop"})
            if device == "c-102" and seq == 300:
                fix_lat, fix_lon, flags = 0.0, 0.0, frozenset({"zero_fix"})
            readings.append(
                PositionReading(
                    device_id=device,
                    ts_ms=ts,
                    seq=seq,
                    lat=fix_lat,
                    lon=fix_lon,
                    okrug=okrug,
                    herd_id=herd,
                    hdop=hdop,
                    sats=rng.randint(5, 12),
                    alt=round(1200 + rng.uniform(-20, 20), 1),
                    bat=round(4.1 - drain * (ts - start) / DAY + rng.uniform(-0.01, 0.01), 3),
                    flags=flags,
                )
            )
    return readings


def _soil(rng: random.Random, start: int, now: int) -> list[SoilReading]:
    readings: list[SoilReading] = []
    rain_days = {2, 6}
    for device, (okrug, _pasture) in STATIONS.items():
        wet = {depth: 24.0 + depth / 20 for depth in DEPTHS}
        # Hourly, the last sample 10 minutes ago (not on the edge of a one-hour window).
        for seq, ts in enumerate(range(start + 50 * MIN, now, HOUR), start=1):
            day = (ts - start) // DAY
            for depth in DEPTHS:
                wet[depth] -= 0.03 * (70 - depth) / 60
                if day in rain_days and _local_hour(ts) == 19:
                    wet[depth] += 6.0 * (70 - depth) / 60
                wet[depth] = max(9.0, min(40.0, wet[depth]))
                readings.append(
                    SoilReading(
                        device_id=device,
                        ts_ms=ts,
                        seq=seq,
                        depth_cm=depth,
                        vwc=round(wet[depth] + rng.uniform(-0.2, 0.2), 2),
                        okrug=okrug,
                        tsoil=round(
                            12 + 6 * math.sin(ts / DAY * 2 * math.pi) / (1 + depth / 20), 2
                        ),
                        bat=round(3.9 - 0.01 * day, 3),
                    )
                )
    return readings


def grazing_config(start_ms: int) -> GrazingConfig:
    """The season starts the day before the data, so no season restarts inside the week."""
    season_day = ms_to_datetime(start_ms - DAY)
    return GrazingConfig(
        season_starts={**GrazingConfig().season_starts, "year_round": f"{season_day:%m-%d}"}
    )


def station_lon_lat(device: str) -> tuple[float, float]:
    """Where a soil station stands: just south-east of its pasture's centre."""
    _okrug, p = STATIONS[device]
    return PASTURES[p][3] + 0.002, PASTURES[p][2] - 0.002


def _store_point(point: MeasurementPoint) -> Point:
    return Point(point.measurement, dict(point.tags), dict(point.fields), point.ts_ms)


def _by_device(readings: Sequence[PositionReading]) -> dict[str, list[PositionReading]]:
    grouped: dict[str, list[PositionReading]] = {}
    for reading in readings:
        grouped.setdefault(reading.device_id, []).append(reading)
    return grouped


def _grazing(store: InfluxStore, seeded: Seeded, start: int, now: int) -> list[Point]:
    """The engine's loop: a season ledger advanced every 15 minutes on what the store holds."""
    config = grazing_config(start)
    pastures_ = pastures()
    herds = [Herd(h, comp, collars, okrug) for h, (okrug, comp, collars, _) in HERDS.items()]
    stations = [SoilStation(device, *station_lon_lat(device)) for device in STATIONS]
    ledger = SeasonLedger(GrazingModel(pastures_, herds, stations, config))
    fixes = {d: list(r) for d, r in store.positions(start - DAY, now + 1).items()}
    soil = store.soil_readings(start - DAY, now + 1)
    times = {d: [r.ts_ms for r in rs] for d, rs in fixes.items()}
    points: list[Point] = []
    first_tick = start - start % FIX_MS + FIX_MS
    for tick in range(first_tick, now + 1, FIX_MS):
        since = ledger.fetch_from_ms(tick)
        window = {
            d: rs[bisect.bisect_left(times[d], since) : bisect.bisect_left(times[d], tick)]
            for d, rs in fixes.items()
        }
        result = ledger.advance(window, tick, soil=soil)
        seeded.results[tick] = result
        points += [_store_point(p) for p in pasture_state_points(result, tick)]
        points += [_store_point(p) for p in pasture_herd_points(result, tick)]
    return points


def _ingest_counters(rng: random.Random, start: int, now: int) -> list[Point]:
    points: list[Point] = []
    devices = [(d, okrug, "collar") for okrug, _c, ds, _h in HERDS.values() for d in ds]
    devices += [(SPARE_COLLAR[0], SPARE_COLLAR[1], "collar")]
    devices += [(d, okrug, "soil") for d, (okrug, _p) in STATIONS.items()]
    for ts in range(start, now, FIX_MS):
        for device, okrug, kind in devices:
            missing = 1.0 if rng.random() < 0.01 else 0.0
            fields = {
                "received": 1.0 - missing,
                "missing": missing,
                "duplicates": 1.0 if rng.random() < 0.02 else 0.0,
            }
            tags = {"device": device, "okrug": okrug, "kind": kind, "instance": "ingest-1"}
            points.append(Point("device_stats", tags, fields, ts))
        if (ts // FIX_MS) % 4 == 0:
            for reason in DLQ_REASONS:
                count = float(rng.choice((0, 0, 1, 2, 5)))
                points.append(
                    Point("dlq", {"reason": reason, "instance": "ingest-1"}, {"count": count}, ts)
                )
    return points


def seed(influx_url: str, database: str, *, now_ms: int, rng_seed: int = 7) -> Seeded:
    """Create `database` and fill it; return what the checks need to know."""
    seeded = Seeded(now_ms=now_ms - now_ms % MIN)
    rng = random.Random(rng_seed)
    now = seeded.now_ms
    start = now - DAYS * DAY
    store = InfluxStore(InfluxConfig(url=influx_url, database=database, gzip=False))
    try:
        store.create_database()
        positions = _collars(rng, start, now)
        soil = _soil(rng, start, now)
        for chunk in range(0, len(positions), 5000):
            store.write(positions[chunk : chunk + 5000])
        for chunk in range(0, len(soil), 5000):
            store.write(soil[chunk : chunk + 5000])
        seeded.readings = len(positions) + len(soil)
        seeded.valid_fixes = {
            d: [r for r in rs if r.valid] for d, rs in _by_device(positions).items()
        }
        points = _grazing(store, seeded, start, now) + _ingest_counters(rng, start, now)
        for chunk in range(0, len(points), 5000):
            store.write_points(points[chunk : chunk + 5000])
        seeded.points = len(points)
    finally:
        store.close()
    return seeded

"""The demo's simulated okrug, modelled on Sogety (Enbekshi-Kazakh district, Almaty region).

Six pastures with seasonal use and a grazing plan, four herds of mixed species wearing 20
collars, and five soil stations. The geometry is illustrative (plausible shapes and sizes in
the Sogety valley, not surveyed boundaries), laid out so that the scripted events are
unambiguous: the village commons has no soil station within the 5 km the moisture factor looks
(its capacity does not move with the weather), and the resting hay meadow is next to it.

The script (simulated time from the demo's start, one collar fix every 10 simulated minutes):
- `aigul-cattle` and `serik-sheep` graze the small village commons, which two earlier days of
  the same use (seeded history) left just under the overgrazing warning: it crosses it;
- `serik-sheep` then walks into the resting hay meadow (off plan);
- collar `c-dn-04` leaves Dana's horses and every pasture of the okrug (stray);
- station `s-kuzeu-01` has a failing solar charger and its battery runs low.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

OKRUG = {
    "id": "sogety",
    "name_kk": "Сөгеті ауылдық округі",
    "name_ru": "Согетинский сельский округ",
    "name_en": "Sogety rural okrug",
}

FIX_INTERVAL_S = 600  # every collar, whatever it does: one track row per fix
SOIL_INTERVAL_S = 1800
# Where the scripted collars turn, in fixes from the start.
OFF_PLAN_FROM_FIX = 6  # serik-sheep starts for the hay meadow after an hour
OFF_PLAN_WALK_FIXES = 4
STRAY_FROM_FIX = 3  # c-dn-04 leaves its herd after half an hour
STRAY_WALK_FIXES = 4
STRAY_COLLAR = "c-dn-04"
LOW_BATTERY_STATION = "s-kuzeu-01"
# The commons' season utilisation when the demo starts: 0.8 is the warning.
OVERGRAZED_PASTURE = "auyl-many"
UTILISATION_AT_START = 0.76


@dataclass(frozen=True)
class PastureSpec:
    id: str
    name: str
    season: str
    status: str
    forage_kg_dm_ha: float
    max_lu_per_ha: float
    rest_days: int
    ring: list[tuple[float, float]]  # (lon, lat), closed


def _box(
    lat: float, lon: float, dlat: float, dlon: float, notch: float = 0.0
) -> list[tuple[float, float]]:
    """A quadrilateral with one corner pulled in, so shapes are not all rectangles."""
    return [
        (lon, lat),
        (lon + dlon, lat + notch),
        (lon + dlon, lat + dlat),
        (lon + notch, lat + dlat),
        (lon, lat),
    ]


PASTURES: list[PastureSpec] = [
    # The commons next to the village: small, grazed all year, the one that gets overgrazed.
    PastureSpec(
        "auyl-many", "Ауыл маңы", "year_round", "open", 600.0, 0.6, 30,
        _box(43.5430, 78.3450, 0.0040, 0.0055, 0.0004),
    ),
    # A hay meadow resting this year, right beside the commons: any herd inside is off plan.
    PastureSpec(
        "shabyndyk", "Шабындық", "summer", "resting", 2600.0, 0.3, 365,
        _box(43.5425, 78.3530, 0.0060, 0.0080, 0.0006),
    ),
    PastureSpec(
        "kokteu", "Көктеу", "spring", "open", 1400.0, 0.5, 45,
        _box(43.6000, 78.3000, 0.0300, 0.0400, 0.0040),
    ),
    PastureSpec(
        "bogety-zhailau", "Бөгеті жайлауы", "summer", "open", 2200.0, 0.4, 60,
        _box(43.6600, 78.4000, 0.0600, 0.0800, 0.0100),
    ),
    PastureSpec(
        "kuzeu", "Күзеу", "autumn", "open", 1200.0, 0.5, 45,
        _box(43.4600, 78.4200, 0.0300, 0.0450, 0.0050),
    ),
    PastureSpec(
        "kystau", "Қыстау", "winter", "open", 900.0, 0.4, 60,
        _box(43.4900, 78.2200, 0.0350, 0.0500, 0.0060),
    ),
]  # fmt: skip


@dataclass(frozen=True)
class HerderSpec:
    key: str
    name: str
    phone: str
    language: str


@dataclass(frozen=True)
class HerdSpec:
    id: str
    name: str
    herder: str  # HerderSpec.key
    composition: dict[str, int]
    collars: list[str]
    home: str  # pasture where the herd starts
    plan: list[str] = field(default_factory=list)  # pastures the plan gives it now


HERDERS = [
    HerderSpec("serik", "Серік Әбдірахманов", "+77011234501", "kk"),
    HerderSpec("aigul", "Айгүл Төлеуова", "+77011234502", "kk"),
    HerderSpec("viktor", "Виктор Ким", "+77011234503", "ru"),
    HerderSpec("dana", "Dana Nurlanovna", "+77011234504", "en"),
]

HERDS = [
    HerdSpec(
        "serik-sheep", "Серіктің отары", "serik", {"sheep": 420, "goat": 60, "horse": 6},
        [f"c-sr-{i:02d}" for i in range(1, 7)], home="auyl-many", plan=["auyl-many", "kuzeu"],
    ),
    HerdSpec(
        "aigul-cattle", "Айгүлдің табыны", "aigul", {"cattle": 85, "horse": 12},
        [f"c-ai-{i:02d}" for i in range(1, 6)], home="auyl-many", plan=["auyl-many"],
    ),
    HerdSpec(
        "kim-mixed", "Стадо Кима", "viktor", {"cattle": 40, "sheep": 150, "goat": 30},
        [f"c-km-{i:02d}" for i in range(1, 6)], home="kuzeu", plan=["kuzeu"],
    ),
    HerdSpec(
        "dana-horses", "Dana's horses", "dana", {"horse": 55, "camel": 4},
        [f"c-dn-{i:02d}" for i in range(1, 5)], home="kystau", plan=["kystau"],
    ),
]  # fmt: skip

# (station id, pasture it stands in). None stands within 5 km of the commons.
STATIONS = [
    ("s-kokteu-01", "kokteu"),
    ("s-zhailau-01", "bogety-zhailau"),
    ("s-zhailau-02", "bogety-zhailau"),
    ("s-kuzeu-01", "kuzeu"),
    ("s-kystau-01", "kystau"),
]

PASTURE_BY_ID = {p.id: p for p in PASTURES}
HERD_BY_ID = {h.id: h for h in HERDS}
HERDER_BY_KEY = {h.key: h for h in HERDERS}


def pasture_feature_collection() -> dict[str, Any]:
    """The pastures as the registry imports them (`POST /api/v1/pastures/import`,
    `jaylym pasture import`): a FeatureCollection with the pasture fields as properties."""
    features = []
    for p in PASTURES:
        features.append(
            {
                "type": "Feature",
                "id": p.id,
                "geometry": {"type": "Polygon", "coordinates": [[list(pt) for pt in p.ring]]},
                "properties": {
                    "id": p.id,
                    "okrug_id": OKRUG["id"],
                    "name": p.name,
                    "season": p.season,
                    "status": p.status,
                    "forage_kg_dm_ha": p.forage_kg_dm_ha,
                    "max_lu_per_ha": p.max_lu_per_ha,
                    "rest_days": p.rest_days,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def plan_entries(today: date) -> list[dict[str, Any]]:
    """This season's plan: each herd on its planned pastures around `today`."""
    from datetime import timedelta

    start, end = today - timedelta(days=60), today + timedelta(days=60)
    return [
        {
            "pasture_id": pasture,
            "herd_id": herd.id,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "note": "demo plan",
        }
        for herd in HERDS
        for pasture in herd.plan
    ]


def centroid(pasture_id: str) -> tuple[float, float]:
    """(lat, lon) of a pasture's centre (of its shape, not its bounding box)."""
    from shapely.geometry import Polygon

    c = Polygon(PASTURE_BY_ID[pasture_id].ring).centroid
    return (c.y, c.x)


def station_position(station_id: str) -> tuple[float, float]:
    pasture = dict(STATIONS)[station_id]
    lat, lon = centroid(pasture)
    # Two stations in one pasture stand apart.
    offset = 0.004 * sum(1 for s, p in STATIONS if p == pasture and s < station_id)
    return (lat + offset, lon + offset)


# -- tracks -------------------------------------------------------------------------------

_M_PER_DEG_LAT = 111_320.0


def _inset(pasture_id: str, metres: float) -> Any:
    from shapely.geometry import Polygon

    return Polygon(PASTURE_BY_ID[pasture_id].ring).buffer(-metres / _M_PER_DEG_LAT)


def _spread_m(pasture_id: str) -> float:
    """How far collars stray from the herd's centre: a herd packs tighter on a 20 ha commons
    than on a 1 000 ha winter pasture."""
    return 15.0 if pasture_id in (OVERGRAZED_PASTURE, "shabyndyk") else 50.0


def _wander(
    rng: random.Random, pasture_id: str, start: tuple[float, float], rows: int, step_m: float
) -> list[tuple[float, float]]:
    """A herd's centre grazing across a pasture: steps of about `step_m`, turning back at the
    fence (the centre stays inside by five spreads so the herd's collars stay in)."""
    from shapely.geometry import Point

    area = _inset(pasture_id, 5 * _spread_m(pasture_id))
    lat, lon = start
    heading = rng.uniform(0, 2 * math.pi)
    out = []
    for _ in range(rows):
        for _attempt in range(12):
            dist = step_m * rng.uniform(0.3, 1.0)
            nlat = lat + dist * math.sin(heading) / _M_PER_DEG_LAT
            nlon = lon + dist * math.cos(heading) / (_M_PER_DEG_LAT * math.cos(math.radians(lat)))
            if area.contains(Point(nlon, nlat)):
                lat, lon = nlat, nlon
                break
            heading += rng.uniform(1.0, 2.5)
        heading += rng.uniform(-0.6, 0.6)
        out.append((lat, lon))
    return out


def _walk(
    start: tuple[float, float], end: tuple[float, float], rows: int
) -> list[tuple[float, float]]:
    return [
        (start[0] + (end[0] - start[0]) * i / rows, start[1] + (end[1] - start[1]) * i / rows)
        for i in range(1, rows + 1)
    ]


def _centre_path(herd: HerdSpec, rows: int, rng: random.Random) -> list[tuple[float, float]]:
    start = centroid(herd.home)
    if herd.id != "serik-sheep":
        return _wander(rng, herd.home, start, rows, 90.0)
    before = _wander(rng, herd.home, start, OFF_PLAN_FROM_FIX, 60.0)
    meadow = centroid("shabyndyk")
    walk = _walk(before[-1], meadow, OFF_PLAN_WALK_FIXES)
    after = _wander(rng, "shabyndyk", meadow, max(0, rows - len(before) - len(walk)), 70.0)
    return (before + walk + after)[:rows]


def _stray_point() -> tuple[float, float]:
    """Two kilometres south of the winter pasture: outside every pasture of the okrug."""
    lat, lon = centroid("kystau")
    return (lat - 0.036, lon)


def collar_tracks(rows: int, seed: int = 2026) -> dict[str, list[tuple[float, float]]]:
    """(lat, lon) for every collar, one row per fix. Collars spread around their herd's
    centre (about 80 m, drifting); the scripted ones leave as the module docstring says."""
    tracks: dict[str, list[tuple[float, float]]] = {}
    for h_index, herd in enumerate(HERDS):
        rng = random.Random(seed * 31 + h_index)  # noqa: S311 - seeded tracks
        centre = _centre_path(herd, rows, rng)
        for collar in herd.collars:
            crng = random.Random(f"{seed}:{collar}")  # noqa: S311
            spread = _spread_m(herd.home)
            north, east = crng.gauss(0, spread), crng.gauss(0, spread)
            rows_out = []
            for lat, lon in centre:
                north = 0.8 * north + crng.gauss(0, spread / 2)
                east = 0.8 * east + crng.gauss(0, spread / 2)
                rows_out.append(
                    (
                        lat + north / _M_PER_DEG_LAT,
                        lon + east / (_M_PER_DEG_LAT * math.cos(math.radians(lat))),
                    )
                )
            tracks[collar] = rows_out
    stray = tracks[STRAY_COLLAR]
    away = _stray_point()
    walk = _walk(stray[STRAY_FROM_FIX - 1], away, STRAY_WALK_FIXES)
    rng = random.Random(seed)  # noqa: S311
    rest = [
        (away[0] + rng.gauss(0, 0.0004), away[1] + rng.gauss(0, 0.0005))
        for _ in range(max(0, rows - STRAY_FROM_FIX - len(walk)))
    ]
    tracks[STRAY_COLLAR] = (stray[:STRAY_FROM_FIX] + walk + rest)[:rows]
    return tracks


def track_csv(rows: list[tuple[float, float]]) -> str:
    """The sim board's track format: CSV with Latitude and Longitude columns."""
    return "Latitude,Longitude\n" + "".join(f"{lat:.7f},{lon:.7f}\n" for lat, lon in rows)


# -- the commons' earlier use ---------------------------------------------------------------


def history_days(area_ha: float, lu_present: float, coefficients: dict[str, float]) -> float:
    """Days of `lu_present` livestock units on the commons that bring its season utilisation
    to UTILISATION_AT_START (moisture factor 1: no station within 5 km). The capacity formula
    is the grazing model's (docs/grazing.md): productivity x utilisation / intake."""
    from api.grazing.config import GrazingConfig

    cfg = GrazingConfig(lu_coefficients=coefficients)
    forage = PASTURE_BY_ID[OVERGRAZED_PASTURE].forage_kg_dm_ha
    capacity = forage * cfg.utilisation / cfg.intake_kg_dm_per_lu_day
    return UTILISATION_AT_START * capacity * area_ha / lu_present

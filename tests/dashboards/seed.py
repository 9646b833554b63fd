"""A realistic week of an okrug in InfluxDB, for running every dashboard query for real.

Two okrugs, three herds and a spare collar walking around four pastures with 15-minute fixes
(some flagged: HDOP > 10, a zero fix; a seq gap; draining batteries), three soil stations at
three depths drying between rain events, the grazing engine's `pasture_state` and
`pasture_herd`, and the ingest's `device_stats` and `dlq` counts. Times end at "now", so the
dashboards' relative ranges see data.

Readings are written as line protocol with precision=ms, the schema of docs/storage-dashboards.md.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import httpx

FIX_MS = 15 * 60_000
DAYS = 8
DEPTHS = (10, 30, 60)

# (okrug, pasture id, centre lat, centre lon, area ha, capacity LU-days/ha)
PASTURES = (
    ("sogety", "sogety-p1", 43.452, 78.612, 420.0, 38.0),
    ("sogety", "sogety-p2", 43.470, 78.655, 610.0, 45.0),
    ("sogety", "sogety-p3", 43.431, 78.690, 300.0, 30.0),
    ("akshi", "akshi-p1", 43.380, 77.905, 510.0, 40.0),
)
# herd id -> (okrug, LU, collars, home pasture index)
HERDS = {
    "sogety-h1": ("sogety", 120.0, ("c-101", "c-102", "c-103"), 0),
    "sogety-h2": ("sogety", 65.0, ("c-201", "c-202"), 1),
    "akshi-h1": ("akshi", 80.0, ("c-301", "c-302"), 3),
}
SPARE_COLLAR = ("c-900", "sogety")  # registered, not yet on an animal: no herd tag
STATIONS = (("soil-s1", "sogety"), ("soil-s2", "sogety"), ("soil-a1", "akshi"))

# Seeded defects the tests check the panels against.
GAP_DEVICE = "c-101"
GAP_SEQS = 10  # consecutive readings lost before the broker, in the last 24 h
DLQ_REASONS = ("malformed_json", "unknown_device", "out_of_range")


@dataclass
class Seeded:
    """What was written, for tests that check a panel's numbers."""

    now_ms: int
    lines: int = 0
    valid_fixes: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)
    gap_seqs: range = range(0)


def _fields(values: dict[str, float | str]) -> str:
    parts = []
    for key, value in values.items():
        if isinstance(value, str):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'{key}="{escaped}"')
        else:
            parts.append(f"{key}={float(value)!r}")
    return ",".join(parts)


def _line(measurement: str, tags: dict[str, str], values: dict[str, float | str], ts: int) -> str:
    # Every tag value here is one of our own [a-z0-9-] ids: nothing to escape.
    tag_text = "".join(f",{k}={v}" for k, v in sorted(tags.items()) if v)
    return f"{measurement}{tag_text} {_fields(values)} {ts}"


def _collar_lines(seeded: Seeded, rng: random.Random, start: int) -> list[str]:
    lines: list[str] = []
    collars = [
        (device, okrug, herd, PASTURES[home])
        for herd, (okrug, _lu, devices, home) in HERDS.items()
        for device in devices
    ]
    collars.append((SPARE_COLLAR[0], SPARE_COLLAR[1], "", PASTURES[0]))
    gap_start = (seeded.now_ms - start) // FIX_MS - 40  # ten hours ago
    for index, (device, okrug, herd, pasture) in enumerate(collars):
        lat, lon = pasture[2] + rng.uniform(-0.004, 0.004), pasture[3] + rng.uniform(-0.004, 0.004)
        drain = 0.02 if index != 4 else 0.09  # c-201 drains fast
        fixes: list[tuple[int, float, float]] = []
        for seq, ts in enumerate(range(start, seeded.now_ms, FIX_MS), start=1):
            if device == GAP_DEVICE and gap_start <= seq < gap_start + GAP_SEQS:
                continue
            hour = ((ts // 3_600_000) + 5) % 24  # local time, UTC+5
            grazing = 6 <= hour <= 20
            step = 0.0005 if grazing else 0.00005
            lat += rng.gauss(0, step) + (pasture[2] - lat) * 0.05
            lon += rng.gauss(0, step) + (pasture[3] - lon) * 0.05
            hdop = round(rng.uniform(0.7, 2.5), 2)
            fix_lat, fix_lon, qc = lat, lon, ""
            if seq % 97 == 0:
                hdop, qc = 12.5, "hdop"
            if device == "c-102" and seq == 300:
                fix_lat, fix_lon, qc = 0.0, 0.0, "zero_fix"
            days = (ts - start) / 86_400_000
            values: dict[str, float | str] = {
                "lat": fix_lat,
                "lon": fix_lon,
                "hdop": hdop,
                "sats": float(rng.randint(5, 12)),
                "alt": 1200 + rng.uniform(-20, 20),
                "bat": round(4.1 - drain * days + rng.uniform(-0.01, 0.01), 3),
                "seq": float(seq),
                "valid": 0.0 if qc else 1.0,
                "qc": qc,
            }
            lines.append(
                _line("position", {"device": device, "okrug": okrug, "herd": herd}, values, ts)
            )
            if not qc:
                fixes.append((ts, fix_lat, fix_lon))
        seeded.valid_fixes[device] = fixes
    seeded.gap_seqs = range(gap_start, gap_start + GAP_SEQS)
    return lines


def _soil_lines(seeded: Seeded, rng: random.Random, start: int) -> list[str]:
    lines: list[str] = []
    rain_days = {2, 6}
    for device, okrug in STATIONS:
        wet = {depth: 24.0 + depth / 20 for depth in DEPTHS}
        # Hourly, the last sample 10 minutes ago (not on the edge of a one-hour window).
        first = start + 50 * 60_000
        for seq, ts in enumerate(range(first, seeded.now_ms, 3_600_000), start=1):
            day = (ts - start) // 86_400_000
            for depth in DEPTHS:
                wet[depth] -= 0.03 * (70 - depth) / 60
                if day in rain_days and (ts // 3_600_000) % 24 == 14:
                    wet[depth] += 6.0 * (70 - depth) / 60
                wet[depth] = max(9.0, min(40.0, wet[depth]))
                values: dict[str, float | str] = {
                    "vwc": round(wet[depth] + rng.uniform(-0.2, 0.2), 2),
                    "tsoil": round(
                        12 + 6 * math.sin(ts / 86_400_000 * 2 * math.pi) / (1 + depth / 20), 2
                    ),
                    "bat": round(3.9 - 0.01 * day, 3),
                    "seq": float(seq),
                    "valid": 1.0,
                    "qc": "",
                }
                tags = {"device": device, "okrug": okrug, "depth": str(depth)}
                lines.append(_line("soil", tags, values, ts))
    return lines


def _grazing_lines(seeded: Seeded, rng: random.Random, start: int) -> list[str]:
    lines: list[str] = []
    cumulative = {p[1]: 0.0 for p in PASTURES}
    for ts in range(start, seeded.now_ms, FIX_MS):
        hour = ((ts // 3_600_000) + 5) % 24
        for okrug, pasture, _lat, _lon, area, capacity in PASTURES:
            lu_total = 0.0
            for herd, (h_okrug, lu, _devices, home) in HERDS.items():
                if h_okrug != okrug:
                    continue
                here = PASTURES[home][1] == pasture
                # sogety-h1 spends its afternoons on p3.
                if herd == "sogety-h1" and 13 <= hour < 17:
                    here = pasture == "sogety-p3"
                frac = 1.0 if here else 0.0
                lu_total += lu * frac
                lines.append(
                    _line(
                        "pasture_herd",
                        {"pasture": pasture, "okrug": okrug, "herd": herd},
                        {"frac": frac, "lu": lu * frac},
                        ts,
                    )
                )
            cumulative[pasture] += lu_total * (FIX_MS / 86_400_000) / area
            moisture = round(0.55 + 0.4 * math.cos((ts - start) / 86_400_000 / 8 * math.pi), 3)
            season_capacity = capacity * max(0.3, min(1.0, moisture))
            values: dict[str, float | str] = {
                "lu": lu_total,
                "density": lu_total / area,
                "lu_days_per_ha": cumulative[pasture] + 18.0,
                "utilisation": (cumulative[pasture] + 18.0) / season_capacity,
                "moisture_factor": max(0.3, min(1.0, moisture)),
                "capacity": season_capacity,
            }
            lines.append(_line("pasture_state", {"pasture": pasture, "okrug": okrug}, values, ts))
    return lines


def _ingest_lines(seeded: Seeded, rng: random.Random, start: int) -> list[str]:
    lines: list[str] = []
    devices = [(d, o, "collar") for o_h in HERDS.values() for d in o_h[2] for o in [o_h[0]]]
    devices += [(SPARE_COLLAR[0], SPARE_COLLAR[1], "collar")]
    devices += [(d, o, "soil") for d, o in STATIONS]
    for ts in range(start, seeded.now_ms, FIX_MS):
        for device, okrug, kind in devices:
            missing = 1.0 if rng.random() < 0.01 else 0.0
            values: dict[str, float | str] = {
                "received": 1.0 - missing,
                "missing": missing,
                "duplicates": 1.0 if rng.random() < 0.02 else 0.0,
            }
            tags = {"device": device, "okrug": okrug, "kind": kind, "instance": "ingest-1"}
            lines.append(_line("device_stats", tags, values, ts))
        if (ts // FIX_MS) % 4 == 0:
            for reason in DLQ_REASONS:
                count = float(rng.choice((0, 0, 1, 2, 5)))
                tags = {"reason": reason, "instance": "ingest-1"}
                lines.append(_line("dlq", tags, {"count": count}, ts))
    return lines


def seed(influx_url: str, database: str, *, now_ms: int, rng_seed: int = 7) -> Seeded:
    """Create `database` and fill it; return what the checks need to know."""
    seeded = Seeded(now_ms=now_ms - now_ms % 60_000)
    rng = random.Random(rng_seed)
    start = seeded.now_ms - DAYS * 86_400_000
    with httpx.Client(base_url=influx_url, timeout=30) as http:
        http.post("/query", data={"q": f'CREATE DATABASE "{database}"'}).raise_for_status()
        lines = (
            _collar_lines(seeded, rng, start)
            + _soil_lines(seeded, rng, start)
            + _grazing_lines(seeded, rng, start)
            + _ingest_lines(seeded, rng, start)
        )
        for chunk in range(0, len(lines), 5000):
            body = "\n".join(lines[chunk : chunk + 5000])
            response = http.post("/write", params={"db": database, "precision": "ms"}, content=body)
            assert response.status_code == 204, response.text
        seeded.lines = len(lines)
    return seeded

"""Real cattle collar tracks (../shared/data/cattle-gps-animaltracker) replayed through the
rules, every 10 minutes over three days, checked against a plain loop-by-loop reading of
each rule's definition: zero fixes, duplicate timestamps, trucking and long gaps included.
"""

from __future__ import annotations

import csv
import itertools
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import shapely

from api.alerts.engine import EngineConfig, Pasture, Snapshot
from api.alerts.engine.context import Evaluation
from api.alerts.engine.geodesy import distances_m
from api.alerts.engine.rules import RULES
from jaylym.models import DeviceInfo, PositionFlag, PositionReading
from tests.api.alerts.engine.scenario import HOUR, MIN, make_engine
from tests.support import shared_path

TRUCKED_KMH = 15.0
CFG = EngineConfig.model_validate(
    # A 3 h window so that resting cattle give the immobile rule both answers.
    {"immobile": {"window_s": 3 * 3600}, "repeat_interval_s": 4 * 3600}
)


def load(path: Path, device_id: str) -> list[PositionReading]:
    """The collar's fixes, flagged as the ingest flags them: lat = lon = 0, and an implied
    speed above 15 km/h from the previous plausible fix (trucked)."""
    out: list[PositionReading] = []
    previous: PositionReading | None = None
    with path.open(newline="") as fh:
        for seq, row in enumerate(csv.DictReader(fh)):
            when = datetime.strptime(
                f"{row['Date'].strip()} {row['Time'].strip()}", "%Y/%m/%d %H:%M:%S"
            ).replace(tzinfo=UTC)
            lat, lon = float(row["Latitude"]), float(row["Longitude"])
            ts = round(when.timestamp() * 1000)
            flags = set()
            if lat == 0 and lon == 0:
                flags.add(PositionFlag.ZERO)
            elif previous is not None and ts > previous.ts_ms:
                metres = distances_m(previous.lon, previous.lat, lon, lat)[0]
                if metres / ((ts - previous.ts_ms) / 1000) * 3.6 > TRUCKED_KMH:
                    flags.add(PositionFlag.SPEED)
            fix = PositionReading(device_id, ts, seq, lat, lon, flags=frozenset(flags))
            out.append(fix)
            if fix.valid:
                previous = fix
    return out


def first_valid(fixes: list[PositionReading], ts: int) -> list[PositionReading]:
    """Valid fixes up to `ts`, one per timestamp, in time order (what the rules read)."""
    by_ts: dict[int, PositionReading] = {}
    for f in fixes:
        if f.valid and f.ts_ms <= ts:
            by_ts.setdefault(f.ts_ms, f)
    return [by_ts[t] for t in sorted(by_ts)]


def run_since(valid: list[PositionReading], now: int, gap: int, pred: object) -> int | None:
    """Start of the run of fixes ending now for which `pred(fix)` holds: plain loop."""
    if not valid or now - valid[-1].ts_ms >= gap or not pred(valid[-1]):  # type: ignore[operator]
        return None
    start = valid[-1].ts_ms
    for prev, cur in zip(reversed(valid[:-1]), reversed(valid[1:]), strict=True):
        if cur.ts_ms - prev.ts_ms > gap or not pred(prev):  # type: ignore[operator]
            break
        start = prev.ts_ms
    return start


def oracle_stray(valid: list[PositionReading], now: int, gap: int, home: object) -> bool:
    outside = lambda f: not home.covers(shapely.Point(f.lon, f.lat))  # type: ignore[attr-defined]  # noqa: E731
    since = run_since(valid, now, gap, outside)
    return since is not None and now - since > 1800 * 1000


def oracle_immobile(valid: list[PositionReading], now: int, gap: int) -> bool:
    cfg = CFG.immobile
    window_start = now - cfg.window_s * 1000
    since = run_since(valid, now, gap, lambda f: True)
    if since is None or since > window_start:
        return False
    held = [f for f in valid if f.ts_ms <= window_start][-1]
    window = [f for f in valid if f.ts_ms >= held.ts_ms]
    lon = np.array([f.lon for f in window])
    lat = np.array([f.lat for f in window])
    n = len(window)
    ranking = distances_m(np.full(n, np.median(lon)), np.full(n, np.median(lat)), lon, lat)
    keep = np.argsort(ranking, kind="stable")[: max(2, math.ceil(n * (1 - cfg.trim_fraction)))]
    spread = max(
        distances_m(lon[i], lat[i], lon[j], lat[j])[0] for i in keep for j in keep if i < j
    )
    return bool(spread < cfg.distance_m)


@pytest.fixture(scope="module")
def herd() -> tuple[list[DeviceInfo], dict[str, list[PositionReading]], Pasture]:
    folder = shared_path("data", "cattle-gps-animaltracker")
    files = sorted(folder.glob("Bannock_2017_*.csv"))
    assert len(files) == 3
    devices, fixes = [], {}
    for i, path in enumerate(files):
        dev = f"bannock-{i + 1}"
        devices.append(DeviceInfo(dev, "collar", "bannock", "bn-herd", expected_interval_s=600))
        fixes[dev] = load(path, dev)
    # Home range: the herd's first day of plausible fixes, 200 m around. Later days wander
    # beyond it: the stray rule has something to find.
    t0 = min(f.ts_ms for fs in fixes.values() for f in fs)
    day1 = [
        (f.lon, f.lat) for fs in fixes.values() for f in fs if f.valid and f.ts_ms < t0 + 24 * HOUR
    ]
    hull = shapely.MultiPoint(day1).convex_hull
    lat0 = float(np.mean([p[1] for p in day1]))
    home = hull.buffer(200 / (111_320 * math.cos(math.radians(lat0))))
    return devices, fixes, Pasture("home", "bannock", "Home range", home)


def test_rules_agree_with_their_definitions_on_real_tracks(
    herd: tuple[list[DeviceInfo], dict[str, list[PositionReading]], Pasture],
) -> None:
    devices, fixes, home = herd
    flagged = sum(1 for fs in fixes.values() for f in fs if not f.valid)
    assert flagged >= 5  # zero fixes and trucking are in the data, and flagged
    start = min(f.ts_ms for fs in fixes.values() for f in fs)
    end = max(f.ts_ms for fs in fixes.values() for f in fs)
    gap = 30 * MIN  # 3 x 600 s
    seen = {"stray": [0, 0], "immobile": [0, 0]}
    for now in range(start + HOUR, end + 2 * HOUR, 10 * MIN):
        recent = {
            d: [f for f in fs if now - 12 * HOUR <= f.ts_ms <= now] for d, fs in fixes.items()
        }
        snap = Snapshot(now_ms=now, pastures=[home], devices=devices, fixes=recent)
        ev = Evaluation(snap, CFG)
        got = {
            rule: {c.subject.device_id for c in RULES[rule].evaluate(ev) or [] if c.fires}
            for rule in ("stray", "immobile")
        }
        for dev, fs in fixes.items():
            valid = first_valid(fs, now)
            want = {
                "stray": oracle_stray(valid, now, gap, home.geometry),
                "immobile": oracle_immobile(valid, now, gap),
            }
            for rule, expected in want.items():
                assert (dev in got[rule]) == expected, (rule, dev, now)
                seen[rule][expected] += 1
    # Both answers occurred for both rules: the comparison was not vacuous.
    print("real-track evaluations [no, yes]:", seen)
    assert all(no and yes for no, yes in seen.values()), seen


def test_replay_through_the_engine_keeps_the_lifecycle_sound(
    herd: tuple[list[DeviceInfo], dict[str, list[PositionReading]], Pasture],
) -> None:
    devices, fixes, home = herd
    engine, sink = make_engine(config=CFG)
    start = min(f.ts_ms for fs in fixes.values() for f in fs)
    end = max(f.ts_ms for fs in fixes.values() for f in fs)
    for now in range(start, end + 3 * HOUR, 5 * MIN):
        last_seen = {
            d: max((f.ts_ms for f in fs if f.ts_ms <= now), default=start)
            for d, fs in fixes.items()
        }
        recent = {
            d: [f for f in fs if now - 12 * HOUR <= f.ts_ms <= now] for d, fs in fixes.items()
        }
        engine.evaluate(
            Snapshot(
                now_ms=now, pastures=[home], devices=devices, fixes=recent, last_seen_ms=last_seen
            )
        )
    assert sink.offered_twice == []
    keys = [e.key for e in sink.events]
    assert len(keys) == len(set(keys))
    by_rule: dict[str, int] = {}
    for e in sink.events:
        if e.kind.value == "opened":
            by_rule[e.rule] = by_rule.get(e.rule, 0) + 1
    # Each collar has one gap of ~12 h in the data, and every collar goes silent at the
    # end: the offline rule opens for those silences (at least one per collar) and no more
    # often than there are silences longer than 3 intervals.
    silences = 0
    for fs in fixes.values():
        ts = sorted({f.ts_ms for f in fs})
        silences += sum(1 for a, b in itertools.pairwise(ts) if b - a >= 30 * MIN) + 1
    assert len(devices) <= by_rule["device_offline"] <= silences
    # After the end every collar is silent: their offline alerts are open, nothing else
    # about them resolved for want of data.
    still_open = {(a.rule, a.subject.device_id) for a in engine.repository.load_open()}
    assert {("device_offline", d.device_id) for d in devices} <= still_open

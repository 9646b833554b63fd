"""The snapshot's fix cache gives what one full fetch would, with readings stored late."""

from __future__ import annotations

import random
from pathlib import Path

from api.alerts.runtime.snapshot import FixCache
from jaylym.models import PositionReading
from jaylym.store.sqlite import SqliteStore

MIN = 60_000
WINDOW = 12 * 60 * MIN


def reading(device: str, ts: int, lat: float = 43.5) -> PositionReading:
    return PositionReading(device, ts, ts // MIN, lat=lat, lon=78.0)


def recent(rows: list[PositionReading], since: int) -> list[PositionReading]:
    return [r for r in rows if r.ts_ms >= since]


def test_cache_equals_a_full_fetch_while_readings_arrive_in_order_and_late(tmp_path: Path) -> None:
    rng = random.Random(6)
    store = SqliteStore(tmp_path / "tsdb.sqlite3")
    cache = FixCache(overlap_ms=30 * MIN, full_every_ms=10 * MIN)
    devices = [f"collar-{i}" for i in range(5)]
    t0 = 1_782_864_000_000
    store.write([reading(d, t0 - k * 15 * MIN) for d in devices for k in range(60)])
    stale = 0
    for step in range(1, 40):
        now = t0 + step * MIN
        fresh = [reading(d, now - rng.randrange(0, 60_000)) for d in devices if rng.random() < 0.5]
        # Some readings arrive late: a few minutes (inside the overlap) or hours (flash queue).
        late = [reading(rng.choice(devices), now - rng.choice([5, 20, 90, 300]) * MIN, lat=44.0)]
        store.write(fresh + late)
        got = cache.fetch(store, now - WINDOW, now + 1)
        full = store.positions(now - WINDOW, now + 1)
        if step % 10 == 1:  # a full refresh (the first call, then every 10 min)
            assert got == full
        # In between, everything newer than the overlap is always there, late or not.
        since = now - 30 * MIN
        for device in devices:
            assert recent(got.get(device, []), since) == recent(full.get(device, []), since)
        stale += got != full
    # Between refreshes the cache really is incremental: hours-late readings wait for one.
    assert stale > 0
    store.close()


def test_a_jump_or_a_step_back_refetches_everything(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tsdb.sqlite3")
    t0 = 1_782_864_000_000
    store.write([reading("collar-1", t0 + k * 15 * MIN) for k in range(100)])
    cache = FixCache(overlap_ms=30 * MIN, full_every_ms=60 * MIN)
    for now in (t0 + 10 * 60 * MIN, t0 + 20 * 60 * MIN, t0 + 15 * 60 * MIN):
        assert cache.fetch(store, now - WINDOW, now + 1) == store.positions(now - WINDOW, now + 1)
    store.close()

"""`SeasonTotals` (what the engine and `GET /pastures/grazing` use) equals one evaluation from
the season start at every step, however the calls are spaced, and across a registry change."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session

from api.alerts.runtime.registry_view import load_view
from api.alerts.runtime.season import FixesTooShort, SeasonTotals
from api.grazing import GrazingConfig
from jaylym.models import PositionReading
from tests.api.alerts.runtime.conftest import LU, Wired
from tests.api.alerts.runtime.world import MIN, centre

T0 = 1_782_864_000_000  # 2026-07-01T00:00Z, inside the year-round season (21 March)


def walk(rng: random.Random, device: str, hours: int) -> list[PositionReading]:
    out, t, seq = [], T0 - 3 * 60 * MIN, 0
    while t < T0 + hours * 60 * MIN:
        t += rng.choice([5, 15, 15, 15, 60, 150]) * MIN  # gaps longer than max_gap too
        col = rng.choice([0, 0, 1, 2, 5])  # 5: outside every pasture
        out.append(
            PositionReading(device, t, seq, *reversed(centre(col, dx=rng.uniform(-0.4, 0.4))))
        )
        seq += 1
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_running_totals_equal_a_season_evaluation(wired_sqlite: Wired, seed: int) -> None:
    rng = random.Random(seed)
    fixes = {d: walk(rng, d, 30) for d in ("collar-a1", "collar-a2", "collar-b1", "collar-b2")}
    with Session(wired_sqlite.db) as session:
        view = load_view(session, LU)
    totals = SeasonTotals(GrazingConfig(lu_coefficients=LU))
    now = T0
    for _ in range(25):
        now += rng.choice([1, 10, 60, 180, 600]) * MIN
        known = {d: [r for r in rs if r.ts_ms <= now] for d, rs in fixes.items()}
        start = totals.fetch_from_ms(view, now)
        window = {d: [r for r in rs if r.ts_ms >= start] for d, rs in known.items()}
        got = totals.season(view, window, now).by_id()
        want = (
            totals.model(view)
            .evaluate_season(known, now, expected_interval_s=view.expected_interval_s)
            .by_id()
        )
        for pid, g in want.items():
            assert got[pid].lu_days == pytest.approx(g.lu_days, rel=1e-9, abs=1e-12)
            assert got[pid].current_lu == pytest.approx(g.current_lu, rel=1e-12)
            assert got[pid].herds_present == g.herds_present
    # A registry change (a herd bigger) restarts the accounts from the season start.
    bigger = replace(
        view,
        grazing_herds=tuple(
            replace(h, composition={"cattle": 300}) if h.herd_id == "herd-askar" else h
            for h in view.grazing_herds
        ),
    )
    assert totals.fetch_from_ms(bigger, now) < T0
    got = totals.season(bigger, fixes, now).by_id()
    want = (
        totals.model(bigger)
        .evaluate_season(
            {d: [r for r in rs if r.ts_ms <= now] for d, rs in fixes.items()},
            now,
            expected_interval_s=bigger.expected_interval_s,
        )
        .by_id()
    )
    for pid, g in want.items():
        assert got[pid].lu_days == pytest.approx(g.lu_days, rel=1e-9, abs=1e-12)


def test_fixes_stored_late_into_committed_hours_are_counted(wired_sqlite: Wired) -> None:
    """A collar out of coverage for 24 h sends its queue afterwards: with the store's
    `last_seen`, the totals rewind to a checkpoint before its silence and equal a season
    evaluation again; without it they would keep missing those 24 h."""
    rng = random.Random(4)
    fixes = {d: walk(rng, d, 40) for d in ("collar-a1", "collar-a2", "collar-b1")}
    away = (T0 + 5 * 60 * MIN, T0 + 29 * 60 * MIN)  # collar-a1 silent, queueing
    with Session(wired_sqlite.db) as session:
        view = load_view(session, LU)
    totals = SeasonTotals(GrazingConfig(lu_coefficients=LU))
    now = T0
    while now < T0 + 40 * 60 * MIN:
        now += 20 * MIN
        arrived = {
            d: [r for r in rs if r.ts_ms <= now and not (d == "collar-a1" and away[0] <= r.ts_ms
                < away[1] and now < away[1])]
            for d, rs in fixes.items()
        }  # fmt: skip
        last_seen = {d: rs[-1].ts_ms for d, rs in arrived.items() if rs}
        start = totals.fetch_from_ms(view, now, last_seen)
        window = {d: [r for r in rs if r.ts_ms >= start] for d, rs in arrived.items()}
        got = totals.season(view, window, now).by_id()
        if now < away[1]:
            continue
        want = (
            totals.model(view)
            .evaluate_season(arrived, now, expected_interval_s=view.expected_interval_s)
            .by_id()
        )
        for pid, g in want.items():
            assert got[pid].lu_days == pytest.approx(g.lu_days, rel=1e-9, abs=1e-12), (now, pid)
    assert totals.rewinds >= 1


def test_fixes_fetched_before_another_callers_rewind_are_refused(wired_sqlite: Wired) -> None:
    """Two API requests share the totals: one fetched from `start`, then the other's
    `last_seen` rewound the ledger. The first one's fixes are refused, not committed."""
    rng = random.Random(5)
    fixes = {d: walk(rng, d, 30) for d in ("collar-a1", "collar-b1")}
    with Session(wired_sqlite.db) as session:
        view = load_view(session, LU)
    totals = SeasonTotals(GrazingConfig(lu_coefficients=LU))
    cut = T0 + 20 * 60 * MIN
    early = {d: [r for r in rs if r.ts_ms <= cut] for d, rs in fixes.items()}
    early["collar-a1"] = [r for r in early["collar-a1"] if r.ts_ms < T0]  # silent since T0
    seen = {d: rs[-1].ts_ms for d, rs in early.items()}
    start = totals.fetch_from_ms(view, cut, seen)
    totals.season(view, early, cut, fixes_from_ms=start)
    now = cut + 10 * MIN
    stale = totals.fetch_from_ms(view, now, seen)  # request A
    back = {d: [r for r in rs if r.ts_ms <= now] for d, rs in fixes.items()}
    fresh = totals.fetch_from_ms(view, now, {d: rs[-1].ts_ms for d, rs in back.items()})  # B
    assert fresh < stale
    with pytest.raises(FixesTooShort) as refused:
        totals.season(view, back, now, fixes_from_ms=stale)
    assert refused.value.needed_from_ms == fresh
    got = totals.season(view, back, now, fixes_from_ms=fresh).by_id()
    want = totals.model(view).evaluate_season(
        back, now, expected_interval_s=view.expected_interval_s
    )
    for pid, g in want.by_id().items():
        assert got[pid].lu_days == pytest.approx(g.lu_days, rel=1e-9, abs=1e-12), pid

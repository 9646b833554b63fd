"""Tracks: valid fixes only, max_gap, runs, and vectorised containment (boundary inside)."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from api.alerts.engine import Snapshot
from api.alerts.engine.config import FixConfig
from api.alerts.engine.tracks import build_tracks, max_gap_ms
from jaylym.models import PositionFlag, PositionReading
from tests.api.alerts.engine.scenario import MIN, T0, at, collar, pasture, track


def test_max_gap_is_three_intervals_capped_at_two_hours() -> None:
    cfg = FixConfig()
    assert max_gap_ms(collar("c-1", interval_s=300), cfg) == 15 * MIN
    assert max_gap_ms(collar("c-1", interval_s=3600), cfg) == 120 * MIN


def test_flagged_future_and_duplicate_fixes_are_left_out() -> None:
    fixes = track("c-001", [(T0 - 10 * MIN, 500, 500), (T0 - 5 * MIN, 500, 500)])
    bad = PositionReading("c-001", T0 - 7 * MIN, 99, 0.0, 0.0, flags=frozenset({PositionFlag.ZERO}))
    future = track("c-001", [(T0 + MIN, 900, 900)])
    snap = Snapshot(
        now_ms=T0,
        pastures=[pasture("p1", 0)],
        devices=[collar("c-001")],
        fixes={"c-001": [fixes[1], bad, *fixes, *future]},
    )
    tr = build_tracks(snap, FixConfig()).by_device["c-001"]
    assert tr.ts.tolist() == [T0 - 10 * MIN, T0 - 5 * MIN]
    assert tr.known_at(T0)
    assert not tr.known_at(T0 - 5 * MIN + 15 * MIN)


def test_run_breaks_at_a_gap_longer_than_max_gap() -> None:
    path = [(T0 - m * MIN, 3000, 0) for m in (90, 85, 80, 20, 15, 10, 5, 0)]
    snap = Snapshot(
        now_ms=T0, pastures=[pasture("p1", 0)], devices=[collar("c-001")],
        fixes={"c-001": track("c-001", path)},
    )  # fmt: skip
    tr = build_tracks(snap, FixConfig()).by_device["c-001"]
    everywhere = np.ones(len(tr), dtype=bool)
    # 60 min without a fix > 15 min max_gap: the run restarts at T0 - 20 min.
    assert tr.run_start_ms(everywhere, T0) == T0 - 20 * MIN
    assert tr.run_start_ms(everywhere, T0 + 15 * MIN) is None  # position no longer known


def test_boundary_counts_as_inside() -> None:
    p = pasture("p1", 0, size_m=1000)
    lon, lat = shapely.get_coordinates(p.geometry)[0]
    corner = PositionReading("c-001", T0, 0, lat=float(lat), lon=float(lon))
    snap = Snapshot(now_ms=T0, pastures=[p], devices=[collar("c-001")], fixes={"c-001": [corner]})
    tr = build_tracks(snap, FixConfig()).by_device["c-001"]
    assert tr.inside(np.array([True])).tolist() == [True]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-500, 3500), st.floats(-500, 1500)), min_size=1, max_size=40),
    st.lists(st.tuples(st.floats(0, 3000), st.floats(0, 1000), st.floats(50, 800)), max_size=6),
)
def test_containment_matches_shapely_one_by_one(
    points: list[tuple[float, float]], squares: list[tuple[float, float, float]]
) -> None:
    """The one STRtree query gives exactly what `covers` says point by point and polygon
    by polygon, over several collars (overlapping pastures included)."""
    pastures = [pasture(f"p{i}", e, n, s) for i, (e, n, s) in enumerate(squares)]
    half = len(points) // 2
    fixes = {
        "c-001": track("c-001", [(T0 + i * MIN, e, n) for i, (e, n) in enumerate(points[:half])]),
        "c-002": track("c-002", [(T0 + i * MIN, e, n) for i, (e, n) in enumerate(points[half:])]),
    }
    snap = Snapshot(
        now_ms=T0 + 10_000 * MIN,
        pastures=pastures,
        devices=[collar("c-001"), collar("c-002")],
        fixes=fixes,
    )
    tracks = build_tracks(snap, FixConfig())
    for dev, tr in tracks.by_device.items():
        got = {(int(f), int(p)) for f, p in zip(tr.pair_fix, tr.pair_pasture, strict=True)}
        want = {
            (i, j)
            for i, r in enumerate(sorted(fixes[dev], key=lambda r: r.ts_ms))
            for j, pa in enumerate(pastures)
            if pa.geometry.covers(shapely.Point(r.lon, r.lat))
        }
        assert got == want, dev


def test_at_places_points_in_metres() -> None:
    from api.alerts.engine.geodesy import distances_m

    (d,) = distances_m(*at(0, 0), *at(300, 400))
    assert abs(d - 500) < 0.5


def test_a_collar_with_only_flagged_fixes_has_no_track_and_breaks_no_rule() -> None:
    from api.alerts.engine import EngineConfig, PlanEntry
    from api.alerts.engine.context import Evaluation
    from api.alerts.engine.rules import RULES

    zeros = [
        PositionReading("c-001", T0 - m * MIN, m, 0.0, 0.0, flags=frozenset({PositionFlag.ZERO}))
        for m in range(0, 60, 5)
    ]
    good = track("c-002", [(T0 - m * MIN, 5000, 5000) for m in range(0, 60, 5)])
    snap = Snapshot(
        now_ms=T0,
        pastures=[pasture("p1", 0)],
        devices=[collar("c-001"), collar("c-002")],
        plan=[PlanEntry("h1", "p1", T0 - MIN, T0)],
        fixes={"c-001": zeros, "c-002": good},
    )
    ev = Evaluation(snap, EngineConfig())
    assert set(ev.tracks.by_device) == {"c-002"}
    for rule in ("stray", "immobile", "off_plan"):
        found = RULES[rule].evaluate(ev)
        assert found is not None
        assert all(c.subject.device_id != "c-001" for c in found)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=12),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([60, 300, 3600]),
    st.integers(0, 30),
)
def test_run_starts_of_all_collars_match_each_tracks_own(
    collars: list[list[tuple[int, bool]]], interval_s: int, late_min: int
) -> None:
    """The district-wide `run_starts` answers what `Track.run_start_ms` answers per collar:
    random steps (some longer than max_gap), a random predicate, a random 'now'."""
    fixes, preds = {}, {}
    for k, steps in enumerate(collars):
        dev = f"c-{k:03d}"
        ts = T0 - MIN * np.cumsum([s for s, _ in steps])[::-1]
        fixes[dev] = track(dev, [(int(t), 10.0 * i, 0.0) for i, t in enumerate(ts)])
        preds[dev] = [p for _, p in steps]
    now = T0 + late_min * MIN
    devices = [collar(d, interval_s=interval_s) for d in fixes]
    tracks = build_tracks(Snapshot(now_ms=now, devices=devices, fixes=fixes), FixConfig())
    pred = np.concatenate([preds[c.device_id] for c in tracks.collars])
    starts = tracks.run_starts(pred, now)
    for i, device in enumerate(tracks.collars):
        want = tracks.by_device[device.device_id].run_start_ms(
            np.array(preds[device.device_id]), now
        )
        got = None if starts[i] < 0 else int(tracks.ts[starts[i]])
        assert got == want, device.device_id

"""Property tests: the fast model agrees with the naive reference, GP is additive over
adjacent windows, and nothing depends on the order in which readings arrived."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import box

from api.grazing import GrazingModel, GrazingResult, Herd, Pasture
from jaylym.models import PositionFlag, PositionReading
from tests.api.grazing.reference import reference_lu_days, reference_lu_now
from tests.api.grazing.scenario import CELL, LAT0, LON0, MIN, OUTSIDE, T0, fix, square

# Pastures: a 3 × 2 grid, plus one overlapping the middle of the grid.
PASTURES = [square(f"p{c}{r}", c, r) for c in range(3) for r in range(2)] + [
    Pasture.from_geometry(
        "overlap",
        "sogety",
        box(LON0 + 0.5 * CELL, LAT0 + 0.5 * CELL, LON0 + 1.5 * CELL, LAT0 + 1.5 * CELL),
    )
]

# Where a fix may be: cell interiors, shared edges and vertices, the overlap's rim, outside.
PLACES = [
    *((LON0 + (c + 0.3) * CELL, LAT0 + (r + 0.6) * CELL) for c in range(3) for r in range(2)),
    (LON0 + CELL, LAT0 + 0.25 * CELL),  # shared edge
    (LON0 + 2 * CELL, LAT0 + CELL),  # shared vertex
    (LON0 + 0.5 * CELL, LAT0 + 0.8 * CELL),  # on the overlap's edge, inside p00
    OUTSIDE,
    (0.0, 0.0),
]
INTERVALS_S = [60, 300, 900, 3600]
SPAN_MIN = 8 * 60  # fixes fall in [T0 − 2 h, T0 + 6 h)


@dataclass
class Scenario:
    herds: list[Herd]
    fixes: dict[str, list[PositionReading]]
    intervals: dict[str, float]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n_herds = draw(st.integers(1, 3))
    herds, fixes, intervals = [], {}, {}
    for h in range(n_herds):
        collars = tuple(f"h{h}c{c}" for c in range(draw(st.integers(1, 3))))
        composition = {"cattle": draw(st.integers(0, 50)), "sheep": draw(st.integers(0, 200))}
        herds.append(Herd(f"h{h}", composition, collars))
        for collar in collars:
            intervals[collar] = float(draw(st.sampled_from(INTERVALS_S)))
            n = draw(st.integers(0, 12))
            readings = []
            for seq in range(n):
                t = T0 - 2 * 60 * MIN + draw(st.integers(0, SPAN_MIN)) * MIN
                if readings and draw(st.integers(0, 3)) == 0:
                    t = readings[-1].ts_ms  # real collars repeat timestamps
                place = draw(st.sampled_from(PLACES))
                flags = draw(st.sampled_from([(), (), (), (PositionFlag.HDOP,)]))
                readings.append(
                    fix(collar, t, place, seq=draw(st.integers(0, 3)) + seq, flags=flags)
                )
            fixes[collar] = readings
    fixes["stray-collar"] = [fix("stray-collar", T0, PLACES[0])]  # in no herd: ignored
    return Scenario(herds, fixes, intervals)


def minute(draw_from: st.DataObject, low: int, high: int) -> int:
    return T0 + draw_from.draw(st.integers(low, high)) * MIN


def gp(result: GrazingResult) -> dict[str, float]:
    return {p.pasture_id: p.lu_days_per_ha for p in result.pastures}


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_model_matches_the_naive_reference(scenario: Scenario, data: st.DataObject) -> None:
    model = GrazingModel(PASTURES, scenario.herds)
    start = minute(data, -150, 300)
    end = start + data.draw(st.integers(1, 300)) * MIN
    at = data.draw(st.integers(start, end - 1))
    result = model.evaluate(
        scenario.fixes, start, end, at_ms=at, expected_interval_s=scenario.intervals
    ).by_id()

    herd_lu = {h.herd_id: model.herd_lu(h.herd_id) for h in scenario.herds}
    gaps = {c: model.config.max_gap_ms(s) for c, s in scenario.intervals.items()}
    expected = reference_lu_days(
        PASTURES, scenario.herds, herd_lu, scenario.fixes, gaps, start, end
    )
    expected_now = reference_lu_now(PASTURES, scenario.herds, herd_lu, scenario.fixes, gaps, at)
    for pasture in PASTURES:
        got = result[pasture.pasture_id]
        assert got.lu_days == pytest.approx(expected[pasture.pasture_id], rel=1e-9, abs=1e-12)
        assert got.current_lu == pytest.approx(expected_now[pasture.pasture_id], abs=1e-9)
        assert sum(h.lu_days for h in got.herds) == pytest.approx(got.lu_days, abs=1e-12)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_gp_is_additive_over_adjacent_windows(scenario: Scenario, data: st.DataObject) -> None:
    model = GrazingModel(PASTURES, scenario.herds)
    a = minute(data, -150, 200)
    b = a + data.draw(st.integers(1, 200)) * MIN + data.draw(st.integers(0, 59_999))
    c = b + data.draw(st.integers(1, 200)) * MIN
    kw = {"expected_interval_s": scenario.intervals}
    left = gp(model.evaluate(scenario.fixes, a, b, **kw))  # type: ignore[arg-type]
    right = gp(model.evaluate(scenario.fixes, b, c, **kw))  # type: ignore[arg-type]
    whole = gp(model.evaluate(scenario.fixes, a, c, **kw))  # type: ignore[arg-type]
    for pid, total in whole.items():
        assert left[pid] + right[pid] == pytest.approx(total, rel=1e-9, abs=1e-15)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_result_does_not_depend_on_arrival_order(
    scenario: Scenario, data: st.DataObject, seed: int
) -> None:
    model = GrazingModel(PASTURES, scenario.herds)
    start = minute(data, -150, 300)
    end = start + data.draw(st.integers(1, 300)) * MIN
    rng = random.Random(seed)
    shuffled: dict[str, list[PositionReading]] = {}
    devices = list(scenario.fixes)
    rng.shuffle(devices)  # devices in another order, and each device's readings shuffled
    for device in devices:
        readings = list(scenario.fixes[device])
        rng.shuffle(readings)
        shuffled[device] = readings
    kw = {"expected_interval_s": scenario.intervals}
    one = model.evaluate(scenario.fixes, start, end, **kw)  # type: ignore[arg-type]
    other = model.evaluate(shuffled, start, end, **kw)  # type: ignore[arg-type]
    assert one == other  # exactly: the fixes are put in one total order first

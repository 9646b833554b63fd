"""Scenario tests: synthetic herds walking into pastures, losing their fixes, splitting up.

Expected values are worked out by hand from the issue's definitions in each test, from the
scenario's own numbers (LU, areas, times), never copied from the model's output.
"""

from __future__ import annotations

import math

import pytest
from shapely import box

from api.grazing import GrazingConfig, GrazingInputError, GrazingModel, Herd, Pasture
from jaylym.models import PositionFlag
from tests.api.grazing.scenario import (
    CELL,
    DAY,
    HOUR,
    LAT0,
    LON0,
    MIN,
    OUTSIDE,
    T0,
    centre,
    fix,
    square,
    track,
)

A_IN = centre(0)
B_IN = centre(1)


def lu_days_per_ha(lu: float, duration_ms: float, pasture: Pasture) -> float:
    return lu * duration_ms / DAY / pasture.area_ha


def test_herd_walks_into_a_pasture() -> None:
    a, b = square("a", 0), square("b", 1)
    herd = Herd("h1", {"cattle": 8, "sheep": 10}, ("c1", "c2"))  # 8 + 10 × 0.2 = 10 LU
    model = GrazingModel([a, b], [herd])
    # Both collars outside for the first two fixes, inside A from 30 min on, every 15 min.
    places = [OUTSIDE, OUTSIDE] + [A_IN] * 7
    fixes = {c: track(c, T0, 15 * MIN, places) for c in ("c1", "c2")}

    result = model.evaluate(fixes, T0, T0 + 2 * HOUR).by_id()

    assert result["a"].lu_days == pytest.approx(10 * 1.5 / 24)
    assert result["a"].lu_days_per_ha == pytest.approx(lu_days_per_ha(10, 90 * MIN, a))
    assert result["a"].current_lu == pytest.approx(10)
    assert result["a"].current_density_lu_per_ha == pytest.approx(10 / a.area_ha)
    assert result["a"].herds_present == ("h1",)
    (presence,) = result["a"].herds
    assert presence.hours == pytest.approx(1.5)
    assert presence.fraction_now == pytest.approx(1.0)
    assert result["b"].lu_days == 0
    assert result["b"].herds_present == ()
    assert result["b"].herds == ()


def test_a_fix_before_the_window_holds_into_it() -> None:
    a = square("a", 0)
    model = GrazingModel([a], [Herd("h", {"cattle": 4}, ("c1",))])
    # One fix 20 min before the window: it holds until min(next fix, +45 min) = T0 + 25 min.
    fixes = {"c1": [fix("c1", T0 - 20 * MIN, A_IN), fix("c1", T0 + 25 * MIN, OUTSIDE, seq=1)]}
    result = model.evaluate(fixes, T0, T0 + HOUR).by_id()["a"]
    assert result.lu_days == pytest.approx(4 * 25 * MIN / DAY)
    assert result.current_lu == 0


def test_gap_longer_than_max_gap_makes_the_position_unknown() -> None:
    a = square("a", 0)
    herd = Herd("h", {"cattle": 10}, ("c1", "c2"))
    model = GrazingModel([a], [herd])
    # c1: inside A at 0, then silent until 2 h (its fix holds 3 × 15 min = 45 min);
    # c2: outside every 15 min throughout.
    fixes = {
        "c1": [fix("c1", T0, A_IN), fix("c1", T0 + 2 * HOUR, A_IN, seq=1)],
        "c2": track("c2", T0, 15 * MIN, [OUTSIDE] * 13),
    }
    result = model.evaluate(fixes, T0, T0 + 3 * HOUR).by_id()["a"]
    # 0–45 min: c1 inside, both known: frac 1/2. 45–120: only c2 known: 0.
    # 120–165: c1 inside again, both known: 1/2. 165–180: c1 unknown again, c2 outside: 0.
    expected = 10 * 0.5 * (45 + 45) * MIN / DAY
    assert result.lu_days == pytest.approx(expected)
    assert result.current_lu == 0  # at 3 h − 1 ms c1 is unknown, c2 is outside


def test_unknown_collars_do_not_dilute_the_herd() -> None:
    a = square("a", 0)
    model = GrazingModel([a], [Herd("h", {"horse": 8}, ("c1", "c2"))])  # 8 × 1.25 = 10 LU
    # c2 gives one fix outside and falls silent: after 45 min only c1 is known, and c1 is in A.
    fixes = {"c1": track("c1", T0, 15 * MIN, [A_IN] * 9), "c2": [fix("c2", T0, OUTSIDE)]}
    result = model.evaluate(fixes, T0, T0 + 2 * HOUR).by_id()["a"]
    assert result.lu_days == pytest.approx(10 * (0.5 * 45 + 1.0 * 75) * MIN / DAY)
    assert result.current_lu == pytest.approx(10)


def test_max_gap_follows_the_device_interval_and_is_capped_at_two_hours() -> None:
    a = square("a", 0)
    model = GrazingModel([a], [Herd("h", {"cattle": 1}, ("slow", "fast"))])
    fixes = {"slow": [fix("slow", T0, A_IN)], "fast": [fix("fast", T0, B_IN)]}
    intervals = {"slow": 3600.0, "fast": 60.0}  # 3 × 1 h = 3 h, capped to 2 h; 3 × 1 min
    result = model.evaluate(fixes, T0, T0 + 5 * HOUR, expected_interval_s=intervals)
    # 0–3 min both known (slow in A): 1/2; 3 min–2 h only slow known: 1; then nothing.
    expected = 1 * (0.5 * 3 * MIN + 1.0 * (120 - 3) * MIN) / DAY
    assert result.by_id()["a"].lu_days == pytest.approx(expected)


def test_herd_split_across_two_pastures() -> None:
    a, b = square("a", 0), square("b", 1)
    herd = Herd("h", {"cattle": 20}, ("c1", "c2", "c3", "c4"))
    model = GrazingModel([a, b], [herd])
    fixes = {
        c: track(c, T0, 10 * MIN, [A_IN if c != "c4" else B_IN] * 7)
        for c in ("c1", "c2", "c3", "c4")
    }
    result = model.evaluate(fixes, T0, T0 + HOUR).by_id()
    assert result["a"].current_lu == pytest.approx(15)
    assert result["b"].current_lu == pytest.approx(5)
    assert result["a"].lu_days == pytest.approx(15 / 24)
    assert result["b"].lu_days == pytest.approx(5 / 24)
    assert result["a"].herds[0].fraction_now == pytest.approx(0.75)
    assert result["a"].herds_present == result["b"].herds_present == ("h",)


def test_two_herds_in_one_pasture_add_up() -> None:
    a = square("a", 0)
    h1 = Herd("h1", {"goat": 40}, ("g1",))  # 6 LU
    h2 = Herd("h2", {"camel": 4}, ("k1",))  # 5 LU
    model = GrazingModel([a], [h1, h2])
    fixes = {c: track(c, T0, 15 * MIN, [A_IN] * 5) for c in ("g1", "k1")}
    result = model.evaluate(fixes, T0, T0 + HOUR).by_id()["a"]
    assert result.current_lu == pytest.approx(11)
    assert result.lu_days == pytest.approx(11 / 24)
    assert {h.herd_id: h.lu_days for h in result.herds} == pytest.approx(
        {"h1": 6 / 24, "h2": 5 / 24}
    )
    assert result.herds_present == ("h1", "h2")


@pytest.mark.parametrize(
    "where",
    [
        pytest.param((LON0 + CELL, LAT0 + CELL / 2), id="on the shared edge"),
        pytest.param((LON0 + CELL, LAT0), id="on the shared vertex"),
    ],
)
def test_a_point_on_the_boundary_counts_as_inside(where: tuple[float, float]) -> None:
    a, b = square("a", 0), square("b", 1)
    model = GrazingModel([a, b], [Herd("h", {"cattle": 3}, ("c1",))])
    fixes = {"c1": track("c1", T0, 15 * MIN, [where] * 5)}
    result = model.evaluate(fixes, T0, T0 + HOUR).by_id()
    for pasture in ("a", "b"):
        assert result[pasture].lu_days == pytest.approx(3 / 24)
        assert result[pasture].current_lu == pytest.approx(3)


def test_a_point_on_the_rim_of_a_hole_counts_as_inside() -> None:
    ring = box(LON0, LAT0, LON0 + 3 * CELL, LAT0 + 3 * CELL).difference(
        box(LON0 + CELL, LAT0 + CELL, LON0 + 2 * CELL, LAT0 + 2 * CELL)
    )
    donut = Pasture.from_geometry("donut", "sogety", ring)
    model = GrazingModel([donut], [Herd("h", {"cattle": 1}, ("in-hole", "on-hole-edge"))])
    fixes = {
        "in-hole": track("in-hole", T0, 15 * MIN, [centre(1, 1)] * 5),
        "on-hole-edge": track("on-hole-edge", T0, 15 * MIN, [(LON0 + CELL, LAT0 + 1.5 * CELL)] * 5),
    }
    result = model.evaluate(fixes, T0, T0 + HOUR).by_id()["donut"]
    assert result.current_lu == pytest.approx(0.5)  # the hole's rim is the pasture's boundary


def test_flagged_fixes_are_ignored() -> None:
    a = square("a", 0)
    model = GrazingModel([a], [Herd("h", {"cattle": 2}, ("c1",))])
    # Valid fixes outside every 15 min; flagged ones inside A in between (zero fix, hdop,
    # speed). A flagged fix neither counts nor cuts the hold of the valid fix before it.
    fixes = {
        "c1": [
            *track("c1", T0, 15 * MIN, [OUTSIDE] * 5),
            fix("c1", T0 + 5 * MIN, A_IN, seq=10, flags={PositionFlag.HDOP}),
            fix("c1", T0 + 20 * MIN, A_IN, seq=11, flags={PositionFlag.SPEED}),
            fix("c1", T0 + 50 * MIN, (0.0, 0.0), seq=12, flags={PositionFlag.ZERO}),
        ]
    }
    result = model.evaluate(fixes, T0, T0 + HOUR)
    assert result.by_id()["a"].lu_days == 0
    assert result.counts.flagged == 3
    assert result.counts.used == 5
    # and the same fixes unflagged do land in A, so the scenario can detect a regression
    unflagged = {"c1": [fix(r.device_id, r.ts_ms, (r.lon, r.lat), r.seq) for r in fixes["c1"]]}
    assert model.evaluate(unflagged, T0, T0 + HOUR).by_id()["a"].lu_days > 0


def test_unassigned_and_impossible_fixes_are_counted_not_used() -> None:
    a = square("a", 0)
    model = GrazingModel([a], [Herd("h", {"cattle": 1}, ("c1",))])
    fixes = {
        "c1": [fix("c1", T0, A_IN), fix("c1", T0 + MIN, (200.0, 43.5), seq=1)],
        "stranger": [fix("stranger", T0, A_IN)],
    }
    result = model.evaluate(fixes, T0, T0 + HOUR)
    assert result.counts.unassigned == 1
    assert result.counts.out_of_range == 1
    assert result.counts.used == 1
    # the impossible fix is dropped, so the first fix holds its full 45 min
    assert result.by_id()["a"].lu_days == pytest.approx(45 * MIN / DAY)


def test_same_time_fixes_resolve_by_sequence_number() -> None:
    a, b = square("a", 0), square("b", 1)
    model = GrazingModel([a, b], [Herd("h", {"cattle": 1}, ("c1",))])
    fixes = {"c1": [fix("c1", T0, B_IN, seq=8), fix("c1", T0, A_IN, seq=7)]}
    result = model.evaluate(fixes, T0, T0 + HOUR).by_id()
    assert result["b"].lu_days == pytest.approx(45 * MIN / DAY)
    assert result["a"].lu_days == 0


def test_capacity_and_utilisation() -> None:
    a = square("a", 0, productivity_kg_dm_ha=1180.0)
    model = GrazingModel([a], [Herd("h", {"cattle": 100}, ("c1",))])
    fixes = {"c1": track("c1", T0, 15 * MIN, [A_IN] * 100)}
    result = model.evaluate(fixes, T0, T0 + 24 * HOUR).by_id()["a"]
    capacity = 1180.0 * 0.5 / 11.8 * 1.0  # = 50 LU-days/ha with no soil station
    assert result.capacity_lu_days_per_ha == pytest.approx(capacity)
    assert result.lu_days_per_ha == pytest.approx(100 / a.area_ha)
    assert result.utilisation == pytest.approx(100 / a.area_ha / capacity)


def test_configured_coefficients_and_intake_are_used() -> None:
    config = GrazingConfig(
        lu_coefficients={"cattle": 0.8, "sheep": 0.1, "yak": 1.1},
        intake_kg_dm_per_lu_day=12.0,
        utilisation=0.4,
    )
    a = square("a", 0, productivity_kg_dm_ha=900.0)
    herd = Herd("h", {"cattle": 10, "sheep": 20, "yak": 10}, ("c1",))
    model = GrazingModel([a], [herd], config=config)
    assert model.herd_lu("h") == pytest.approx(8 + 2 + 11)
    fixes = {"c1": track("c1", T0, 15 * MIN, [A_IN] * 5)}
    result = model.evaluate(fixes, T0, T0 + HOUR).by_id()["a"]
    assert result.current_lu == pytest.approx(21)
    assert result.capacity_lu_days_per_ha == pytest.approx(900 * 0.4 / 12)


def test_unknown_productivity_leaves_capacity_unknown() -> None:
    model = GrazingModel([square("a", 0)], [Herd("h", {"cattle": 1}, ("c1",))])
    result = model.evaluate({"c1": [fix("c1", T0, A_IN)]}, T0, T0 + HOUR).by_id()["a"]
    assert result.capacity_lu_days_per_ha is None
    assert result.utilisation is None
    assert math.isfinite(result.lu_days_per_ha)


def test_current_state_at_an_instant_inside_the_window() -> None:
    a = square("a", 0)
    model = GrazingModel([a], [Herd("h", {"cattle": 6}, ("c1", "c2"))])
    fixes = {
        "c1": track("c1", T0, 15 * MIN, [A_IN, A_IN, OUTSIDE, OUTSIDE, OUTSIDE]),
        "c2": track("c2", T0, 15 * MIN, [A_IN] * 5),
    }
    at_20 = model.evaluate(fixes, T0, T0 + HOUR, at_ms=T0 + 20 * MIN).by_id()["a"]
    at_40 = model.evaluate(fixes, T0, T0 + HOUR, at_ms=T0 + 40 * MIN).by_id()["a"]
    assert at_20.current_lu == pytest.approx(6)
    assert at_40.current_lu == pytest.approx(3)
    assert at_20.lu_days == at_40.lu_days  # the window's integral does not depend on `at`


def test_season_utilisation_counts_from_the_season_start() -> None:
    # A summer pasture evaluated on 10 June 2026, 12:00 Almaty (UTC+5): the season began on
    # 1 June 00:00 local = 31 May 19:00 UTC. Grazing before that is last season's.
    from datetime import UTC, datetime

    def utc_ms(*args: int) -> int:
        return round(datetime(*args, tzinfo=UTC).timestamp() * 1000)

    summer = square("jailau", 0, productivity_kg_dm_ha=2360.0, season="summer")
    model = GrazingModel([summer], [Herd("h", {"cattle": 50}, ("c1",))])
    season_start = utc_ms(2026, 5, 31, 19)
    now = utc_ms(2026, 6, 10, 7)
    fixes = {"c1": track("c1", season_start - 2 * HOUR, 30 * MIN, [A_IN] * 12)}  # 6 h of fixes
    result = model.evaluate_season(fixes, now).by_id()["jailau"]
    assert result.start_ms == season_start
    # The last fix (at +3.5 h after the season start) holds 45 min: 4 h 15 min in season.
    in_season_ms = 4 * HOUR + 15 * MIN
    gp = 50 * in_season_ms / DAY / summer.area_ha
    assert result.lu_days_per_ha == pytest.approx(gp)
    assert result.utilisation == pytest.approx(gp / (2360.0 * 0.5 / 11.8))


def test_inputs_are_validated_with_names() -> None:
    a = square("a", 0)
    with pytest.raises(GrazingInputError, match="'c1' is in two herds"):
        GrazingModel([a], [Herd("h1", {"cattle": 1}, ("c1",)), Herd("h2", {"cattle": 1}, ("c1",))])
    with pytest.raises(GrazingInputError, match="no LU coefficient for llama"):
        GrazingModel([a], [Herd("h1", {"llama": 1}, ("c1",))])
    with pytest.raises(GrazingInputError, match="pasture 'a' is given twice"):
        GrazingModel([a, a], [])
    with pytest.raises(GrazingInputError, match="geometry must be a polygon"):
        Pasture("p", "sogety", box(0, 0, 1, 1).boundary, 1.0)
    with pytest.raises(GrazingInputError, match="productivity"):
        square("p", 0, productivity_kg_dm_ha=0.0)
    with pytest.raises(ValueError, match="end must come after"):
        GrazingModel([a], []).evaluate({}, T0, T0)


def test_no_fixes_and_no_herds_give_zeros() -> None:
    model = GrazingModel([square("a", 0)], [Herd("h", {"cattle": 1}, ("c1",))])
    result = model.evaluate({}, T0, T0 + HOUR).by_id()["a"]
    assert (result.lu_days, result.current_lu, result.herds) == (0.0, 0.0, ())
    assert GrazingModel([], []).evaluate({}, T0, T0 + HOUR).pastures == ()


def test_bad_expected_interval_is_refused() -> None:
    model = GrazingModel([square("a", 0)], [Herd("h", {"cattle": 1}, ("c1",))])
    with pytest.raises(ValueError, match="expected intervals must be positive"):
        model.evaluate({}, T0, T0 + HOUR, expected_interval_s={"c1": 0.0})


def test_api_fields_carry_the_issue_contract() -> None:
    model = GrazingModel([square("a", 0, productivity_kg_dm_ha=1180.0)], [HERD_OF_TWO])
    fixes = {c: track(c, T0, 15 * MIN, [A_IN] * 5) for c in HERD_OF_TWO.collar_ids}
    fields = model.evaluate(fixes, T0, T0 + HOUR).by_id()["a"].api_fields()
    issue_fields = {
        "lu_days_per_ha",
        "capacity_lu_days_per_ha",
        "utilisation",
        "moisture_factor",
        "current_lu",
        "current_density_lu_per_ha",
        "herds_present",
    }
    assert issue_fields <= set(fields)
    assert fields["herds_present"] == ["h2c"]
    assert fields["herds"][0]["hours"] == pytest.approx(1.0)


def test_per_pasture_windows_need_every_pasture() -> None:
    model = GrazingModel([square("a", 0), square("b", 1)], [HERD_OF_TWO])
    with pytest.raises(ValueError, match="no window start for pasture 'b'"):
        model.evaluate_from({}, {"a": T0}, T0 + HOUR)
    with pytest.raises(KeyError):
        model.herd_lu("nobody")


HERD_OF_TWO = Herd("h2c", {"cattle": 2}, ("x1", "x2"))

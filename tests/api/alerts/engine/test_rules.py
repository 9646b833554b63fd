"""Rule by rule, the cases the generic lifecycle test does not reach: plan windows, split
herds, okrugs, gaps, trends, sustain times and missing inputs."""

from __future__ import annotations

import dataclasses

import pytest

from api.alerts.engine import (
    Condition,
    EngineConfig,
    Herd,
    PastureGrazing,
    PastureStatus,
    PlanEntry,
    Sample,
    Severity,
    Snapshot,
)
from api.alerts.engine.context import Evaluation
from api.alerts.engine.rules import RULES
from api.alerts.engine.rules.low_battery import days_to_empty
from jaylym.models import DeviceInfo
from tests.api.alerts.engine.rule_scenarios import C1, P1, P2, drought, immobile, overstocked
from tests.api.alerts.engine.scenario import (
    DAY,
    HOUR,
    MIN,
    OKRUG,
    T0,
    collar,
    every,
    pasture,
    track,
)


def conds(rule: str, snap: Snapshot, cfg: EngineConfig | None = None) -> list[Condition] | None:
    return RULES[rule].evaluate(Evaluation(snap, cfg or EngineConfig()))


def firing(rule: str, snap: Snapshot) -> dict[str, Condition]:
    found = conds(rule, snap)
    assert found is not None
    return {c.subject.key: c for c in found if c.fires}


def stay(device: str, east: float, since: int, now: int = T0, herd: str = "h1") -> list:  # type: ignore[type-arg]
    return track(device, [(t, east, 500) for t in every(since, now, 5 * MIN)], herd_id=herd)


P3 = pasture("p3", 4000)


# --- off plan ----------------------------------------------------------------------------


def test_off_plan_outside_the_plan_window() -> None:
    plan = [PlanEntry("h1", "p1", T0 - 30 * DAY, T0 - 45 * MIN)]
    snap = Snapshot(
        now_ms=T0, pastures=[P1], devices=[C1], plan=plan,
        fixes={"c-001": stay("c-001", 500, T0 - 8 * HOUR)},
    )  # fmt: skip
    (c,) = firing("off_plan", snap).values()
    assert (c.subject.pasture_id, c.context["reason"], c.value) == ("p1", "outside_window", 45.0)


def test_off_plan_in_a_pasture_the_plan_does_not_give_the_herd() -> None:
    plan = [PlanEntry("h1", "p1", T0 - DAY, T0 + DAY)]
    snap = Snapshot(
        now_ms=T0, pastures=[P1, P3], devices=[C1], plan=plan,
        fixes={"c-001": stay("c-001", 4500, T0 - HOUR)},
    )  # fmt: skip
    (c,) = firing("off_plan", snap).values()
    assert (c.subject.pasture_id, c.context["reason"]) == ("p3", "not_in_plan")


def test_off_plan_without_any_plan_entry_checks_status_only() -> None:
    base = Snapshot(now_ms=T0, pastures=[P1, P2], devices=[C1], plan=[])
    in_open = dataclasses.replace(base, fixes={"c-001": stay("c-001", 500, T0 - HOUR)})
    in_resting = dataclasses.replace(base, fixes={"c-001": stay("c-001", 2500, T0 - HOUR)})
    assert firing("off_plan", in_open) == {}
    (c,) = firing("off_plan", in_resting).values()
    assert c.context["reason"] == "resting"


def test_off_plan_split_herd_and_two_herds() -> None:
    """h1 split: one collar in resting p2, one in p1. h2 entirely in p2. Two alerts, one per
    (herd, pasture), each with the longest time any collar of the herd spent there."""
    devices = [collar("c-001"), collar("c-002"), collar("c-101", "h2"), collar("c-102", "h2")]
    fixes = {
        "c-001": stay("c-001", 2500, T0 - 50 * MIN),
        "c-002": stay("c-002", 500, T0 - 8 * HOUR),
        "c-101": stay("c-101", 2600, T0 - 7 * HOUR, herd="h2"),
        "c-102": stay("c-102", 2700, T0 - 40 * MIN, herd="h2"),
    }
    snap = Snapshot(now_ms=T0, pastures=[P1, P2], devices=devices, plan=[], fixes=fixes)
    found = firing("off_plan", snap)
    assert set(found) == {"herd:h1/pasture:p2", "herd:h2/pasture:p2"}
    h1, h2 = found["herd:h1/pasture:p2"], found["herd:h2/pasture:p2"]
    assert (h1.severity, h1.value, h1.context["collars_inside"]) == (Severity.WARNING, 50.0, 1)
    assert (h2.severity, h2.value, h2.context["collars_inside"]) == (Severity.CRITICAL, 420.0, 2)


def test_off_plan_needs_the_plan() -> None:
    snap = Snapshot(now_ms=T0, pastures=[P2], devices=[C1], fixes={"c-001": []})
    assert conds("off_plan", snap) is None


# --- stray ---------------------------------------------------------------------------------


def test_stray_ignores_pastures_of_other_okrugs() -> None:
    elsewhere = pasture("q1", 2000, okrug="asy")
    snap = Snapshot(
        now_ms=T0, pastures=[P1, elsewhere], devices=[C1],
        fixes={"c-001": stay("c-001", 2500, T0 - HOUR)},
    )  # fmt: skip
    (c,) = firing("stray", snap).values()
    assert c.context["nearest_pasture_id"] == "p1"
    assert 1400 < c.context["nearest_pasture_m"] < 1600  # type: ignore[operator]
    no_home = dataclasses.replace(snap, pastures=[elsewhere])
    assert conds("stray", no_home) == []


def test_stray_run_restarts_after_a_gap_longer_than_max_gap() -> None:
    # Outside for 50 min, but with 20 min between two fixes (max_gap is 15 min).
    path = [(T0 - m * MIN, 2500, 500) for m in (50, 45, 40, 20, 15, 10, 5, 0)]
    snap = Snapshot(now_ms=T0, pastures=[P1], devices=[C1], fixes={"c-001": track("c-001", path)})
    (c,) = conds("stray", snap)  # type: ignore[misc]
    assert (c.severity, c.value) == (None, 20.0)


def test_stray_with_unknown_position_holds_but_never_opens() -> None:
    fixes = {"c-001": stay("c-001", 2500, T0 - 2 * HOUR, now=T0 - HOUR)}
    snap = Snapshot(now_ms=T0, pastures=[P1], devices=[C1], fixes=fixes)
    (c,) = conds("stray", snap)  # type: ignore[misc]
    assert (c.severity, c.value, c.context["position_known"]) == (None, None, False)


# --- immobile ------------------------------------------------------------------------------


def test_immobile_needs_ten_hours_of_unbroken_fixes() -> None:
    short = dataclasses.replace(
        immobile("warning", T0),
        fixes={"c-001": stay("c-001", 500, T0 - 8 * HOUR)},
    )
    (c,) = conds("immobile", short)  # type: ignore[misc]
    assert c.severity is None
    gap = [
        (t, 500, 500) for t in every(T0 - 12 * HOUR, T0, 15 * MIN) if abs(t - T0 + 5 * HOUR) > HOUR
    ]
    broken = dataclasses.replace(short, fixes={"c-001": track("c-001", gap)})
    (c,) = conds("immobile", broken)  # type: ignore[misc]
    assert c.severity is None


def test_immobile_ignores_the_noisiest_fixes() -> None:
    times = every(T0 - 12 * HOUR, T0, 15 * MIN)
    path = [(t, 500 + (45 if i == 7 else 5 * (i % 2)), 500) for i, t in enumerate(times)]
    snap = dataclasses.replace(immobile("warning", T0), fixes={"c-001": track("c-001", path)})
    (c,) = firing("immobile", snap).values()
    assert c.value is not None
    assert c.value < 10


# --- device offline, low battery -------------------------------------------------------


def test_offline_per_device_interval_never_seen_and_inactive() -> None:
    soil = DeviceInfo("s-001", "soil", OKRUG, None, expected_interval_s=3600)
    new = DeviceInfo("c-009", "collar", OKRUG, "h1")
    gone = DeviceInfo("c-010", "collar", OKRUG, "h1", active=False)
    last = {"s-001": T0 - 2 * HOUR, "c-010": T0 - 30 * DAY}
    snap = Snapshot(now_ms=T0, devices=[soil, new, gone], last_seen_ms=last)
    assert firing("device_offline", snap) == {}
    later = dataclasses.replace(snap, now_ms=T0 + HOUR)
    (c,) = firing("device_offline", later).values()
    assert (c.subject.device_id, c.value, c.context["device_kind"]) == ("s-001", 180.0, "soil")


def test_days_to_empty_from_a_falling_trend() -> None:
    # 0.05 V a day, at 3.45 V now: 5 days to the 3.2 V empty level.
    series = [Sample(t, 3.45 - 0.05 * (t - T0) / DAY) for t in every(T0 - 3 * DAY, T0, 6 * HOUR)]
    cfg = EngineConfig().low_battery
    dte = days_to_empty(series, T0, 3.2, cfg)
    assert dte == pytest.approx(5.0, rel=1e-6)
    assert days_to_empty([Sample(t, 3.4) for t in every(T0 - DAY, T0, HOUR)], T0, 3.2, cfg) is None
    assert days_to_empty(series[-3:], T0, 3.2, cfg) is None  # too few samples for a trend
    snap = Snapshot(now_ms=T0, devices=[C1], battery={"c-001": series})
    (c,) = firing("low_battery", snap).values()
    # The level is the median of the last three samples: 3.4625 V.
    assert (c.severity, c.value, c.context["days_to_empty"]) == (Severity.WARNING, 3.463, 5.0)


def test_battery_falling_fast_is_critical_before_the_critical_voltage() -> None:
    series = [Sample(t, 3.38 - 0.1 * (t - T0) / DAY) for t in every(T0 - 2 * DAY, T0, 4 * HOUR)]
    snap = Snapshot(now_ms=T0, devices=[C1], battery={"c-001": series})
    (c,) = firing("low_battery", snap).values()
    assert c.severity is Severity.CRITICAL
    assert c.value > 3.3  # type: ignore[operator]
    assert c.context["days_to_empty"] == pytest.approx(1.8, abs=0.05)


def test_one_sag_under_load_does_not_fire_and_kinds_have_their_own_levels() -> None:
    series = [Sample(t, 3.8) for t in every(T0 - DAY, T0 - HOUR, HOUR)] + [Sample(T0, 3.1)]
    snap = Snapshot(now_ms=T0, devices=[C1], battery={"c-001": series})
    assert firing("low_battery", snap) == {}
    soil = DeviceInfo("s-001", "soil", OKRUG, None)
    flat = [Sample(t, 3.45) for t in every(T0 - DAY, T0, HOUR)]
    cfg = EngineConfig.model_validate({"low_battery": {"warning_v": {"soil": 3.4, "collar": 3.5}}})
    both = Snapshot(now_ms=T0, devices=[C1, soil], battery={"c-001": flat, "s-001": flat})
    found = {c.subject.device_id: c for c in conds("low_battery", both, cfg) or [] if c.fires}
    assert set(found) == {"c-001"}


# --- pasture rules -------------------------------------------------------------------------


def test_overstocked_waits_for_the_sustain_time_and_needs_a_limit() -> None:
    snap = overstocked("warning", T0)
    g = snap.grazing["p1"]  # type: ignore[index]
    recent = [s for s in g.density_series if s.ts_ms >= T0 - 20 * MIN]
    older = [Sample(s.ts_ms, 0.5) for s in g.density_series if s.ts_ms < T0 - 20 * MIN]
    short = dataclasses.replace(
        snap, grazing={"p1": dataclasses.replace(g, density_series=older + recent)}
    )
    (c,) = conds("overstocked", short)  # type: ignore[misc]
    assert (c.severity, c.context["above_limit_min"]) == (None, 20.0)
    unlimited = dataclasses.replace(
        snap, pastures=[dataclasses.replace(P1, load_limit_lu_per_ha=None)]
    )
    assert conds("overstocked", unlimited) == []


def test_drought_needs_herds_and_an_unbroken_week() -> None:
    snap = drought("warning", T0)
    g = snap.grazing["p1"]  # type: ignore[index]
    empty = dataclasses.replace(snap, grazing={"p1": dataclasses.replace(g, herds_present=())})
    assert conds("drought", empty) == []
    five_days = [s for s in g.moisture_series if s.ts_ms >= T0 - 5 * DAY]
    wet_before = [Sample(s.ts_ms, 0.9) for s in g.moisture_series if s.ts_ms < T0 - 5 * DAY]
    young = dataclasses.replace(
        snap, grazing={"p1": dataclasses.replace(g, moisture_series=wet_before + five_days)}
    )
    (c,) = conds("drought", young)  # type: ignore[misc]
    assert (c.severity, c.context["days_below"]) == (None, 5.0)
    holey = [s for s in g.moisture_series if not T0 - 6 * DAY < s.ts_ms < T0 - 2 * DAY]
    gap = dataclasses.replace(snap, grazing={"p1": dataclasses.replace(g, moisture_series=holey)})
    (c,) = conds("drought", gap)  # type: ignore[misc]
    assert c.severity is None


def test_pasture_rules_skip_without_grazing_outputs_and_pastures_without_numbers() -> None:
    bare = Snapshot(now_ms=T0, pastures=[P1], herds=[Herd("h1", OKRUG)])
    for rule in ("overgrazing", "overstocked", "drought"):
        assert conds(rule, bare) is None
        assert conds(rule, dataclasses.replace(bare, grazing={})) == []
    other = {"p9": PastureGrazing("p9", 2.0, 5.0, 0.3, ("h1",))}
    assert conds("overgrazing", dataclasses.replace(bare, grazing=other)) == []


def test_disabled_rules_report_nothing() -> None:
    from tests.api.alerts.engine.scenario import make_engine

    cfg = EngineConfig.model_validate({"device_offline": {"enabled": False}})
    engine, _ = make_engine(config=cfg)
    snap = Snapshot(now_ms=T0, devices=[C1], last_seen_ms={"c-001": T0 - DAY})
    assert engine.evaluate(snap).transitions == {}
    assert PastureStatus.CLOSED.value == "closed"


def test_overstocked_uses_the_stricter_plan_limit_in_force() -> None:
    snap = overstocked("band", T0)  # 0.95 LU/ha: under the legal 1.0
    strict = PlanEntry("h1", "p1", T0 - DAY, T0 + DAY, load_limit_lu_per_ha=0.8)
    expired = PlanEntry("h1", "p1", T0 - 2 * DAY, T0 - DAY, load_limit_lu_per_ha=0.5)
    (c,) = firing("overstocked", dataclasses.replace(snap, plan=[strict, expired])).values()
    assert (c.context["load_limit_lu_per_ha"], c.context["limit_source"]) == (0.8, "plan")
    lax = PlanEntry("h1", "p1", T0 - DAY, T0 + DAY, load_limit_lu_per_ha=2.0)
    (c,) = conds("overstocked", dataclasses.replace(snap, plan=[lax, expired]))  # type: ignore[misc]
    assert (c.severity, c.context["limit_source"]) == (None, "legal")


def test_off_plan_silent_collar_holds_only_while_its_whole_herd_is_unknown() -> None:
    dead = stay("c-001", 2500, T0 - 3 * HOUR, now=T0 - 2 * HOUR)  # went quiet inside p2
    alive = stay("c-002", 500, T0 - 3 * HOUR)  # the rest of the herd, in p1
    devices = [collar("c-001"), collar("c-002")]
    snap = Snapshot(now_ms=T0, pastures=[P1, P2], devices=devices, plan=[], fixes={"c-001": dead})
    (c,) = conds("off_plan", snap)  # type: ignore[misc]
    assert (c.severity, c.value, c.context["position_known"]) == (None, None, False)
    known = dataclasses.replace(snap, fixes={"c-001": dead, "c-002": alive})
    assert conds("off_plan", known) == []

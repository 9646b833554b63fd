"""Messy inputs never crash a rule: flagged, duplicated, future and out-of-order fixes,
empty series, NaN from an upstream division by zero, unknown kinds, odd plans."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.alerts.engine import (
    EngineConfig,
    PastureGrazing,
    PastureStatus,
    PlanEntry,
    Sample,
    Snapshot,
)
from api.alerts.engine.context import Evaluation
from api.alerts.engine.rules import RULES
from jaylym.models import DeviceInfo, PositionFlag, PositionReading
from tests.api.alerts.engine.scenario import HOUR, T0, at, pasture

NOW = T0
OKRUGS = ("sogety", "asy")
HERDS = ("h1", "h2", None)
# Mostly ordinary values, often enough the non-finite ones a division by zero upstream gives.
numbers = st.floats(0, 2) | st.sampled_from([math.nan, math.inf, -math.inf, 0.0])
times = st.integers(NOW - 14 * HOUR, NOW + HOUR)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    pastures = [
        pasture(
            f"p{i}",
            draw(st.floats(-2000, 4000)),
            draw(st.floats(-2000, 2000)),
            draw(st.floats(10, 2000)),
            status=draw(st.sampled_from(list(PastureStatus))),
            limit=draw(st.none() | st.floats(-1, 3) | st.sampled_from([math.nan, math.inf])),
            okrug=draw(st.sampled_from(OKRUGS)),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    devices = [
        DeviceInfo(
            f"d-{i:03d}",
            draw(st.sampled_from(["collar", "soil"])),
            draw(st.sampled_from(OKRUGS)),
            draw(st.sampled_from(HERDS)),
            active=draw(st.booleans()),
            expected_interval_s=draw(st.integers(1, 7200)),
        )
        for i in range(draw(st.integers(0, 4)))
    ]
    fixes = {}
    for d in devices:
        readings = []
        for seq in range(draw(st.integers(0, 10))):
            lon, lat = at(draw(st.floats(-3000, 5000)), draw(st.floats(-3000, 3000)))
            if draw(st.integers(0, 20)) == 0:
                lat = math.nan
            flags = draw(st.frozensets(st.sampled_from([f.value for f in PositionFlag])))
            readings.append(PositionReading(d.device_id, draw(times), seq, lat, lon, flags=flags))
        fixes[d.device_id] = readings
    series = st.lists(st.builds(Sample, times, numbers), max_size=6)
    grazing = {
        p.id: PastureGrazing(
            p.id,
            draw(numbers),
            draw(numbers),
            draw(numbers),
            tuple(draw(st.lists(st.sampled_from(["h1", "h2"]), max_size=2))),
            density_series=draw(series),
            moisture_series=draw(series),
        )
        for p in pastures
        if draw(st.booleans())
    }
    plan = [
        PlanEntry(
            draw(st.sampled_from(["h1", "h2"])),
            draw(st.sampled_from([p.id for p in pastures] + ["p-gone"])),
            draw(times),
            draw(times),
            draw(st.none() | st.floats(-1, 3)),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return Snapshot(
        now_ms=NOW,
        pastures=pastures,
        devices=devices,
        plan=draw(st.none() | st.just(plan)),
        fixes=draw(st.none() | st.just(fixes)),
        grazing=draw(st.none() | st.just(grazing)),
        last_seen_ms=draw(
            st.none()
            | st.dictionaries(st.sampled_from([d.device_id for d in devices] or ["x"]), times)
        ),
        battery=draw(
            st.none()
            | st.dictionaries(st.sampled_from([d.device_id for d in devices] or ["x"]), series)
        ),
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_no_rule_crashes_and_every_number_is_finite(snap: Snapshot) -> None:
    ev = Evaluation(snap, EngineConfig())
    for name, rule in RULES.items():
        found = rule.evaluate(ev)
        if found is None:
            continue
        keys = [c.subject.key for c in found]
        assert len(keys) == len(set(keys)), name
        for c in found:
            assert c.rule == name
            assert c.value is None or math.isfinite(c.value), (name, c)
            for v in c.context.values():
                assert not isinstance(v, float) or math.isfinite(v), (name, c)

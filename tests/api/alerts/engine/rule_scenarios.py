"""For every rule: a snapshot at each level -- "warning", "critical", "band" (between the
clear and fire thresholds: hysteresis) and "clear" -- at any evaluation time.

Each factory builds its data relative to `now`, so one generic test can walk every rule
through firing, escalating, repeating, holding in the band and resolving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from api.alerts.engine import (
    Herd,
    PastureGrazing,
    PastureStatus,
    PlanEntry,
    Sample,
    Snapshot,
    Subject,
    SubjectKind,
)
from jaylym.models import DeviceInfo
from tests.api.alerts.engine.scenario import (
    DAY,
    HOUR,
    MIN,
    OKRUG,
    collar,
    every,
    pasture,
    track,
)

Factory = Callable[[str, int], Snapshot]

P1 = pasture("p1", 0, limit=1.0)
P2 = pasture("p2", 2000, status=PastureStatus.RESTING)
HERD = Herd("h1", OKRUG, "Askar's cattle", ("herder-1",))
C1 = collar("c-001")


def overgrazing(level: str, now: int) -> Snapshot:
    u = {"warning": 0.85, "critical": 1.05, "band": 0.77, "clear": 0.5}[level]
    g = PastureGrazing("p1", utilisation=u, current_density_lu_per_ha=0.2, moisture_factor=1.0)
    return Snapshot(now_ms=now, pastures=[P1], herds=[HERD], grazing={"p1": g})


def overstocked(level: str, now: int) -> Snapshot:
    d = {"warning": 1.2, "critical": 1.6, "band": 0.95, "clear": 0.5}[level]
    series = [Sample(t, d) for t in every(now - 2 * HOUR, now, 5 * MIN)]
    g = PastureGrazing("p1", 0.3, d, 1.0, ("h1",), density_series=series)
    return Snapshot(now_ms=now, pastures=[P1], herds=[HERD], grazing={"p1": g})


def drought(level: str, now: int) -> Snapshot:
    m = {"warning": 0.45, "critical": 0.32, "band": 0.52, "clear": 0.8}[level]
    series = [Sample(t, m) for t in every(now - 10 * DAY, now, DAY)]
    g = PastureGrazing("p1", 0.3, 0.2, m, ("h1",), moisture_series=series)
    return Snapshot(now_ms=now, pastures=[P1], herds=[HERD], grazing={"p1": g})


def device_offline(level: str, now: int) -> Snapshot:
    silent = {"warning": 50 * MIN, "critical": 25 * HOUR, "clear": 1 * MIN}[level]
    dev = DeviceInfo("c-001", "collar", OKRUG, "h1", expected_interval_s=900)
    return Snapshot(now_ms=now, devices=[dev], last_seen_ms={"c-001": now - silent})


def low_battery(level: str, now: int) -> Snapshot:
    v = {"warning": 3.45, "critical": 3.25, "band": 3.55, "clear": 3.9}[level]
    series = [Sample(t, v) for t in every(now - 3 * DAY, now, 6 * HOUR)]
    return Snapshot(now_ms=now, devices=[C1], battery={"c-001": series})


def _walk(now: int, inside_for: int, span: int = 8 * HOUR) -> list[tuple[int, float, float]]:
    """Fixes every 5 min: at (500, 500) -- inside p1 -- until `now - inside_for`, then at
    (2500, 500) -- inside p2, outside p1 -- until now."""
    return [
        (t, 2500.0 if t >= now - inside_for else 500.0, 500.0)
        for t in every(now - span, now, 5 * MIN)
    ]


def off_plan(level: str, now: int) -> Snapshot:
    # p2 is resting: being in it is off plan. "clear": back in p1, which the plan allows.
    inside = {"warning": 45 * MIN, "critical": 7 * HOUR, "band": 10 * MIN, "clear": -1}[level]
    fixes = track("c-001", _walk(now, inside))
    plan = [PlanEntry("h1", "p1", now - 30 * DAY, now + 30 * DAY)]
    return Snapshot(
        now_ms=now,
        pastures=[P1, P2],
        herds=[HERD],
        devices=[C1],
        plan=plan,
        fixes={"c-001": fixes},
    )


def stray(level: str, now: int) -> Snapshot:
    # Only p1 is registered here, so (2500, 500) is outside every pasture of the okrug.
    outside = {"warning": 45 * MIN, "critical": 7 * HOUR, "band": 10 * MIN, "clear": -1}[level]
    fixes = track("c-001", _walk(now, outside))
    return Snapshot(now_ms=now, pastures=[P1], devices=[C1], fixes={"c-001": fixes})


def immobile(level: str, now: int) -> Snapshot:
    # 12 h of fixes; the animal shuffles around a point by +-amplitude metres.
    amplitude = {"warning": 10.0, "band": 35.0, "clear": 400.0}[level]
    times = every(now - 12 * HOUR, now, 15 * MIN)
    path = [
        (t, 500 + amplitude * ((i % 3) - 1), 500 + amplitude * ((i % 2) * 2 - 1))
        for i, t in enumerate(times)
    ]
    return Snapshot(now_ms=now, pastures=[P1], devices=[C1], fixes={"c-001": track("c-001", path)})


@dataclass(frozen=True)
class RuleScenario:
    rule: str
    make: Factory
    subject: Subject
    levels: frozenset[str]


_PASTURE = Subject(SubjectKind.PASTURE, OKRUG, pasture_id="p1")
_DEVICE = Subject(SubjectKind.DEVICE, OKRUG, herd_id="h1", device_id="c-001")
_ALL = frozenset({"warning", "critical", "band", "clear"})

SCENARIOS = [
    RuleScenario("overgrazing", overgrazing, _PASTURE, _ALL),
    RuleScenario("overstocked", overstocked, _PASTURE, _ALL),
    RuleScenario("drought", drought, _PASTURE, _ALL),
    RuleScenario("device_offline", device_offline, _DEVICE, _ALL - {"band"}),
    RuleScenario("low_battery", low_battery, _DEVICE, _ALL),
    RuleScenario(
        "off_plan",
        off_plan,
        Subject(SubjectKind.HERD_IN_PASTURE, OKRUG, pasture_id="p2", herd_id="h1"),
        _ALL,
    ),
    RuleScenario("stray", stray, _DEVICE, _ALL),
    RuleScenario("immobile", immobile, _DEVICE, _ALL - {"critical"}),
]

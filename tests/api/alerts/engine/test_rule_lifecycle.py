"""Every rule, through the whole lifecycle: fires, escalates, repeats while unacknowledged,
holds in the hysteresis band, and resolves only after staying clear for its hold time."""

from __future__ import annotations

import pytest

from api.alerts.engine import AlertState, EngineConfig, Severity
from tests.api.alerts.engine.rule_scenarios import SCENARIOS, RuleScenario
from tests.api.alerts.engine.scenario import HOUR, MIN, T0, make_engine


@pytest.fixture(params=SCENARIOS, ids=lambda s: s.rule)
def scenario(request: pytest.FixtureRequest) -> RuleScenario:
    return request.param  # type: ignore[no-any-return]


def _conditions(scenario: RuleScenario, level: str, now: int) -> list[object]:
    engine, _ = make_engine()
    (result,) = [r for r in engine.run_rules(scenario.make(level, now)) if r.rule == scenario.rule]
    assert result.evaluated
    assert result.error is None
    return list(result.conditions)


def test_levels_are_what_the_rule_reports(scenario: RuleScenario) -> None:
    """The scenario's levels mean what they say, rule by rule."""
    for level in scenario.levels:
        conds = _conditions(scenario, level, T0)
        if level == "clear":
            assert conds == [], level
            continue
        (cond,) = conds
        assert cond.subject == scenario.subject  # type: ignore[attr-defined]
        expected = None if level == "band" else Severity(level)
        assert cond.severity == expected, level  # type: ignore[attr-defined]


def test_fires_escalates_repeats_holds_and_resolves(scenario: RuleScenario) -> None:
    cfg = EngineConfig(repeat_interval_s=2 * 3600)
    hold_ms = cfg.rule(scenario.rule).clear_hold_s * 1000
    engine, sink = make_engine(config=cfg)
    run = lambda level, now: engine.evaluate(scenario.make(level, now))  # noqa: E731

    # Fires: one alert, one notification.
    report = run("warning", T0)
    assert report.transitions == {"opened": 1}
    (alert,) = engine.repository.load_open()
    assert (alert.rule, alert.subject, alert.severity) == (
        scenario.rule,
        scenario.subject,
        Severity.WARNING,
    )
    assert sink.kinds() == ["opened"]

    # Still firing a minute later: same alert, nothing new.
    assert run("warning", T0 + MIN).transitions == {}
    now, notified = T0 + MIN, T0

    if "critical" in scenario.levels:
        now += 10 * MIN
        assert run("critical", now).transitions == {"escalated": 1}
        notified = now
        assert engine.repository.get(alert.id).severity is Severity.CRITICAL  # type: ignore[union-attr]
    top = "critical" if "critical" in scenario.levels else "warning"

    # Unacknowledged: repeats at the repeat interval, counted from the last notification.
    assert run(top, notified + 2 * HOUR - MIN).transitions == {}
    assert run(top, notified + 2 * HOUR).transitions == {"renotified": 1}
    assert run(top, notified + 2 * HOUR + MIN).transitions == {}
    now = notified + 2 * HOUR + MIN

    if "band" in scenario.levels:
        # In the band, well past the hold time: held open, no transition, no repeat lost.
        for step in range(1, 4):
            t = now + step * max(hold_ms, MIN)
            report = run("band", t)
            assert "resolved" not in report.transitions
        now = t
        assert engine.repository.get(alert.id).state is AlertState.OPEN  # type: ignore[union-attr]
        engine.acknowledge(alert.id, "herder-1", now)  # quiet the repeats for what follows

    # Clear: the hold starts; it resolves only once the hold has passed.
    before = len(sink.events)
    now += MIN
    report = run("clear", now)
    if hold_ms:
        assert "resolved" not in report.transitions
        assert engine.repository.get(alert.id).clear_since_ms == now  # type: ignore[union-attr]
        assert run("clear", now + hold_ms - 1).transitions == {}
        report = run("clear", now + hold_ms)
    assert report.transitions == {"resolved": 1}
    assert engine.repository.load_open() == []
    assert [e.kind.value for e in sink.events[before:]] == ["resolved"]

    # The audit trail has every step, numbered without gaps.
    trail = engine.repository.transitions(alert.id)
    assert [t.seq for t in trail] == list(range(1, len(trail) + 1))
    assert trail[0].kind.value == "opened"
    assert trail[-1].kind.value == "resolved"
    assert sink.offered_twice == []


@pytest.mark.parametrize(
    "banded", [s for s in SCENARIOS if "band" in s.levels], ids=lambda s: s.rule
)
def test_band_after_clear_restarts_the_hold(banded: RuleScenario) -> None:
    """Flapping near the threshold never resolves and reopens: the band keeps it open."""
    scenario = banded
    cfg = EngineConfig()
    hold_ms = max(cfg.rule(scenario.rule).clear_hold_s * 1000, 2 * MIN)
    engine, sink = make_engine(config=cfg)
    engine.evaluate(scenario.make("warning", T0))
    now = T0
    for _ in range(5):
        now += hold_ms // 2
        engine.evaluate(scenario.make("clear", now))
        now += hold_ms // 2
        engine.evaluate(scenario.make("band", now))
    (alert,) = engine.repository.load_open()
    assert alert.clear_since_ms is None
    assert next(t.kind.value for t in engine.repository.transitions(alert.id)) == "opened"
    assert "resolved" not in sink.kinds()

"""The lifecycle on its own: what each situation does to an alert and its audit trail."""

from __future__ import annotations

import pytest

from api.alerts.engine import (
    AlertEngine,
    AlertState,
    Condition,
    EngineConfig,
    InMemoryRepository,
    LifecycleError,
    Severity,
    Snapshot,
    Subject,
    SubjectKind,
)
from api.alerts.engine.model import RuleResult
from api.alerts.engine.rules import RULES
from api.alerts.engine.rules.base import Rule
from tests.api.alerts.engine.rule_scenarios import overgrazing
from tests.api.alerts.engine.scenario import HOUR, MIN, T0, make_engine

P1 = Subject(SubjectKind.PASTURE, "sogety", pasture_id="p1")


def kinds(engine: AlertEngine, alert_id: str) -> list[str]:
    return [t.kind.value for t in engine.repository.transitions(alert_id)]


def only_alert(engine: AlertEngine) -> str:
    (alert,) = engine.repository.load_open()
    return alert.id


def test_acknowledgement_stops_repeats_until_escalation() -> None:
    engine, sink = make_engine(config=EngineConfig(repeat_interval_s=3600))
    engine.evaluate(overgrazing("warning", T0))
    aid = only_alert(engine)
    acked = engine.acknowledge(aid, "herder-1", T0 + MIN)
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_ms) == (
        AlertState.ACKNOWLEDGED,
        "herder-1",
        T0 + MIN,
    )
    for hours in range(1, 6):
        assert engine.evaluate(overgrazing("warning", T0 + hours * HOUR)).transitions == {}
    # Worse now: notified again, and the acknowledgement no longer covers it.
    assert engine.evaluate(overgrazing("critical", T0 + 6 * HOUR)).transitions == {"escalated": 1}
    alert = engine.repository.get(aid)
    assert alert is not None
    assert (alert.state, alert.acknowledged_by) == (AlertState.OPEN, None)
    assert engine.evaluate(overgrazing("critical", T0 + 7 * HOUR)).transitions == {"renotified": 1}
    assert kinds(engine, aid) == ["opened", "acknowledged", "escalated", "renotified"]
    assert [t.actor for t in engine.repository.transitions(aid)] == [
        "engine",
        "herder-1",
        "engine",
        "engine",
    ]
    # Acknowledging notifies nobody: the person who acknowledged knows.
    assert sink.kinds() == ["opened", "escalated", "renotified"]


def test_acknowledge_is_idempotent_and_refuses_resolved_or_unknown() -> None:
    engine, _ = make_engine()
    engine.evaluate(overgrazing("warning", T0))
    aid = only_alert(engine)
    engine.acknowledge(aid, "coordinator-1", T0 + MIN)
    again = engine.acknowledge(aid, "herder-2", T0 + 2 * MIN)
    assert again.acknowledged_by == "coordinator-1"
    assert kinds(engine, aid) == ["opened", "acknowledged"]
    with pytest.raises(LifecycleError):
        engine.acknowledge(aid, "", T0 + 3 * MIN)
    engine.resolve(aid, "coordinator-1", T0 + 4 * MIN, note="herd moved to p4")
    with pytest.raises(LifecycleError):
        engine.acknowledge(aid, "herder-2", T0 + 5 * MIN)
    with pytest.raises(KeyError):
        engine.acknowledge("no-such-alert", "herder-2", T0)


def test_severity_never_falls_while_open_but_the_value_follows() -> None:
    engine, sink = make_engine()
    engine.evaluate(overgrazing("critical", T0))
    aid = only_alert(engine)
    assert engine.evaluate(overgrazing("warning", T0 + MIN)).transitions == {}
    alert = engine.repository.get(aid)
    assert alert is not None
    assert (alert.severity, alert.value) == (Severity.CRITICAL, 0.85)
    assert sink.kinds() == ["opened"]


def test_a_rule_without_its_inputs_leaves_its_alerts_alone() -> None:
    """No grazing outputs (the model is down): that is not "clear", so nothing resolves."""
    engine, _ = make_engine()
    engine.evaluate(overgrazing("critical", T0))
    aid = only_alert(engine)
    for day in range(1, 4):
        report = engine.evaluate(Snapshot(now_ms=T0 + day * 24 * HOUR))
        assert "overgrazing" in report.skipped_rules
    alert = engine.repository.get(aid)
    assert alert is not None
    assert alert.is_open
    assert alert.clear_since_ms is None


def test_a_failing_rule_is_reported_and_the_others_still_run() -> None:
    def broken(_: object) -> list[Condition] | None:
        raise ZeroDivisionError("bad pasture area")

    rules = dict(RULES)
    rules["drought"] = Rule("drought", SubjectKind.PASTURE, broken, "broken")  # type: ignore[arg-type]
    engine = AlertEngine(InMemoryRepository(), None, EngineConfig(), rules)
    report = engine.evaluate(overgrazing("warning", T0))
    assert report.failed_rules == ["drought"]
    assert report.transitions == {"opened": 1}


def test_disabling_a_rule_resolves_its_alerts_after_the_hold() -> None:
    engine, _ = make_engine()
    engine.evaluate(overgrazing("critical", T0))
    aid = only_alert(engine)
    cfg = EngineConfig.model_validate({"overgrazing": {"enabled": False, "clear_hold_s": 0}})
    engine.config = cfg
    assert engine.evaluate(overgrazing("critical", T0 + MIN)).transitions == {"resolved": 1}
    assert kinds(engine, aid) == ["opened", "resolved"]


def test_a_manual_resolution_while_the_condition_holds_opens_a_new_alert() -> None:
    engine, sink = make_engine()
    engine.evaluate(overgrazing("warning", T0))
    first = only_alert(engine)
    engine.resolve(first, "coordinator-1", T0 + MIN, note="checked on site")
    engine.evaluate(overgrazing("warning", T0 + 2 * MIN))
    second = only_alert(engine)
    assert second != first
    trail = engine.repository.transitions(first)
    assert [(t.kind.value, t.actor, t.note) for t in trail][-1] == (
        "resolved",
        "coordinator-1",
        "checked on site",
    )
    assert sink.kinds() == ["opened", "resolved", "opened"]


def test_repeat_interval_zero_never_repeats_and_per_rule_overrides_apply() -> None:
    cfg = EngineConfig.model_validate(
        {"repeat_interval_s": 0, "overgrazing": {"repeat_interval_s": 600}}
    )
    engine, _ = make_engine(config=cfg)
    engine.evaluate(overgrazing("warning", T0))
    assert engine.evaluate(overgrazing("warning", T0 + 10 * MIN)).transitions == {"renotified": 1}
    assert cfg.repeat_interval_for("device_offline") == 0


def test_no_resolve_notification_when_configured_off() -> None:
    engine, sink = make_engine(
        config=EngineConfig.model_validate(
            {"notify_on_resolve": False, "overgrazing": {"clear_hold_s": 0}}
        )
    )
    engine.evaluate(overgrazing("warning", T0))
    aid = only_alert(engine)
    engine.evaluate(overgrazing("clear", T0 + MIN))
    assert kinds(engine, aid) == ["opened", "resolved"]
    assert sink.kinds() == ["opened"]


def test_a_band_condition_never_opens_an_alert() -> None:
    engine, sink = make_engine()
    for minutes in range(0, 600, 60):
        engine.evaluate(overgrazing("band", T0 + minutes * MIN))
    assert engine.repository.load_open() == []
    assert sink.events == []


def test_a_subject_reported_twice_by_a_rule_counts_once() -> None:
    from api.alerts.engine import lifecycle

    cond = Condition("overgrazing", P1, Severity.WARNING, 0.9, "ratio")
    twice = RuleResult("overgrazing", (cond, cond))
    changes = lifecycle.step([], [twice], T0, EngineConfig(), iter(["x", "y"]).__next__)
    assert [w.alert.id for w in changes.writes] == ["x"]


def test_sink_down_then_back_delivers_each_event_once() -> None:
    engine, sink = make_engine(config=EngineConfig(repeat_interval_s=3600))
    sink.refuse = True
    engine.evaluate(overgrazing("warning", T0))
    engine.evaluate(overgrazing("critical", T0 + MIN))
    assert sink.events == []
    sink.refuse = False
    assert engine.evaluate(overgrazing("critical", T0 + 2 * MIN)).dispatched == 2
    assert engine.evaluate(overgrazing("critical", T0 + 3 * MIN)).dispatched == 0
    assert sink.kinds() == ["opened", "escalated"]
    assert [e.seq for e in sink.events] == [1, 2]


def test_report_and_metrics_count_what_happened() -> None:
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    opened_before = sample("jaylym_alert_transitions_total", rule="overgrazing", kind="opened")
    skipped_before = sample("jaylym_alert_rule_skipped_total", rule="stray")
    engine, _ = make_engine()
    report = engine.evaluate(overgrazing("warning", T0))
    assert report.unresolved == 1
    assert "stray" in report.skipped_rules
    assert sample("jaylym_alert_transitions_total", rule="overgrazing", kind="opened") == (
        opened_before + 1
    )
    assert sample("jaylym_alert_rule_skipped_total", rule="stray") == skipped_before + 1
    assert sample("jaylym_alerts_unresolved") == 1


def test_alerts_of_a_rule_no_longer_registered_resolve_after_the_hold() -> None:
    engine, _ = make_engine()
    engine.evaluate(overgrazing("warning", T0))
    aid = only_alert(engine)
    engine.rules = {k: v for k, v in RULES.items() if k != "overgrazing"}
    engine.evaluate(Snapshot(now_ms=T0 + MIN))
    assert engine.repository.get(aid).is_open  # type: ignore[union-attr]
    engine.evaluate(Snapshot(now_ms=T0 + MIN + 6 * HOUR))  # overgrazing's clear_hold_s
    assert kinds(engine, aid) == ["opened", "resolved"]

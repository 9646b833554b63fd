"""The demo's printer adapts every rule's engine event to the delivery layer's model, so
each alert renders in kk, ru and en with the delivery layer's own templates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.alerts import model as d
from api.alerts.engine import (
    RULES,
    NotificationEvent,
    Severity,
    Subject,
    SubjectKind,
    TransitionKind,
)
from api.alerts.messages import render
from jaylym.demo.console import figures

NOW = 1_795_000_000_000
CONTEXTS: dict[str, tuple[float, dict[str, object]]] = {
    "overgrazing": (0.83, {"pasture_name": "Ауыл маңы", "herds_present": ["aigul-cattle"]}),
    "overstocked": (5.5, {"load_limit_lu_per_ha": 0.6, "above_limit_min": 41.0}),
    "off_plan": (33, {"reason": "resting", "collars_inside": 6}),
    "stray": (39, {"nearest_pasture_m": 2248, "lat": 43.45, "lon": 78.24}),
    "immobile": (12.0, {"window_h": 10.0}),
    "device_offline": (34, {"last_seen_ms": NOW - 34 * 60_000, "expected_interval_s": 600}),
    "low_battery": (3.48, {"threshold_v": 3.5, "days_to_empty": 1.2}),
    "drought": (0.42, {"herds_present": ["kim-mixed"]}),
}


def test_every_rule_has_a_case() -> None:
    assert set(CONTEXTS) == set(RULES)


@pytest.mark.parametrize("rule", sorted(CONTEXTS))
def test_every_rule_renders_in_every_language(rule: str) -> None:
    value, context = CONTEXTS[rule]
    event = NotificationEvent(
        alert_id="a-1",
        seq=1,
        kind=TransitionKind.OPENED,
        at_ms=NOW,
        rule=rule,
        subject=Subject(SubjectKind.DEVICE, "sogety", device_id="c-sr-01"),
        severity=Severity.WARNING,
        value=value,
        unit="x",
        context=context,  # type: ignore[arg-type]
    )
    fig = figures(event)
    assert fig.rule == rule
    alert = d.Alert(
        alert_id="a-1",
        seq=1,
        rule=d.Rule(rule),
        severity=d.Severity.warning,
        transition=d.Transition.opened,
        subject=d.Subject(
            okrug_id="sogety",
            okrug_name="Sogety",
            pasture_id="auyl-many",
            pasture_name="Ауыл маңы",
            herd_ids=("serik-sheep",),
            herd_names=("Серіктің отары",),
            device_id="c-sr-01",
        ),
        figures=fig,
        at=datetime.fromtimestamp(NOW / 1000, UTC),
    )
    texts = {lang: render(alert, lang).sms for lang in ("kk", "ru", "en")}  # type: ignore[arg-type]
    assert all(texts.values())
    assert len(set(texts.values())) == 3, texts  # three languages, three texts

"""The engine's configuration: the issue's defaults, strictness, and the settings slice."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.alerts.engine import RULES, EngineConfig
from api.alerts.engine.config import RuleConfig
from jaylym.settings import Settings, SettingsError, load_settings


def test_defaults_are_the_issues() -> None:
    c = EngineConfig()
    assert (c.overgrazing.warning, c.overgrazing.critical) == (0.8, 1.0)
    assert c.overstocked.sustain_s == c.off_plan.sustain_s == c.stray.sustain_s == 1800
    assert (c.immobile.distance_m, c.immobile.window_s) == (50.0, 36000)
    assert c.device_offline.missed_intervals == 3.0
    assert (c.drought.below, c.drought.sustain_s) == (0.5, 7 * 86400)
    assert (c.fixes.max_gap_intervals, c.fixes.max_gap_cap_s) == (3.0, 7200)
    # Every registered rule has its own section, and every section has a rule.
    sections = {
        n for n, f in EngineConfig.model_fields.items() if isinstance(getattr(c, n), RuleConfig)
    }
    assert sections == set(RULES)


@pytest.mark.parametrize(
    "data",
    [
        {"overgrazing": {"warnign": 0.7}},
        {"no_such_rule": {}},
        {"overgrazing": {"warning": 1.2, "critical": 1.0}},
        {"overgrazing": {"clear_margin": -0.1}},
        {"overgrazing": {"warning": 0.05, "clear_margin": 0.05}},
        {"immobile": {"clear_factor": 0.5}},
        {"drought": {"critical_below": 0.6}},
        {"low_battery": {"warning_v": {"collar": 3.2}, "critical_v": {"collar": 3.3}}},
        {"repeat_interval_s": -1},
    ],
)
def test_bad_thresholds_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EngineConfig.model_validate(data)


def test_settings_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAYLYM_ALERT_REPEAT_INTERVAL_S", "3600")
    monkeypatch.setenv("JAYLYM_ALERT_RULES", '{"overgrazing": {"warning": 0.7}}')
    cfg = EngineConfig.from_settings(Settings())
    assert (cfg.repeat_interval_s, cfg.evaluation_interval_s) == (3600, 60.0)
    assert (cfg.overgrazing.warning, cfg.overgrazing.critical) == (0.7, 1.0)
    assert cfg.overgrazing.clear_below == pytest.approx(0.65)


def test_alert_rules_setting_must_be_a_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAYLYM_ALERT_RULES", "[1, 2]")
    with pytest.raises(SettingsError, match="JAYLYM_ALERT_RULES"):
        load_settings()
    monkeypatch.setenv("JAYLYM_ALERT_RULES", "{overgrazing")
    with pytest.raises(SettingsError, match="not JSON"):
        load_settings()
    monkeypatch.setenv("JAYLYM_ALERT_RULES", '{"stray": {"sustian_s": 60}}')
    with pytest.raises(ValidationError, match="sustian_s"):
        EngineConfig.from_settings(Settings())


def test_docs_list_every_key_with_its_default() -> None:
    """docs/alerts.md is what operators read: it must not miss or misstate a threshold."""
    import json
    import re
    from pathlib import Path

    from api.alerts.engine.config import FixConfig

    doc = (Path(__file__).resolve().parents[4] / "docs/alerts.md").read_text()
    c = EngineConfig()
    common = set(RuleConfig.model_fields)
    missing = []
    for name in EngineConfig.model_fields:
        section = getattr(c, name)
        if not isinstance(section, RuleConfig | FixConfig):
            if f"`{name}`" not in doc:
                missing.append(name)
            continue
        for key in type(section).model_fields:
            if key in common - {"clear_hold_s"}:
                continue
            default = getattr(section, key)
            shown = json.dumps(default) if isinstance(default, dict) else f"{default:g}"
            row = rf"\| `{name}\.{key}` \| `?{re.escape(shown)}(\.0+)?`? \|"
            if not re.search(row, doc):
                missing.append(f"{name}.{key}")
    assert missing == []
    # The rule table names every registered rule.
    assert all(f"| `{rule}` |" in doc for rule in RULES)

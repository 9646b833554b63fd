"""The rule table: one module per rule, each exposing `RULE`; this table is the only list.

A new rule is a new module and one line here (plus its thresholds in `config.EngineConfig`).
"""

from __future__ import annotations

from api.alerts.engine.rules import (
    device_offline,
    drought,
    immobile,
    low_battery,
    off_plan,
    overgrazing,
    overstocked,
    stray,
)
from api.alerts.engine.rules.base import Rule

RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        overgrazing.RULE,
        overstocked.RULE,
        off_plan.RULE,
        stray.RULE,
        immobile.RULE,
        device_offline.RULE,
        low_battery.RULE,
        drought.RULE,
    )
}

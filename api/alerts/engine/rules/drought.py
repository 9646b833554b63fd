"""Drought: a pasture with herds present whose moisture factor stayed below 0.5 for 7 days.

Critical below `critical_below`. Once open, the alert is held while herds are present and
the factor stays at or below `clear_above`.
"""

from __future__ import annotations

import math

from api.alerts.engine.context import Evaluation
from api.alerts.engine.model import Condition, Severity, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule, sustained_since

NAME = "drought"


def evaluate(ev: Evaluation) -> list[Condition] | None:
    grazing = ev.snapshot.grazing
    if grazing is None:
        return None
    cfg = ev.config.drought
    now = ev.now_ms
    out = []
    for pasture in ev.snapshot.pastures:
        g = grazing.get(pasture.id)
        if (
            g is None
            or not g.herds_present
            or not math.isfinite(g.moisture_factor)
            or g.moisture_factor > cfg.clear_above
        ):
            continue
        since = sustained_since(
            g.moisture_series, lambda m: m < cfg.below, now, cfg.max_sample_gap_s * 1000
        )
        below_s = 0.0 if since is None else (now - since) / 1000
        severity = None
        if g.moisture_factor < cfg.below and below_s >= cfg.sustain_s:
            severity = (
                Severity.CRITICAL if g.moisture_factor < cfg.critical_below else Severity.WARNING
            )
        out.append(
            Condition(
                rule=NAME,
                subject=Subject(SubjectKind.PASTURE, pasture.okrug, pasture_id=pasture.id),
                severity=severity,
                value=round(g.moisture_factor, 3),
                unit="ratio",
                context={
                    "pasture_name": pasture.name,
                    "days_below": round(below_s / 86400, 2),
                    "herds_present": sorted(g.herds_present),
                },
            )
        )
    return out


RULE = Rule(NAME, SubjectKind.PASTURE, evaluate, "moisture factor < 0.5 for 7 days, herds present")

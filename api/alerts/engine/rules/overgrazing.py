"""Overgrazing: season utilisation U_p at or above the warning (0.8) or critical (1.0) level.

Hysteresis: once open, the alert is held while U_p stays at or above `clear_below`.
"""

from __future__ import annotations

import math

from api.alerts.engine.context import Evaluation
from api.alerts.engine.model import Condition, Severity, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule, finite

NAME = "overgrazing"


def evaluate(ev: Evaluation) -> list[Condition] | None:
    grazing = ev.snapshot.grazing
    if grazing is None:
        return None
    cfg = ev.config.overgrazing
    out = []
    for pasture in ev.snapshot.pastures:
        g = grazing.get(pasture.id)
        # NaN or infinity (a pasture of zero area upstream) says nothing: skip, don't alert.
        if g is None or not math.isfinite(g.utilisation) or g.utilisation < cfg.clear_below:
            continue
        u = g.utilisation
        severity = (
            Severity.CRITICAL
            if u >= cfg.critical
            else Severity.WARNING
            if u >= cfg.warning
            else None
        )
        out.append(
            Condition(
                rule=NAME,
                subject=Subject(SubjectKind.PASTURE, pasture.okrug, pasture_id=pasture.id),
                severity=severity,
                value=round(u, 4),
                unit="ratio",
                context={
                    "pasture_name": pasture.name,
                    "moisture_factor": finite(g.moisture_factor, 3),
                    "herds_present": sorted(g.herds_present),
                },
            )
        )
    return out


RULE = Rule(NAME, SubjectKind.PASTURE, evaluate, "season utilisation U_p >= 0.8 / 1.0")

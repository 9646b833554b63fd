"""Overstocked: instant density above the pasture's load limit for longer than `sustain_s`.

The limit is the stricter of the pasture's legal limit and any plan limit in force now for
that pasture (from the plan entries, when the snapshot has them).

The run is read from the grazing model's density series, so it survives engine restarts and
needs no pending state of its own. Critical at `critical_ratio` x the limit; once open, the
alert is held while density stays above `clear_ratio` x the limit.
"""

from __future__ import annotations

import math
import operator
from functools import partial

from api.alerts.engine.context import Evaluation
from api.alerts.engine.model import Condition, Severity, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule, sustained_since

NAME = "overstocked"


def limits(ev: Evaluation) -> dict[str, tuple[float, str]]:
    """Per pasture, the load limit in force now (LU/ha) and where it comes from."""
    out: dict[str, tuple[float, str]] = {}
    for p in ev.snapshot.pastures:
        if p.load_limit_lu_per_ha is not None and 0 < p.load_limit_lu_per_ha < math.inf:
            out[p.id] = (p.load_limit_lu_per_ha, "legal")
    for e in ev.snapshot.plan or ():
        limit = e.load_limit_lu_per_ha
        if limit is None or not 0 < limit < math.inf or not e.start_ms <= ev.now_ms < e.end_ms:
            continue
        if e.pasture_id not in out or limit < out[e.pasture_id][0]:
            out[e.pasture_id] = (limit, "plan")
    return out


def evaluate(ev: Evaluation) -> list[Condition] | None:
    grazing = ev.snapshot.grazing
    if grazing is None:
        return None
    cfg = ev.config.overstocked
    max_age_ms = ev.config.fixes.density_sample_max_age_s * 1000
    now = ev.now_ms
    in_force = limits(ev)
    out = []
    for pasture in ev.snapshot.pastures:
        g = grazing.get(pasture.id)
        if g is None or pasture.id not in in_force:
            continue
        limit, source = in_force[pasture.id]
        density = g.current_density_lu_per_ha
        if not math.isfinite(density) or density <= cfg.clear_ratio * limit:
            continue
        since = sustained_since(g.density_series, partial(operator.lt, limit), now, max_age_ms)
        above_s = 0.0 if since is None or density <= limit else (now - since) / 1000
        severity = None
        if density > limit and above_s > cfg.sustain_s:
            severity = (
                Severity.CRITICAL if density >= cfg.critical_ratio * limit else Severity.WARNING
            )
        out.append(
            Condition(
                rule=NAME,
                subject=Subject(SubjectKind.PASTURE, pasture.okrug, pasture_id=pasture.id),
                severity=severity,
                value=round(density, 4),
                unit="lu_per_ha",
                context={
                    "pasture_name": pasture.name,
                    "load_limit_lu_per_ha": limit,
                    "limit_source": source,
                    "above_limit_min": round(above_s / 60, 1),
                    "herds_present": sorted(g.herds_present),
                },
            )
        )
    return out


RULE = Rule(NAME, SubjectKind.PASTURE, evaluate, "density above the load limit for > 30 min")

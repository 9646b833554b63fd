"""Immobile: a collar that moved less than 50 m over 10 h of valid fixes (animal stuck, ill,
or collar dropped).

"10 h of valid fixes": the collar's position must be known without a break (no gap longer
than `max_gap`) from 10 h ago until now; the fixes from the one holding 10 h ago onwards are
measured. "Moved" is the geodesic spread of those fixes with the noisiest share trimmed (see
`geodesy.spread_m`). Hysteresis: once open, the alert resolves only after the collar spreads
beyond `clear_distance_m`. With too short a window, or an unknown position, an open alert is
held (it cannot be told either way) unless the fixes already show real movement.

Grazing animals cover far more than `clear_distance_m` in 10 h, so a vectorised lower bound
(`geodesy.spread_lower_bound_m`) clears most collars at once; the exact geodesic spread is
computed only for the few that might be still.
"""

from __future__ import annotations

import numpy as np

from api.alerts.engine.context import Evaluation
from api.alerts.engine.geodesy import spread_lower_bound_m, spread_m
from api.alerts.engine.model import Condition, Severity, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule

NAME = "immobile"


def evaluate(ev: Evaluation) -> list[Condition] | None:
    if ev.snapshot.fixes is None:
        return None
    cfg = ev.config.immobile
    now = ev.now_ms
    window_start = now - cfg.window_s * 1000
    tr = ev.tracks
    if not tr.collars:
        return []
    # Per collar, the fixes to measure: from the one holding at the window's start (or the
    # first), and not before the current run without a gap; covered when that run began
    # no later than the window. All collars at once (Tracks.run_starts).
    before = np.add.reduceat((tr.ts <= window_start).astype(np.int64), tr.offsets[:-1])
    first = tr.offsets[:-1] + np.maximum(before - 1, 0)
    run = tr.run_starts(np.ones(tr.ts.size, dtype=bool), now)
    has_run = run >= 0
    first = np.where(has_run, np.maximum(first, run), first)
    covered = has_run & (tr.ts[np.maximum(run, 0)] <= window_start)
    keep = np.arange(tr.ts.size) >= first[tr.dev]
    # 1 % margin for the tangent-plane approximation: a bound must never over-state.
    lower = 0.99 * spread_lower_bound_m(
        tr.lon[keep], tr.lat[keep], tr.dev[keep], len(tr.collars), cfg.trim_fraction
    )
    known = tr.known(now)
    out = []
    for i in np.flatnonzero(lower <= cfg.clear_distance_m).tolist():
        lo, hi = int(first[i]), int(tr.offsets[i + 1])
        moved = spread_m(tr.lon[lo:hi], tr.lat[lo:hi], cfg.trim_fraction)
        if moved > cfg.clear_distance_m:
            continue
        device = tr.collars[i]
        severity = Severity.WARNING if covered[i] and moved < cfg.distance_m else None
        out.append(
            Condition(
                rule=NAME,
                subject=Subject(
                    SubjectKind.DEVICE,
                    device.okrug,
                    herd_id=device.herd_id,
                    device_id=device.device_id,
                ),
                severity=severity,
                value=round(moved, 1) if covered[i] else None,
                unit="m",
                context={
                    "window_h": round(cfg.window_s / 3600, 2),
                    "lat": round(float(tr.lat[hi - 1]), 6),
                    "lon": round(float(tr.lon[hi - 1]), 6),
                    "position_known": bool(known[i]),
                },
            )
        )
    return out


RULE = Rule(NAME, SubjectKind.DEVICE, evaluate, "moved < 50 m over 10 h of valid fixes")

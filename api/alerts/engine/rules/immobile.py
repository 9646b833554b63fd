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
from api.alerts.engine.tracks import Track

NAME = "immobile"


def _window(track: Track, window_start: int, now: int) -> tuple[int, bool]:
    """Index of the first fix to measure, and whether the window is fully covered."""
    first = max(0, int(np.searchsorted(track.ts, window_start, side="right")) - 1)
    run_start = track.run_start_ms(np.ones(len(track), dtype=bool), now)
    if run_start is not None:
        first = max(first, int(np.searchsorted(track.ts, run_start)))
    return first, run_start is not None and run_start <= window_start


def evaluate(ev: Evaluation) -> list[Condition] | None:
    if ev.snapshot.fixes is None:
        return None
    cfg = ev.config.immobile
    now = ev.now_ms
    window_start = now - cfg.window_s * 1000
    tracks = list(ev.tracks.by_device.values())
    if not tracks:
        return []
    windows = [_window(t, window_start, now) for t in tracks]
    sizes = np.array([len(t) - first for t, (first, _) in zip(tracks, windows, strict=True)])
    group = np.repeat(np.arange(len(tracks)), sizes)
    lon = np.concatenate([t.lon[w[0] :] for t, w in zip(tracks, windows, strict=True)])
    lat = np.concatenate([t.lat[w[0] :] for t, w in zip(tracks, windows, strict=True)])
    # 1 % margin for the tangent-plane approximation: a bound must never over-state.
    lower = 0.99 * spread_lower_bound_m(lon, lat, group, len(tracks), cfg.trim_fraction)
    out = []
    for track, (first, covered), bound in zip(tracks, windows, lower, strict=True):
        if bound > cfg.clear_distance_m:
            continue
        moved = spread_m(track.lon[first:], track.lat[first:], cfg.trim_fraction)
        if moved > cfg.clear_distance_m:
            continue
        severity = Severity.WARNING if covered and moved < cfg.distance_m else None
        out.append(
            Condition(
                rule=NAME,
                subject=Subject(
                    SubjectKind.DEVICE,
                    track.device.okrug,
                    herd_id=track.device.herd_id,
                    device_id=track.device.device_id,
                ),
                severity=severity,
                value=round(moved, 1) if covered else None,
                unit="m",
                context={
                    "window_h": round(cfg.window_s / 3600, 2),
                    "lat": round(float(track.lat[-1]), 6),
                    "lon": round(float(track.lon[-1]), 6),
                    "position_known": track.known_at(now),
                },
            )
        )
    return out


RULE = Rule(NAME, SubjectKind.DEVICE, evaluate, "moved < 50 m over 10 h of valid fixes")

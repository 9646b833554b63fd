"""Stray: a collar's valid fixes outside every pasture of its okrug for more than 30 min.

Containment comes from the shared STRtree query in `tracks`. Critical after
`critical_after_s` outside. While the collar's position is unknown (silent, or a gap longer
than `max_gap`), an alert whose last fix was outside is held, not resolved: the animal is
still lost as far as anyone knows, and the device-offline rule speaks for the silence.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.ops import nearest_points

from api.alerts.engine.context import Evaluation
from api.alerts.engine.geodesy import distances_m
from api.alerts.engine.model import Condition, ContextValue, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule, escalating
from api.alerts.engine.tracks import Track, Tracks

NAME = "stray"


def _nearest(tracks: Tracks, okrug_mask: np.ndarray, track: Track) -> dict[str, ContextValue]:
    """Where the nearest pasture of the okrug is: what a herder needs to go and look."""
    point = shapely.Point(float(track.lon[-1]), float(track.lat[-1]))
    best: tuple[float, str] | None = None
    for idx in np.flatnonzero(okrug_mask):
        pasture = tracks.pastures[int(idx)]
        target = nearest_points(pasture.geometry, point)[0]
        dist = float(distances_m(point.x, point.y, target.x, target.y)[0])
        if best is None or dist < best[0]:
            best = (dist, pasture.id)
    if best is None:
        return {}
    return {"nearest_pasture_id": best[1], "nearest_pasture_m": round(best[0])}


def evaluate(ev: Evaluation) -> list[Condition] | None:
    if ev.snapshot.fixes is None:
        return None
    cfg = ev.config.stray
    now = ev.now_ms
    tracks = ev.tracks
    out = []
    for track in tracks.by_device.values():
        okrug_mask = tracks.pasture_okrug == track.device.okrug
        if not okrug_mask.any():
            continue  # an okrug with no pasture registered: nothing to stray from
        outside = ~track.inside(okrug_mask)
        severity = None
        value: float | None = None
        if track.known_at(now):
            since = track.run_start_ms(outside, now)
            if since is None:
                continue
            outside_s = (now - since) / 1000
            value = round(outside_s / 60, 1)
            if outside_s > cfg.sustain_s:
                severity = escalating(outside_s, cfg.critical_after_s)
        elif not outside[-1]:
            continue
        context: dict[str, ContextValue] = {
            "lat": round(float(track.lat[-1]), 6),
            "lon": round(float(track.lon[-1]), 6),
            "last_fix_ms": int(track.ts[-1]),
            "position_known": track.known_at(now),
        }
        if severity is not None:
            context |= _nearest(tracks, okrug_mask, track)
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
                value=value,
                unit="min",
                context=context,
            )
        )
    return out


RULE = Rule(NAME, SubjectKind.DEVICE, evaluate, "collar outside every okrug pasture > 30 min")

"""Stray: a collar's valid fixes outside every pasture of its okrug for more than 30 min.

Containment comes from the shared STRtree query in `tracks`. Critical after
`critical_after_s` outside. While the collar's position is unknown (silent, or a gap longer
than `max_gap`), an alert whose last fix was outside is held, not resolved: the animal is
still lost as far as anyone knows, and the device-offline rule speaks for the silence.

A firing condition names the nearest pasture of the okrug and the geodesic distance to it:
what a herder needs to go and look.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely

from api.alerts.engine.context import Evaluation
from api.alerts.engine.geodesy import distances_m
from api.alerts.engine.model import Condition, ContextValue, Severity, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule, escalating
from api.alerts.engine.tracks import Tracks

NAME = "stray"


def nearest_pastures(
    tracks: Tracks, okrug: str, lon: np.ndarray, lat: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """For each point, the nearest pasture of `okrug` and the geodesic distance to its edge.

    One STRtree nearest query for all points (planar in degrees: at these distances it picks
    the same pasture as a geodesic search but for near-ties, where either answer is fine),
    then one vectorised shortest-line and one pyproj call for the metres.
    """
    idx = np.flatnonzero(tracks.pasture_okrug == okrug)
    geoms = np.array([tracks.pastures[int(i)].geometry for i in idx], dtype=object)
    points = shapely.points(lon, lat)
    tree = shapely.STRtree(geoms)
    pt, near = tree.query_nearest(points, all_matches=False)
    nearest = np.empty(len(points), dtype=np.int64)
    nearest[pt] = near
    lines = shapely.shortest_line(geoms[nearest], points)
    ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    metres = distances_m(ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1])
    return [tracks.pastures[int(idx[n])].id for n in nearest], metres


def _condition(
    tracks: Tracks, i: int, known: bool, severity: Severity | None, value: float | None
) -> Condition:
    last = int(tracks.last[i])
    device = tracks.collars[i]
    context: dict[str, ContextValue] = {
        "lat": round(float(tracks.lat[last]), 6),
        "lon": round(float(tracks.lon[last]), 6),
        "last_fix_ms": int(tracks.ts[last]),
        "position_known": known,
    }
    return Condition(
        rule=NAME,
        subject=Subject(
            SubjectKind.DEVICE,
            device.okrug,
            herd_id=device.herd_id,
            device_id=device.device_id,
        ),
        severity=severity,
        value=value,
        unit="min",
        context=context,
    )


def evaluate(ev: Evaluation) -> list[Condition] | None:
    if ev.snapshot.fixes is None:
        return None
    cfg = ev.config.stray
    now = ev.now_ms
    tracks = ev.tracks
    # Per fix: inside a pasture of its collar's own okrug? All collars at once.
    okrug_ids = {o: k for k, o in enumerate(sorted(set(tracks.pasture_okrug.tolist())))}
    collar_okrug = np.array([okrug_ids.get(c.okrug, -1) for c in tracks.collars], dtype=np.int64)
    pasture_okrug = np.array([okrug_ids[o] for o in tracks.pasture_okrug], dtype=np.int64)
    own = pasture_okrug[tracks.pair_pasture] == collar_okrug[tracks.dev[tracks.pair_fix]]
    outside = np.ones(tracks.ts.size, dtype=bool)
    outside[tracks.pair_fix[own]] = False
    known = tracks.known(now)
    starts = tracks.run_starts(outside, now)
    out: list[Condition] = []
    firing: dict[str, list[tuple[int, int]]] = defaultdict(list)
    # Collars of an okrug with no pasture registered have nothing to stray from.
    for i in np.flatnonzero(collar_okrug >= 0).tolist():
        if known[i]:
            if starts[i] < 0:
                continue
            outside_s = (now - int(tracks.ts[starts[i]])) / 1000
            severity = (
                escalating(outside_s, cfg.critical_after_s) if outside_s > cfg.sustain_s else None
            )
            if severity is not None:
                firing[tracks.collars[i].okrug].append((len(out), i))
            out.append(_condition(tracks, i, True, severity, round(outside_s / 60, 1)))
        elif outside[tracks.last[i]]:
            out.append(_condition(tracks, i, False, None, None))
    for okrug, items in firing.items():
        last = tracks.last[[i for _, i in items]]
        ids, metres = nearest_pastures(tracks, okrug, tracks.lon[last], tracks.lat[last])
        for (pos, _), pid, m in zip(items, ids, metres, strict=True):
            cond = out[pos]
            context = {**cond.context, "nearest_pasture_id": pid, "nearest_pasture_m": round(m)}
            out[pos] = Condition(
                cond.rule, cond.subject, cond.severity, cond.value, cond.unit, context
            )
    return out


RULE = Rule(NAME, SubjectKind.DEVICE, evaluate, "collar outside every okrug pasture > 30 min")

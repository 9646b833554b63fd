"""Off-plan grazing: a herd's collars inside a pasture that is resting or closed, or outside
the herd's plan window there, for more than 30 min.

A fix is off plan in pasture p when p is not open, or when the herd has plan entries and
none of them lets it graze p at the fix's time ("outside_window" when the herd has an entry
for p at some other time, "not_in_plan" when it has none for p). A herd with no plan entry
at all is only checked against pasture status, so an okrug that has not entered its plan
yet is not flooded with alerts. The subject is the (herd, pasture) pair; the number that
matters is the longest time any one collar of the herd has been off plan there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from api.alerts.engine.context import Evaluation
from api.alerts.engine.inputs import PastureStatus, PlanEntry
from api.alerts.engine.model import Condition, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule, escalating
from api.alerts.engine.tracks import BoolArray, Track

NAME = "off_plan"


@dataclass
class _Presence:
    longest_s: float = 0.0
    collars: set[str] = field(default_factory=set)
    known: bool = False


def _off_pairs(
    track: Track, open_mask: BoolArray, entries: list[PlanEntry], index: dict[str, int]
) -> BoolArray:
    """Per containment pair of the track: is that fix off plan in that pasture?"""
    off = ~open_mask[track.pair_pasture]
    if entries:
        pair_ts = track.ts[track.pair_fix]
        allowed = np.zeros(track.pair_pasture.size, dtype=bool)
        for e in entries:
            idx = index.get(e.pasture_id)
            if idx is not None:
                allowed |= (
                    (track.pair_pasture == idx) & (pair_ts >= e.start_ms) & (pair_ts < e.end_ms)
                )
        off |= ~allowed
    return off


def _reason(status: PastureStatus, entries: list[PlanEntry], pasture_id: str) -> str:
    if status is not PastureStatus.OPEN:
        return str(status)
    return "outside_window" if any(e.pasture_id == pasture_id for e in entries) else "not_in_plan"


def evaluate(ev: Evaluation) -> list[Condition] | None:
    plan = ev.snapshot.plan
    if plan is None or ev.snapshot.fixes is None:
        return None
    cfg = ev.config.off_plan
    now = ev.now_ms
    tracks = ev.tracks
    pastures = tracks.pastures
    index = {p.id: i for i, p in enumerate(pastures)}
    open_mask = np.array([p.status is PastureStatus.OPEN for p in pastures], dtype=bool)
    entries_by_herd: dict[str, list[PlanEntry]] = defaultdict(list)
    for entry in plan:
        entries_by_herd[entry.herd_id].append(entry)

    # A silent collar whose last fix was in p holds an alert for p only while no collar of
    # its herd is known: once one is, the herd's whereabouts are known and count alone.
    herd_known = {
        t.device.herd_id for t in tracks.by_device.values() if t.known_at(now) and t.device.herd_id
    }
    presence: dict[tuple[str, int], _Presence] = defaultdict(_Presence)
    for track in tracks.by_device.values():
        herd = track.device.herd_id
        if herd is None or not track.pair_fix.size:
            continue
        entries = entries_by_herd.get(herd, [])
        off = _off_pairs(track, open_mask, entries, index)
        last = len(track) - 1
        known = track.known_at(now)
        if not known and herd in herd_known:
            continue
        for p in np.unique(track.pair_pasture[(track.pair_fix == last) & off]):
            pred = np.zeros(len(track), dtype=bool)
            pred[track.pair_fix[(track.pair_pasture == p) & off]] = True
            slot = presence[(herd, int(p))]
            slot.collars.add(track.device.device_id)
            if known:
                since = track.run_start_ms(pred, now)
                slot.known = True
                if since is not None:
                    slot.longest_s = max(slot.longest_s, (now - since) / 1000)

    out = []
    for (herd, p), slot in sorted(presence.items()):
        pasture = pastures[p]
        severity = None
        if slot.longest_s > cfg.sustain_s:
            severity = escalating(slot.longest_s, cfg.critical_after_s)
        out.append(
            Condition(
                rule=NAME,
                subject=Subject(
                    SubjectKind.HERD_IN_PASTURE, pasture.okrug, pasture_id=pasture.id, herd_id=herd
                ),
                severity=severity,
                value=round(slot.longest_s / 60, 1) if slot.known else None,
                unit="min",
                context={
                    "pasture_name": pasture.name,
                    "reason": _reason(pasture.status, entries_by_herd.get(herd, []), pasture.id),
                    "collars_inside": len(slot.collars),
                    "position_known": slot.known,
                },
            )
        )
    return out


RULE = Rule(
    NAME,
    SubjectKind.HERD_IN_PASTURE,
    evaluate,
    "herd in a resting/closed pasture or off plan window > 30 min",
)

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
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from api.alerts.engine.context import Evaluation
from api.alerts.engine.inputs import PastureStatus, PlanEntry
from api.alerts.engine.model import Condition, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule, escalating
from api.alerts.engine.tracks import BoolArray, IntArray, Tracks

NAME = "off_plan"


@dataclass
class _Presence:
    longest_s: float = 0.0
    collars: set[str] = field(default_factory=set)
    known: bool = False


def _off_pairs(
    tracks: Tracks,
    open_mask: BoolArray,
    plan: Sequence[PlanEntry],
    planned: dict[str, int],
    herd_of: IntArray,
) -> BoolArray:
    """Per containment pair of the district: is that fix off plan in that pasture? All pairs
    at once: the pair's (herd, pasture) is looked up among the plan entries' keys, then its
    time checked against each entry with that key (rarely more than one)."""
    pa = tracks.pair_pasture
    off = ~open_mask[pa]
    index = {p.id: i for i, p in enumerate(tracks.pastures)}
    entries = [(planned[e.herd_id], index[e.pasture_id], e) for e in plan if e.pasture_id in index]
    n_p = max(len(tracks.pastures), 1)
    pair_herd = herd_of[tracks.dev[tracks.pair_fix]]
    has_plan = pair_herd >= 0  # the herd has plan entries: they decide, not status alone
    allowed = np.zeros(pa.size, dtype=bool)
    if entries:
        keys = np.array([h * n_p + p for h, p, _ in entries], dtype=np.int64)
        starts = np.array([e.start_ms for _, _, e in entries], dtype=np.int64)
        ends = np.array([e.end_ms for _, _, e in entries], dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        keys, starts, ends = keys[order], starts[order], ends[order]
        pair_key = np.where(has_plan, pair_herd * n_p + pa, -1)
        lo = np.searchsorted(keys, pair_key, side="left")
        hi = np.searchsorted(keys, pair_key, side="right")
        ts = tracks.ts[tracks.pair_fix]
        for k in range(int((hi - lo).max(initial=0))):
            e = np.minimum(lo + k, len(keys) - 1)
            allowed |= (lo + k < hi) & (ts >= starts[e]) & (ts < ends[e])
    return off | (has_plan & ~allowed)


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
    open_mask = np.array([p.status is PastureStatus.OPEN for p in pastures], dtype=bool)
    entries_by_herd: dict[str, list[PlanEntry]] = defaultdict(list)
    for entry in plan:
        entries_by_herd[entry.herd_id].append(entry)
    planned = {h: k for k, h in enumerate(sorted({e.herd_id for e in plan}))}
    herd_of = np.array(
        [planned.get(c.herd_id, -1) if c.herd_id else -1 for c in tracks.collars], dtype=np.int64
    )
    off = _off_pairs(tracks, open_mask, plan, planned, herd_of)

    # A silent collar whose last fix was in p holds an alert for p only while no collar of
    # its herd is known: once one is, the herd's whereabouts are known and count alone.
    known = tracks.known(now)
    herd_known = {c.herd_id for c, k in zip(tracks.collars, known, strict=True) if k and c.herd_id}
    # Only collars whose latest fix is off plan somewhere have anything to say.
    pair_dev = tracks.dev[tracks.pair_fix]
    at_last = off & (tracks.pair_fix == tracks.last[pair_dev])
    presence: dict[tuple[str, int], _Presence] = defaultdict(_Presence)
    candidates = set(
        zip(pair_dev[at_last].tolist(), tracks.pair_pasture[at_last].tolist(), strict=True)
    )
    for i, p in sorted(candidates):
        device = tracks.collars[i]
        herd = device.herd_id
        if herd is None or (not known[i] and herd in herd_known):
            continue
        slot = presence[(herd, p)]
        slot.collars.add(device.device_id)
        if known[i]:
            lo, hi = int(tracks.offsets[i]), int(tracks.offsets[i + 1])
            plo, phi = np.searchsorted(tracks.pair_fix, (lo, hi))
            mine = slice(int(plo), int(phi))
            pred = np.zeros(hi - lo, dtype=bool)
            sel = (tracks.pair_pasture[mine] == p) & off[mine]
            pred[tracks.pair_fix[mine][sel] - lo] = True
            since = tracks.track(i).run_start_ms(pred, now)
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

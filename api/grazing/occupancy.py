"""How much each collar stands for: the integral of 1 / (collars of its herd known at t).

frac_h,p(t) = inside_h,p(t) / known_h(t), and inside_h,p(t) is a sum over the herd's collars,
so the integral of frac over a window splits into one term per holding interval:

    ∫ frac_h,p dt = Σ_{fix i of h inside p} ∫_{s_i}^{e_i} dt / known_h(t)

known_h(t) is piecewise constant between the starts and ends of the herd's intervals, so
G_h(t) = ∫ dt / known_h(t) is piecewise linear and exact at every point: one sort and one
cumulative sum over all herds' events gives it, with no sampling error and no loop per herd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from api.grazing.fixes import HoldIntervals

Array = np.ndarray[Any, Any]

# Events are ordered by one int64 key, herd index in the high bits and time since the window's
# start in the low bits: 2**40 ms is 34 years, leaving 2**23 herds.
_TIME_BITS = 40
_MAX_SPAN_MS = 1 << _TIME_BITS
_MAX_HERDS = 1 << (63 - _TIME_BITS)


@dataclass(frozen=True, slots=True)
class HerdClocks:
    """G_h for every herd, as breakpoints: evaluate with `integral`."""

    lo_ms: int
    keys: Array  # sorted event keys
    times: Array  # event times, ms
    g: Array  # G_h at each event (ms of 1/known), 0 at the herd's first event
    inv_known: Array  # 1 / known_h on the segment that starts at each event (0 when none)

    @classmethod
    def build(cls, intervals: HoldIntervals, lo_ms: int, hi_ms: int, n_herds: int) -> HerdClocks:
        if hi_ms - lo_ms >= _MAX_SPAN_MS:
            raise ValueError("evaluation window longer than 34 years")
        if n_herds >= _MAX_HERDS:
            raise ValueError("too many herds for one evaluation")
        start = np.maximum(intervals.start_ms, lo_ms)
        end = np.minimum(intervals.end_ms, hi_ms)
        live = end > start
        herd = intervals.herd[live]
        times = np.concatenate([start[live], end[live]])
        herds = np.concatenate([herd, herd])
        delta = np.concatenate([np.ones(herd.size), -np.ones(herd.size)])
        keys = (herds << _TIME_BITS) | (times - lo_ms)
        order = np.argsort(keys, kind="stable")
        keys, times, delta = keys[order], times[order], delta[order]

        known = np.cumsum(delta)  # every herd's events sum to 0, so counts never leak
        inv_known = np.divide(1.0, known, out=np.zeros_like(known), where=known > 0.5)
        seg = np.zeros(times.size, dtype=np.float64)
        seg[:-1] = np.diff(times)  # across a herd boundary inv_known is 0, so no leak either
        step = seg * inv_known
        g = np.zeros(times.size, dtype=np.float64)
        np.cumsum(step[:-1], out=g[1:])
        return cls(lo_ms, keys, times, g, inv_known)

    def integral(self, herd: Array, t_ms: Array) -> Array:
        """G_h(t) for each (herd, t); t must not precede the herd's first event."""
        if self.keys.size == 0:
            return np.zeros(np.shape(t_ms))
        query = (herd << _TIME_BITS) | (t_ms - self.lo_ms)
        j = np.searchsorted(self.keys, query, side="right") - 1
        result: Array = self.g[j] + (t_ms - self.times[j]) * self.inv_known[j]
        return result


def collar_weights(clocks: HerdClocks, herd: Array, start_ms: Array, end_ms: Array) -> Array:
    """∫_{start}^{end} dt / known_h(t) for each row, in ms; 0 where end <= start."""
    w = np.zeros(herd.size, dtype=np.float64)
    live = end_ms > start_ms
    if live.any():
        h = herd[live]
        w[live] = clocks.integral(h, end_ms[live]) - clocks.integral(h, start_ms[live])
    return w

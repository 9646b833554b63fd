"""Low battery: the level below a per-kind voltage, with days to empty from a linear trend.

The level is the median of the last few samples, so one sag under load (a GPS fix, a modem
burst) does not fire. Days to empty come from a least-squares line through the samples of
the trend window, extrapolated to the kind's empty voltage. Critical below the critical
voltage or when the estimate is under `critical_days_to_empty`. Once open, the alert is held
until the level is back above warning + `clear_margin_v` (a battery swap).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import median

import numpy as np

from api.alerts.engine.config import LowBatteryConfig
from api.alerts.engine.context import Evaluation
from api.alerts.engine.inputs import Sample
from api.alerts.engine.model import Condition, Severity, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule

NAME = "low_battery"
DAY_MS = 86_400_000


def days_to_empty(
    samples: Sequence[Sample], now_ms: int, empty_v: float, cfg: LowBatteryConfig
) -> float | None:
    """Days until the fitted line reaches `empty_v`, or None without a falling trend."""
    recent = [s for s in samples if now_ms - cfg.trend_window_s * 1000 <= s.ts_ms <= now_ms]
    if len(recent) < cfg.trend_min_samples:
        return None
    days = np.array([(s.ts_ms - now_ms) / DAY_MS for s in recent])
    volts = np.array([s.value for s in recent])
    if np.ptp(days) == 0:
        return None
    slope, at_now = np.polyfit(days, volts, 1)
    if slope > -cfg.trend_min_drop_v_per_day:
        return None
    return max(0.0, float((at_now - empty_v) / -slope))


def evaluate(ev: Evaluation) -> list[Condition] | None:
    battery = ev.snapshot.battery
    if battery is None:
        return None
    cfg = ev.config.low_battery
    now = ev.now_ms
    out = []
    for device in ev.snapshot.devices:
        warn = cfg.warning_v.get(device.kind)
        samples = battery.get(device.device_id)
        if not device.active or not samples or warn is None:
            continue  # checked first: this loop runs for every device of the district
        series = sorted(
            (s for s in samples if s.ts_ms <= now and math.isfinite(s.value)),
            key=lambda s: s.ts_ms,
        )
        if not series:
            continue
        level = float(median([s.value for s in series[-cfg.level_samples :]]))
        if level >= warn + cfg.clear_margin_v:
            continue
        crit = cfg.critical_v.get(device.kind, 0.0)
        empty = cfg.empty_v.get(device.kind, crit)
        dte = days_to_empty(series, now, empty, cfg)
        severity = None
        if level < crit or (level < warn and dte is not None and dte < cfg.critical_days_to_empty):
            severity = Severity.CRITICAL
        elif level < warn:
            severity = Severity.WARNING
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
                value=round(level, 3),
                unit="V",
                context={
                    "device_kind": device.kind,
                    "threshold_v": warn,
                    "days_to_empty": None if dte is None else round(dte, 1),
                },
            )
        )
    return out


RULE = Rule(NAME, SubjectKind.DEVICE, evaluate, "battery below the kind's voltage, days to empty")

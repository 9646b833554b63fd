"""Device offline: no reading for `missed_intervals` (3) x the device's expected interval.

Checked on the evaluation clock, not when data arrives, so it fires while the device stays
silent; the lifecycle repeats it at the repeat interval until acknowledged, and escalates it
to critical after `critical_after_s` of silence. Any reading counts, even one the ingest
flagged: a flagged fix still proves the device is alive. A device that has never reported is
not "offline" (it may not be deployed yet) and is left to the registry's own checks.
"""

from __future__ import annotations

from api.alerts.engine.context import Evaluation
from api.alerts.engine.model import Condition, Severity, Subject, SubjectKind
from api.alerts.engine.rules.base import Rule

NAME = "device_offline"


def evaluate(ev: Evaluation) -> list[Condition] | None:
    last_seen = ev.snapshot.last_seen_ms
    if last_seen is None:
        return None
    cfg = ev.config.device_offline
    now = ev.now_ms
    out = []
    for device in ev.snapshot.devices:
        last = last_seen.get(device.device_id)
        if not device.active or last is None:
            continue
        silent_s = max(0, now - last) / 1000
        if silent_s < cfg.missed_intervals * device.expected_interval_s:
            continue
        severity = Severity.CRITICAL if silent_s >= cfg.critical_after_s else Severity.WARNING
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
                value=round(silent_s / 60, 1),
                unit="min",
                context={
                    "device_kind": device.kind,
                    "last_seen_ms": last,
                    "expected_interval_s": device.expected_interval_s,
                },
            )
        )
    return out


RULE = Rule(NAME, SubjectKind.DEVICE, evaluate, "no reading for 3 x the expected interval")

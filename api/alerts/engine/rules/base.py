"""What a rule is, and the small helpers several rules share."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from api.alerts.engine.context import Evaluation
from api.alerts.engine.inputs import Sample
from api.alerts.engine.model import Condition, Severity, SubjectKind

# Returns the rule's conditions, or None when its inputs are missing from the snapshot.
Evaluator = Callable[[Evaluation], list[Condition] | None]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    subject_kind: SubjectKind
    evaluate: Evaluator
    summary: str


def sustained_since(
    series: Sequence[Sample],
    pred: Callable[[float], bool],
    now_ms: int,
    max_gap_ms: int,
) -> int | None:
    """Start of the run of samples, ending with the latest one, for which `pred` holds, with
    no two samples further apart than `max_gap_ms` and the latest no older than that.

    None when the latest sample is stale or fails `pred`.
    """
    samples = sorted((s for s in series if s.ts_ms <= now_ms), key=lambda s: s.ts_ms)
    if not samples or now_ms - samples[-1].ts_ms > max_gap_ms or not pred(samples[-1].value):
        return None
    start = samples[-1].ts_ms
    for prev, cur in zip(reversed(samples[:-1]), reversed(samples[1:]), strict=True):
        if not pred(prev.value) or cur.ts_ms - prev.ts_ms > max_gap_ms:
            break
        start = prev.ts_ms
    return start


def finite(value: float, digits: int) -> float | None:
    """`value` rounded for a context, or None when it is NaN or infinite (it would not
    survive JSON, and means "unknown" anyway)."""
    return round(value, digits) if math.isfinite(value) else None


def escalating(duration_s: float, critical_after_s: float) -> Severity:
    return Severity.CRITICAL if duration_s >= critical_after_s else Severity.WARNING

"""`observe_many` leaves a histogram exactly as `observe` one by one would."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Histogram

from ingest.metrics import observe_many

BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400)
# Every bound itself (observe counts a value equal to a bound in that bound's bucket), either
# side of it, zero, and beyond the last bound.
VALUES = [0.0, 0.1, 0.1000001, 0.0999, 0.5, 1.0, 1.5, 2, 59.999, 60, 60.0001, 86400, 86400.5,
          1e9, 3600, 7.25]  # fmt: skip


def _samples(batch: bool) -> dict[str, float]:
    registry = CollectorRegistry()
    hist = Histogram("lag", "lag", buckets=BUCKETS, registry=registry)
    if batch:
        observe_many(hist, VALUES)
        observe_many(hist, [])
        observe_many(hist, VALUES[:3])
    else:
        for value in [*VALUES, *VALUES[:3]]:
            hist.observe(value)
    return {
        f"{s.name}{s.labels}": s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")  # the two are made at different instants
    }


def test_batch_observe_equals_one_by_one() -> None:
    one_by_one = _samples(batch=False)
    batched = _samples(batch=True)
    # 0.0 and 0.1 twice each, 0.0999 once: a value on a bound counts in that bound.
    assert one_by_one["lag_bucket{'le': '0.1'}"] == 5
    assert one_by_one["lag_count{}"] == len(VALUES) + 3
    sums = one_by_one.pop("lag_sum{}"), batched.pop("lag_sum{}")
    assert math.isclose(*sums, rel_tol=1e-12)  # added in another order
    assert batched == one_by_one

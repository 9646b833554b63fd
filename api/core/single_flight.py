"""One value shared by concurrent requests: recomputed at most once per `max_age_s`, by one
request at a time (single flight).

What polling clients ask for over and over (the district's latest fixes, every pasture's
season figures) costs a store query and seconds of CPU to compute, and is the same for
every caller before their scope is applied. Requests arriving while a recomputation runs
get the previous value if there is one (a slow store does not stall every map), or wait for
the first one. Callers must cache only what is the same for everyone and apply the
caller's scope to it on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# A caller waiting for someone else's first computation gives up after this (every wait is
# bounded); the store client's own timeouts are shorter.
WAIT_S = 60.0


class SingleFlight(Generic[T]):
    """`max_age_s=0` computes for every call (nothing shared)."""

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._value: T | None = None
        self._made_at = 0.0
        self._lock = threading.Lock()  # held by the one computing caller
        self.computations = 0

    def _fresh(self, usable: Callable[[T], bool]) -> T | None:
        value = self._value
        if value is not None and self._clock() - self._made_at < self.max_age_s and usable(value):
            return value
        return None

    def current(self) -> T | None:
        """The shared value if it is fresh, without computing (None: due for a refresh)."""
        if self.max_age_s <= 0:
            return None
        return self._fresh(lambda _: True)

    def get(self, compute: Callable[[], T], usable: Callable[[T], bool] = lambda _: True) -> T:
        """The shared value, computed by `compute` when missing, older than `max_age_s`, or
        not `usable` for this caller (e.g. it lacks an object created since). Errors of
        `compute` propagate to the computing caller; raises TimeoutError after `WAIT_S`
        waiting for a first value another caller is computing."""
        if self.max_age_s <= 0:
            return self._compute(compute)
        value = self._fresh(usable)
        if value is not None:
            return value
        previous = self._value
        usable_previous = previous is not None and usable(previous)
        got = (
            self._lock.acquire(timeout=WAIT_S) if not usable_previous else self._lock.acquire(False)
        )
        if not got:
            if previous is None or not usable_previous:
                raise TimeoutError("still being computed by another request; try again")
            return previous  # someone is recomputing: the previous value meanwhile
        try:
            value = self._fresh(usable)  # recomputed while this caller waited
            if value is not None:
                return value
            started = self._clock()
            value = self._compute(compute)
            self._value, self._made_at = value, started
            return value
        finally:
            self._lock.release()

    def _compute(self, compute: Callable[[], T]) -> T:
        self.computations += 1
        return compute()

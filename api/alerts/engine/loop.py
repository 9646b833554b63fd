"""The clock-driven evaluation loop that `jaylym serve` (in a thread) or `jaylym alerts` runs.

It evaluates on a fixed rate, whether or not data arrived: the device-offline rule needs a
clock, not a message. Every wait is bounded and the loop stops on an event, after a number
of cycles, or at a deadline; a failing snapshot source or evaluation is logged, counted and
retried on the next tick, never fatal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from api.alerts.engine.engine import AlertEngine, CycleReport
from api.alerts.engine.inputs import Snapshot

log = structlog.get_logger("jaylym.alerts.loop")

SnapshotSource = Callable[[int], Snapshot]


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait up to `seconds`, returning early once `stop` is set."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(0.0, seconds))


@dataclass
class LoopReport:
    cycles: int = 0
    failures: int = 0
    last: CycleReport | None = None
    errors: list[str] = field(default_factory=list)


def run_loop(
    engine: AlertEngine,
    source: SnapshotSource,
    *,
    clock: Clock | None = None,
    interval_s: float | None = None,
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
    until_ms: int | None = None,
    report: LoopReport | None = None,
) -> LoopReport:
    """Evaluate every `interval_s` (default: the engine's configured interval) until `stop`
    is set, `max_cycles` evaluations have run, or the clock passes `until_ms`."""
    clock = clock or SystemClock()
    stop = stop or threading.Event()
    interval_ms = round(1000 * (interval_s or engine.config.evaluation_interval_s))
    if interval_ms <= 0:
        raise ValueError("interval must be positive")
    report = report if report is not None else LoopReport()  # live, for a watching thread
    next_ms = clock.now_ms()
    while not stop.is_set():
        if max_cycles is not None and report.cycles >= max_cycles:
            break
        now = clock.now_ms()
        if until_ms is not None and now >= until_ms:
            break
        if now < next_ms:
            clock.sleep((next_ms - now) / 1000, stop)
            continue
        report.cycles += 1
        try:
            report.last = engine.evaluate(source(now))
        except Exception as exc:
            report.failures += 1
            report.errors = [*report.errors[-9:], repr(exc)]  # the last ten, bounded
            log.exception("alert evaluation failed", cycle=report.cycles)
        # Fixed rate without drift; after a long stall, skip missed ticks rather than burst.
        next_ms += interval_ms
        finished = clock.now_ms()
        if next_ms <= finished:
            next_ms = finished + interval_ms
    return report


class LoopThread:
    """`run_loop` in a daemon thread, for the API process (start it in the FastAPI lifespan,
    stop it on shutdown). `stop` is bounded: it waits at most `timeout_s` for the current
    evaluation to finish."""

    def __init__(
        self,
        engine: AlertEngine,
        source: SnapshotSource,
        *,
        clock: Clock | None = None,
        interval_s: float | None = None,
    ) -> None:
        self._stop = threading.Event()
        self.report = LoopReport()
        self._thread = threading.Thread(
            target=self._run,
            args=(engine, source, clock, interval_s),
            name="jaylym-alerts",
            daemon=True,
        )

    def _run(
        self,
        engine: AlertEngine,
        source: SnapshotSource,
        clock: Clock | None,
        interval_s: float | None,
    ) -> None:
        self.report = run_loop(engine, source, clock=clock, interval_s=interval_s, stop=self._stop)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Ask the loop to stop; True once it has."""
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        return not self._thread.is_alive()

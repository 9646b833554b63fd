"""The demo's simulated clock, shared by the devices (boards/sim.py "clock") and the alert
engine (`api.alerts.engine.Clock`).

Simulated time runs `speed` times as fast as the host's clock and starts far enough in the
past that it reaches the host's clock only when the demo's `--duration` ends: every reading
then carries a past timestamp the ingest accepts, and a simulated day carries a day of
timestamps, so the grazing model and the alert rules see real durations.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class SimClock:
    speed: float  # simulated seconds per real second
    t0_ms: int  # simulated time at real0_ms
    real0_ms: int

    @classmethod
    def ending_now_plus(cls, speed: float, duration_s: float) -> SimClock:
        """A clock that reaches the host's clock `duration_s` real seconds from now."""
        real0 = time.time_ns() // 1_000_000
        return cls(speed, real0 - round(duration_s * speed * 1000), real0)

    def now_ms(self) -> int:
        real = time.time_ns() // 1_000_000
        return min(real, self.t0_ms + int((real - self.real0_ms) * self.speed))

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait `seconds` of simulated time (the engine's evaluation interval)."""
        stop.wait(max(0.0, seconds / self.speed))

    def board_options(self) -> dict[str, int]:
        """The sim board's "clock" option: the same formula, in the device."""
        return {"t0_ms": self.t0_ms, "real0_ms": self.real0_ms}

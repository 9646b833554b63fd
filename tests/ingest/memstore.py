"""An in-process TimeSeriesStore for consumer tests that do not need a server.

A real implementation of the protocol (same overwrite rule: device + ts (+ depth) is one
point), with a switch that makes it unreachable the way a stopped server is.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from jaylym.models import PositionReading, Reading, SoilReading
from jaylym.store.base import LatestReading, SoilSample, StoreUnavailable


def point_key(r: Reading) -> tuple[str, int, int]:
    return (r.device_id, r.ts_ms, r.depth_cm if isinstance(r, SoilReading) else -1)


class MemoryStore:
    def __init__(self) -> None:
        self.points: dict[tuple[str, int, int], Reading] = {}
        self.down = False
        self.writes = 0
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()

    def write(self, readings: Sequence[Reading]) -> None:
        if self.down:
            raise StoreUnavailable("memory store switched off")
        with self._lock:
            self.writes += 1
            self.batch_sizes.append(len(readings))
            for r in readings:
                self.points[point_key(r)] = r

    def _all(self) -> list[Reading]:
        with self._lock:
            return sorted(self.points.values(), key=lambda r: r.ts_ms)

    def latest(self) -> dict[str, LatestReading]:
        out: dict[str, LatestReading] = {}
        for r in self._all():
            out[r.device_id] = LatestReading(r.device_id, r.ts_ms, r)
        return out

    def device_readings(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        return [r for r in self._all() if r.device_id == device_id and start_ms <= r.ts_ms < end_ms]

    def positions(self, start_ms: int, end_ms: int) -> dict[str, list[PositionReading]]:
        out: dict[str, list[PositionReading]] = {}
        for r in self._all():
            if isinstance(r, PositionReading) and start_ms <= r.ts_ms < end_ms:
                out.setdefault(r.device_id, []).append(r)
        return out

    def soil(
        self, device_id: str, start_ms: int, end_ms: int, every_s: int | None = None
    ) -> list[SoilSample]:
        return [
            SoilSample(r.ts_ms, r.depth_cm, r.vwc, r.tsoil)
            for r in self._all()
            if isinstance(r, SoilReading) and r.device_id == device_id
            and start_ms <= r.ts_ms < end_ms and (every_s is None or r.valid)
        ]  # fmt: skip

    def soil_readings(self, start_ms: int, end_ms: int) -> dict[str, list[SoilReading]]:
        out: dict[str, list[SoilReading]] = {}
        for r in self._all():
            if isinstance(r, SoilReading) and start_ms <= r.ts_ms < end_ms:
                out.setdefault(r.device_id, []).append(r)
        return out

    def last_seen(self) -> dict[str, int]:
        return {d: latest.ts_ms for d, latest in self.latest().items()}

    def close(self) -> None:
        return None

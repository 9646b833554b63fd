"""The ingest's counts as time-series points: `device_stats` and `dlq` (docs/storage-dashboards.md).

The ledger keeps running totals in the registry; the dashboards want them in InfluxDB as
**increments since this process's previous point**, so that `sum()` over any window is
exact across restarts and across the processes of a shared group (each writes its own
`instance` tag, so two points at the same millisecond never overwrite each other).

What is pending is bounded: one entry per registered device that changed since the last
write (device ids are checked against the registry before they get here) and one per
rejection reason (a closed set). When the store cannot take the points they stay pending and
are added to the next interval's, so nothing is lost or counted twice; a point the store
refuses outright is dropped and logged rather than blocking every later one.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from ingest.dedup import DeviceCounts
from ingest.ledger import DeadLetter
from jaylym.models import DeviceInfo, is_device_id
from jaylym.store.base import Point, StoreRejected, TimeSeriesStore

log = structlog.get_logger("jaylym.ingest")

WRITE_CHUNK = 5000


@dataclass(slots=True)
class _Pending:
    okrug: str
    kind: str
    received: int = 0
    missing: int = 0
    duplicates: int = 0

    @property
    def zero(self) -> bool:
        return self.received == 0 and self.missing == 0 and self.duplicates == 0


class StatsExporter:
    def __init__(
        self,
        instance: str,
        interval_s: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.instance = instance
        self.interval_s = interval_s
        self.clock = clock
        self.monotonic = monotonic
        self.devices: dict[str, _Pending] = {}
        self.dlq: Counter[str] = Counter()
        self._next_at = monotonic() + interval_s

    def add(
        self,
        deltas: Mapping[str, DeviceCounts],
        devices: Mapping[str, DeviceInfo],
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        """Count what one committed batch changed (after its ledger commit, never before)."""
        for device_id, delta in deltas.items():
            info = devices.get(device_id)
            if info is None or not is_device_id(device_id):
                continue  # never a tag from an unchecked id
            entry = self.devices.get(device_id)
            if entry is None:
                entry = self.devices[device_id] = _Pending(info.okrug, info.kind)
            entry.received += delta.received
            entry.missing += delta.missing
            entry.duplicates += delta.duplicates
        for letter in dead:
            self.dlq[letter.reason] += 1

    def points(self, ts_ms: int) -> list[tuple[tuple[str, str], Point]]:
        """What is pending, as points at `ts_ms`, each with its pending key (nothing for a
        device with no change)."""
        out = []
        for device_id, p in sorted(self.devices.items()):
            if p.zero:
                continue
            tags = {"device": device_id, "okrug": p.okrug, "kind": p.kind,
                    "instance": self.instance}  # fmt: skip
            fields = {"received": p.received, "missing": p.missing, "duplicates": p.duplicates}
            out.append((("device", device_id), Point("device_stats", tags, fields, ts_ms)))
        for reason, count in sorted(self.dlq.items()):
            if count:
                point = Point("dlq", {"reason": reason, "instance": self.instance},
                              {"count": count}, ts_ms)  # fmt: skip
                out.append((("dlq", reason), point))
        return out

    def _forget(self, keys: Sequence[tuple[str, str]]) -> None:
        for kind, key in keys:
            if kind == "device":
                self.devices.pop(key, None)
            else:
                self.dlq.pop(key, None)

    def due(self) -> bool:
        return self.monotonic() >= self._next_at

    def flush(self, store: TimeSeriesStore) -> int:
        """Write what is pending; returns the number of points written. What the store could
        not take stays pending for the next interval, and the error is raised (`StoreRejected`
        excepted: those points are dropped) so the caller can mark the store down. Each chunk
        is forgotten as soon as it is written: a failure half-way never writes a count twice."""
        self._next_at = self.monotonic() + self.interval_s
        keyed = self.points(round(self.clock() * 1000))
        written = 0
        for start in range(0, len(keyed), WRITE_CHUNK):
            chunk = keyed[start : start + WRITE_CHUNK]
            try:
                store.write_points([point for _key, point in chunk])
            except StoreRejected as exc:
                # Not retryable: dropping these is safer than refusing every later point too.
                log.error("store refused the ingest's stats points, dropped", error=str(exc),
                          points=len(chunk))  # fmt: skip
            except Exception as exc:  # StoreUnavailable, or a driver error: retried later
                log.warning("could not write the ingest's stats points, kept for the next "
                            "interval", error=str(exc), points=len(keyed) - start)  # fmt: skip
                raise
            else:
                written += len(chunk)
            self._forget([key for key, _point in chunk])
        return written

"""Where dead letters and per-device counts are written durably (the registry's tables).

The consumer only knows the `Ledger` protocol; `MemoryLedger` serves tests and embedded runs
without a registry, `SqlLedger` writes `dlq_messages` and `device_stats`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ingest.dedup import DeviceCounts, Observation, SeqTracker, change, observe

DLQ_PAYLOAD_MAX = 4096


@dataclass(frozen=True, slots=True)
class DeadLetter:
    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload: bytes  # truncated to DLQ_PAYLOAD_MAX
    payload_size: int

    @classmethod
    def of(
        cls, received_at: datetime, topic: str, reason: str, detail: str, payload: bytes
    ) -> DeadLetter:
        return cls(
            received_at, topic[:1024], reason, detail, payload[:DLQ_PAYLOAD_MAX], len(payload)
        )


class Ledger(Protocol):
    def record(
        self, dead_letters: Sequence[DeadLetter], observed: Mapping[str, Observation]
    ) -> dict[str, DeviceCounts]:
        """Write the dead letters and apply the per-device observations (`dedup.observe`) in
        one durable transaction, or raise. Returns what each device's counts changed by
        (`dedup.change`), as applied to the stored row: exact across a shared group."""
        ...


class MemoryLedger:
    """In-process ledger: tests, and the benchmark's registry-free ingest."""

    def __init__(self) -> None:
        self.dead_letters: list[DeadLetter] = []
        self._tracker = SeqTracker()

    @property
    def counts(self) -> dict[str, DeviceCounts]:
        return self._tracker.counts

    def record(
        self, dead_letters: Sequence[DeadLetter], observed: Mapping[str, Observation]
    ) -> dict[str, DeviceCounts]:
        self.dead_letters.extend(dead_letters)
        deltas = {}
        for device_id, obs in observed.items():
            counts = self._tracker.counts.setdefault(device_id, DeviceCounts())
            before = copy.copy(counts)
            observe(counts, obs.seqs, obs.duplicates)
            deltas[device_id] = change(before, counts)
        return deltas

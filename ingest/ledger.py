"""Where dead letters and per-device counts are written durably (the registry's tables).

The consumer only knows the `Ledger` protocol; `MemoryLedger` serves tests and embedded runs
without a registry, `SqlLedger` writes `dlq_messages` and `device_stats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from ingest.dedup import DeviceCounts

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
    def load_counts(self) -> dict[str, DeviceCounts]:
        """The per-device counts as last recorded (to resume after a restart)."""
        ...

    def record(
        self, dead_letters: Sequence[DeadLetter], counts: Mapping[str, DeviceCounts]
    ) -> None:
        """Write both in one durable transaction, or raise. Counts are absolute values."""
        ...


class MemoryLedger:
    """In-process ledger: the embedded default without a registry, and tests."""

    def __init__(self) -> None:
        self.dead_letters: list[DeadLetter] = []
        self.counts: dict[str, DeviceCounts] = {}

    def load_counts(self) -> dict[str, DeviceCounts]:
        return {k: replace(v) for k, v in self.counts.items()}

    def record(
        self, dead_letters: Sequence[DeadLetter], counts: Mapping[str, DeviceCounts]
    ) -> None:
        self.dead_letters.extend(dead_letters)
        self.counts.update({k: replace(v) for k, v in counts.items()})

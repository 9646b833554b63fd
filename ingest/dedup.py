"""Exact repeats and sequence gaps, per device.

The store already makes a replay harmless (same device and ts is the same point); this
window drops exact repeats before they cost a write and counts them, and the tracker turns
`seq` gaps into a per-device count of readings lost before the broker.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass


class RepeatWindow:
    """The most recent `size` keys, oldest forgotten first (bounded memory)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[tuple[str, int, int], None] = OrderedDict()

    def __contains__(self, key: tuple[str, int, int]) -> bool:
        return key in self._keys

    @property
    def keys(self) -> Container[tuple[str, int, int]]:
        """The keys as a plain container, for `in` on a hot path without a method call (the
        window changes only through `add` and `add_many`)."""
        return self._keys.keys()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: tuple[str, int, int]) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def add_many(self, keys: list[tuple[str, int, int]]) -> None:
        """`add` for a batch, trimming once."""
        known = self._keys
        for key in keys:
            if key in known:
                known.move_to_end(key)
            else:
                known[key] = None
        while len(known) > self.size:
            known.popitem(last=False)


@dataclass(slots=True)
class DeviceCounts:
    """What `device_stats` holds for one device."""

    received: int = 0
    missing: int = 0
    duplicates: int = 0
    last_seq: int | None = None


def change(before: DeviceCounts, after: DeviceCounts) -> DeviceCounts:
    """What a batch added to a device's counts (`missing` may go down: a gap filled)."""
    return DeviceCounts(
        after.received - before.received,
        after.missing - before.missing,
        after.duplicates - before.duplicates,
        after.last_seq,
    )


@dataclass(slots=True)
class Observation:
    """What one batch saw of one device: accepted seqs in arrival order, and repeats."""

    seqs: list[int]
    duplicates: int = 0


def observe(counts: DeviceCounts, seqs: list[int], duplicates: int = 0) -> None:
    """Apply a batch's observation to a device's counts (the gap rule, in one place).

    The ledger runs this on the stored row inside its transaction, so several ingest
    processes of a shared group, each seeing part of a device's stream, count gaps exactly
    as one process would."""
    counts.duplicates += duplicates
    counts.received += len(seqs)
    # In locals: this runs for every accepted reading, and attribute writes per seq cost
    # three times the loop.
    missing, last = counts.missing, counts.last_seq
    for seq in seqs:
        if last is None:
            last = seq
        elif seq > last:
            missing += seq - last - 1
            last = seq
        elif missing > 0:
            # An older seq that is not a known repeat: a buffered reading filling a gap.
            missing -= 1
    counts.missing, counts.last_seq = missing, last


class SeqTracker:
    def __init__(self, initial: dict[str, DeviceCounts] | None = None) -> None:
        self.counts: dict[str, DeviceCounts] = dict(initial or {})

    def _get(self, device_id: str) -> DeviceCounts:
        counts = self.counts.get(device_id)
        if counts is None:
            counts = self.counts[device_id] = DeviceCounts()
        return counts

    def received(self, device_id: str, seq: int) -> None:
        observe(self._get(device_id), [seq])

    def duplicate(self, device_id: str) -> None:
        observe(self._get(device_id), [], 1)

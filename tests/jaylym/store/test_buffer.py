"""The buffered writer: batches by size and age, keeps everything when the store is down."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from jaylym.models import Reading
from jaylym.services import InfluxD
from jaylym.store.base import StoreError, StoreRejected, StoreUnavailable
from jaylym.store.buffer import BufferedWriter, BufferFull
from jaylym.store.sqlite import SqliteStore
from tests.jaylym.store.builders import T0, pos
from tests.jaylym.store.conftest import influx_store


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_writes_by_size_and_by_age(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    clock = Clock()
    writer = BufferedWriter(store, batch_size=10, flush_interval_s=5, clock=clock)

    writer.add([pos(ts=T0 + i, seq=i) for i in range(9)])
    assert writer.pending == 9
    assert not writer.due()
    writer.add([pos(ts=T0 + 9, seq=9), pos(ts=T0 + 10, seq=10)])  # full batch: written now
    assert writer.pending == 1
    assert len(store.device_readings("c-001", T0, T0 + 100)) == 10

    clock.now = 4.9
    assert not writer.due()
    clock.now = 5.0
    assert writer.due()
    assert writer.flush() == 1
    assert writer.pending == 0
    store.close()


@pytest.mark.influx
def test_store_down_keeps_every_reading_in_order(own_influxd: InfluxD) -> None:
    store = influx_store(own_influxd.url, retries=0, timeout_s=1.0)
    writer = BufferedWriter(store, batch_size=4, flush_interval_s=60, max_buffered=12)
    readings = [pos(ts=T0 + i, seq=i) for i in range(10)]
    own_influxd.stop()

    with pytest.raises(StoreUnavailable):
        writer.add(readings[:4])  # a full batch: written at once, and it fails
    with pytest.raises(StoreUnavailable):
        writer.add(readings[4:10])
    assert writer.pending == 10
    with pytest.raises(BufferFull):
        writer.add([pos(ts=T0 + 99)] * 3)

    own_influxd.start()
    assert writer.flush() == 10
    assert store.device_readings("c-001", T0, T0 + 100) == readings
    store.close()


def test_rejected_batches_go_to_the_handler_and_the_rest_is_written(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    seen: list[tuple[StoreError, Sequence[Reading]]] = []
    writer = BufferedWriter(store, batch_size=2, on_error=lambda e, b: seen.append((e, b)))
    bad = pos("X!", ts=T0)
    writer._pending = [pos(ts=T0), bad, pos(ts=T0 + 1, seq=2), pos(ts=T0 + 2, seq=3)]
    writer._oldest = 0.0

    assert writer.flush() == 2
    assert [type(e) for e, _ in seen] == [StoreRejected]
    assert seen[0][1][1] is bad
    assert len(store.device_readings("c-001", T0, T0 + 10)) == 2
    store.close()


def test_background_thread_flushes_when_due(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    writer = BufferedWriter(store, batch_size=1000, flush_interval_s=0.05)
    writer.start()
    writer.add([pos(ts=T0)])
    deadline = time.monotonic() + 5
    while writer.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.pending == 0
    writer.add([pos(ts=T0 + 1, seq=2)])
    writer.close()
    assert len(store.device_readings("c-001", T0, T0 + 10)) == 2
    store.close()

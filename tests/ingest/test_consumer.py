"""The consumer loop with in-process store, registry and ledger: what is acked, when."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ingest.reasons import Reason
from jaylym.models import PositionReading, SoilFlag, SoilReading
from tests.ingest.harness import COW1, ST1, Harness, collar_msg


def test_round_trip_both_kinds_and_batches(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    now = time.time()
    h.send(COW1, collar_msg(list(range(1, 101))))
    h.send(ST1, {"v": 1, "readings": [
        {"seq": 1, "ts": now - 60, "depths": [10, 30], "vwc": [24.0, -0.2], "tsoil": [5.0, 4.0]},
    ]})  # fmt: skip
    h.drain()
    positions = [r for r in h.store.points.values() if isinstance(r, PositionReading)]
    soil = sorted((r for r in h.store.points.values() if isinstance(r, SoilReading)),
                  key=lambda r: r.depth_cm)  # fmt: skip
    assert len(positions) == 100
    assert {r.seq for r in positions} == set(range(1, 101))
    assert all(r.herd_id == "herd-1" and r.okrug == "sogety" for r in positions)
    assert [(r.depth_cm, r.vwc) for r in soil] == [(10, 24.0), (30, -0.2)]
    assert soil[1].flags == {SoilFlag.BELOW_ZERO}
    assert h.transport.acked == [1, 2]
    assert h.ledger.counts["cow-1"].received == 100
    assert h.metric("jaylym_ingest_readings_stored_total", kind="position") == 100
    assert h.metric("jaylym_ingest_readings_stored_total", kind="soil") == 2


def test_repeats_are_dropped_counted_and_still_acked(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    msg = collar_msg([1, 2, 3])
    h.send(COW1, msg)
    h.drain()
    writes = h.store.writes
    h.send(COW1, msg)  # a broker redelivery or a device replay
    h.send(COW1, msg)
    h.drain()
    assert h.store.writes == writes  # dropped before costing a write
    assert len(h.store.points) == 3
    assert h.transport.acked == [1, 2, 3]
    assert h.ledger.counts["cow-1"].duplicates == 6
    assert h.metric("jaylym_ingest_duplicates_total") == 6


def test_seq_gaps_are_recorded_per_device(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.send(COW1, collar_msg([1, 2, 3, 7, 8]))
    h.send("pasture/v1/sogety/collar/cow-2/telemetry", collar_msg([10, 11]))
    h.drain()
    c1, c2 = h.ledger.counts["cow-1"], h.ledger.counts["cow-2"]
    assert (c1.received, c1.missing, c1.last_seq) == (5, 3, 8)
    assert (c2.received, c2.missing, c2.last_seq) == (2, 0, 11)


def test_every_rejection_reason_is_dead_lettered(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    now = time.time()
    cases = {
        Reason.UNKNOWN_DEVICE: ("pasture/v1/sogety/collar/cow-404/telemetry", collar_msg([1])),
        Reason.REVOKED_DEVICE: ("pasture/v1/sogety/collar/cow-9/telemetry", collar_msg([1])),
        Reason.TOPIC_MISMATCH: ("pasture/v1/sogety/soil/cow-1/telemetry", collar_msg([1])),
        Reason.BAD_TOPIC: ("pasture/v1/sogety/collar/COW-1/telemetry", collar_msg([1])),
        Reason.MALFORMED_JSON: (COW1, b"{nope"),
        Reason.BAD_SCHEMA: (COW1, {"v": 1, "readings": "all of them"}),
        Reason.OUT_OF_RANGE: (COW1, collar_msg([1], bat=9.5)),
        Reason.FUTURE_TS: (COW1, collar_msg([1], ts0=now + 3600)),
        Reason.TOO_OLD: (COW1, collar_msg([1], ts0=now - 500 * 86400)),
        Reason.TOO_LARGE: (COW1, collar_msg([1], note="x" * 70_000)),
    }
    for topic, payload in cases.values():
        h.send(topic, payload)
    h.drain()
    assert not h.store.points
    assert h.transport.acked == list(range(1, len(cases) + 1))  # refused is still handled
    assert [d.reason for d in h.ledger.dead_letters] == [r.value for r in cases]
    assert [t for t, _ in h.transport.published] == [f"pasture/v1/_dlq/{r}" for r in cases]
    for reason in cases:
        assert h.metric("jaylym_ingest_rejected_total", reason=reason.value) == 1
    big = h.ledger.dead_letters[-1]
    assert big.payload_size > 70_000
    assert len(big.payload) == 4096
    dlq = json.loads(h.transport.published[0][1])
    assert dlq["topic"] == "pasture/v1/sogety/collar/cow-404/telemetry"
    assert dlq["reason"] == "unknown_device"


def test_store_down_spools_acks_then_replays_in_order(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.store.down = True
    for start in range(1, 50, 10):
        h.send(COW1, collar_msg(list(range(start, start + 10))))
        h.drain()
    assert h.transport.acked == [1, 2, 3, 4, 5]  # durably spooled, so acknowledged
    assert not h.store.points
    assert h.spool.depth_bytes > 0
    assert h.metric("jaylym_ingest_spool_bytes") == h.spool.depth_bytes
    h.store.down = False
    h.consumer._store_retry_at = 0  # skip the back-off wait
    h.drain()
    assert h.spool.empty
    assert sorted(r.seq for r in h.store.points.values()) == list(range(1, 51))
    assert h.metric("jaylym_ingest_spool_bytes") == 0


def test_spool_full_holds_acks_until_the_store_is_back(tmp_path: Path) -> None:
    h = Harness(tmp_path, spool_max_bytes=65536)
    h.store.down = True
    h.send(COW1, collar_msg(list(range(1, 301))))  # about 60 kB spooled
    h.drain()
    assert h.transport.acked == [1]
    h.send(COW1, collar_msg(list(range(301, 601))))  # does not fit
    h.consumer.step()
    assert h.consumer.holding
    assert h.transport.acked == [1]
    assert h.metric("jaylym_ingest_spool_full") == 1
    h.store.down = False
    h.consumer._store_retry_at = 0
    h.consumer._retry_s = 0.01
    h.drain()
    assert h.transport.acked == [1, 2]
    assert len(h.store.points) == 600
    assert h.spool.empty
    assert h.metric("jaylym_ingest_spool_full") == 0


def test_registry_down_holds_the_batch_instead_of_refusing_it(tmp_path: Path) -> None:
    h = Harness(tmp_path)

    class Broken:
        def lookup(self, device_id: str) -> None:
            raise ConnectionError("registry down")

        def by_dev_eui(self, dev_eui: str) -> None:
            raise ConnectionError("registry down")

    from ingest.directory import CachedDirectory

    working = h.consumer.directory
    h.consumer.directory = CachedDirectory(Broken(), ttl_s=0)
    h.send(COW1, collar_msg([1]))
    h.consumer.step()
    assert h.consumer.holding
    assert not h.transport.acked
    assert not h.ledger.dead_letters
    h.consumer.directory = working
    h.consumer._retry_s = 0.01
    h.drain()
    assert h.transport.acked == [1]
    assert len(h.store.points) == 1


def test_a_message_from_an_earlier_connection_is_not_acked(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    msg = collar_msg([1])
    h.send(COW1, msg)
    h.transport.generation = 2  # reconnected before the batch was durable
    h.drain()
    assert h.transport.acked == []  # the broker redelivers it; the window drops the repeat
    h.send(COW1, msg)
    h.drain()
    assert h.transport.acked == [2]
    assert len(h.store.points) == 1


def test_store_refusal_is_isolated_to_the_refused_item(tmp_path: Path) -> None:
    from collections.abc import Sequence

    from jaylym.models import Reading
    from jaylym.store.base import StoreRejected
    from tests.ingest.memstore import MemoryStore

    class Picky(MemoryStore):
        """Refuses cow-2's points, the way InfluxDB refuses a field type conflict."""

        def write(self, readings: Sequence[Reading]) -> None:
            if any(r.device_id == "cow-2" for r in readings):
                raise StoreRejected("field type conflict")
            super().write(readings)

    h = Harness(tmp_path)
    h.store = h.consumer.store = Picky()
    h.send(COW1, collar_msg([1, 2]))
    h.send("pasture/v1/sogety/collar/cow-2/telemetry", collar_msg([1]))
    h.drain()
    assert sorted(r.seq for r in h.store.points.values()) == [1, 2]
    assert [d.reason for d in h.ledger.dead_letters] == ["store_rejected"]
    assert h.transport.acked == [1, 2]


def test_the_next_batch_is_decoded_while_one_commits_and_sees_its_keys(tmp_path: Path) -> None:
    """Batch 2 repeats batch 1 and is decoded while batch 1's write is still under way: its
    repeats are dropped (the in-flight keys count), nothing is stored twice, and each batch
    is acknowledged after its own commit, in order."""
    import threading

    h = Harness(tmp_path, batch_max=3, overlap_commit=True)
    release = threading.Event()
    written: list[int] = []
    write = h.store.write

    def slow_write(readings: Any) -> None:
        assert release.wait(10), "the test never released the write"
        write(readings)
        written.append(len(readings))

    h.store.write = slow_write  # type: ignore[method-assign]
    prepared_with_writes_done: list[int] = []
    prepare = h.consumer._prepare

    def spy(batch: Any, decoded: Any, now_ms: int) -> Any:
        prepared_with_writes_done.append(len(written))
        result = prepare(batch, decoded, now_ms)
        if len(prepared_with_writes_done) == 2:  # batch 2 is prepared: let batch 1 finish
            release.set()
        return result

    h.consumer._prepare = spy  # type: ignore[method-assign]
    ts0 = time.time() - 3600
    for seq in (1, 2, 3):
        h.send(COW1, collar_msg([seq], ts0=ts0))
    for seq in (1, 2, 3):  # the same three again: a redelivery
        h.send(COW1, collar_msg([seq], ts0=ts0))
    h.consumer.step()  # batch 1 decoded, its commit started; more input waits: returns
    assert not h.transport.acked
    h.consumer.step()  # batch 2 decoded while batch 1's write waits, then batch 1 settled
    h.drain()
    assert prepared_with_writes_done == [0, 0]
    assert written == [3]  # batch 2 had only repeats: no second write
    assert h.transport.acked == [1, 2, 3, 4, 5, 6]
    assert h.metric("jaylym_ingest_duplicates_total") == 3
    assert h.ledger.counts["cow-1"].received == 3
    assert h.ledger.counts["cow-1"].duplicates == 3
    assert not h.consumer._pending


class _SpyDirectory:
    """The harness's devices, recording each look-up; optionally down for some devices."""

    def __init__(self, inner: Any, down: set[str] | None = None) -> None:
        self.inner, self.down = inner, down if down is not None else set()
        self.asked: list[str] = []

    def lookup(self, device_id: str) -> Any:
        self.asked.append(device_id)
        if device_id in self.down:
            raise ConnectionError("registry down")
        return self.inner.lookup(device_id)

    def by_dev_eui(self, dev_eui: str) -> Any:
        return self.inner.by_dev_eui(dev_eui)


def _send_later(h: Harness, topic: str, payload: dict[str, Any], after: Any) -> Any:
    """Send `payload` from another thread once `after()` holds (bounded wait)."""
    import threading

    def run() -> None:
        deadline = time.monotonic() + 10
        while not after() and time.monotonic() < deadline:
            time.sleep(0.001)
        h.send(topic, payload)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_batch_is_decoded_while_it_fills(tmp_path: Path) -> None:
    """The first part of a batch is decoded while the rest is still coming: the registry
    is asked about it before the second part exists. Then one commit, one ack each."""
    h = Harness(tmp_path, batch_max=2, flush_interval_s=5.0)
    spy = h.consumer.directory = _SpyDirectory(h.directory)
    ts0 = time.time() - 3600
    h.send(COW1, collar_msg([1], ts0=ts0))
    second = _send_later(h, "pasture/v1/sogety/collar/cow-2/telemetry",
                         collar_msg([1], ts0=ts0), after=lambda: spy.asked)  # fmt: skip
    h.consumer.step()  # returns when the batch of 2 is full, not after 5 s
    second.join(10)
    assert spy.asked == ["cow-1", "cow-2"]  # each decoded once, cow-1 before cow-2 was sent
    assert sorted(r.device_id for r in h.store.points.values()) == ["cow-1", "cow-2"]
    assert h.transport.acked == [1, 2]
    assert h.store.writes == 1


def test_registry_down_for_a_later_part_holds_the_whole_batch(tmp_path: Path) -> None:
    """A part decoded early does not go ahead of the rest: when the registry fails on a
    later part, the whole batch is held and later committed once."""
    from ingest.directory import CachedDirectory

    h = Harness(tmp_path, batch_max=2, flush_interval_s=5.0)
    spy = _SpyDirectory(h.directory, down={"cow-2"})
    h.consumer.directory = CachedDirectory(spy, ttl_s=60)  # turns the failure into "down"
    ts0 = time.time() - 3600
    h.send(COW1, collar_msg([1], ts0=ts0))
    second = _send_later(h, "pasture/v1/sogety/collar/cow-2/telemetry",
                         collar_msg([1], ts0=ts0), after=lambda: spy.asked)  # fmt: skip
    h.consumer.step()
    second.join(10)
    assert h.consumer.holding
    assert not h.transport.acked
    assert not h.store.points
    assert not h.ledger.dead_letters
    spy.down.clear()
    h.consumer._retry_s = 0.01
    h.drain()
    assert h.transport.acked == [1, 2]
    assert sorted(r.device_id for r in h.store.points.values()) == ["cow-1", "cow-2"]
    assert h.ledger.counts["cow-1"].received == h.ledger.counts["cow-2"].received == 1

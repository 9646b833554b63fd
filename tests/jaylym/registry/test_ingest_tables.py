"""The counters and dead letters the ingest writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jaylym.registry.ingest_tables import CounterDelta, add_counts, dead_letter
from jaylym.registry.models import DeviceStats, DlqMessage


def stats(engine: Engine, device_id: str) -> DeviceStats:
    with Session(engine) as s:
        row = s.get(DeviceStats, device_id)
        assert row is not None
        return row


def test_counts_accumulate_and_last_seq_follows(engine: Engine) -> None:
    add_counts(engine, [CounterDelta("collar-1", received=5, last_seq=5)])
    add_counts(
        engine,
        [
            CounterDelta("collar-1", received=3, missing=2, duplicates=1, last_seq=10),
            CounterDelta("soil-1", received=1),
        ],
    )
    add_counts(engine, [CounterDelta("collar-1", duplicates=1)])  # no seq: keep the last
    row = stats(engine, "collar-1")
    assert (row.received, row.missing, row.duplicates, row.last_seq) == (8, 2, 2, 10)
    assert stats(engine, "soil-1").received == 1


def test_concurrent_writers_lose_no_increment(engine: Engine) -> None:
    def worker() -> None:
        for _ in range(25):
            add_counts(engine, [CounterDelta("collar-9", received=1)])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert stats(engine, "collar-9").received == 100


def test_dead_letter_truncates_payload_and_keeps_its_size(engine: Engine) -> None:
    big = b"\x00\xff" * 5000
    key = dead_letter(
        engine,
        topic="pasture/v1/x/gps/c-1/up",
        reason="too_large",
        detail="10000 bytes",
        payload=big,
    )
    with Session(engine) as s:
        msg = s.scalars(select(DlqMessage).where(DlqMessage.id == key)).one()
    assert msg.payload == big[:4096]
    assert msg.payload_size == 10_000
    assert msg.reason == "too_large"

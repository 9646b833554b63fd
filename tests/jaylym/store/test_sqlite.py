"""What only the embedded SQLite store does: WAL, keys, retention, threads, atomic batches."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from jaylym.settings import Settings
from jaylym.store import open_store
from jaylym.store.base import Point, StoreRejected
from jaylym.store.buffer import BufferedWriter
from jaylym.store.influx import InfluxStore
from jaylym.store.sqlite import SqliteStore
from tests.jaylym.store.builders import T0, pos, soil

DAY = 86_400_000


def test_wal_mode_and_device_time_keys(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.write([pos(ts=T0)])
    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    keys = {
        table: [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[5]]
        for table in ("position", "soil")
    }
    # WITHOUT ROWID tables are stored in primary-key order: the (device, time) index.
    assert keys == {"position": ["device", "ts_ms"], "soil": ["device", "ts_ms", "depth_cm"]}
    plan = " ".join(
        str(r)
        for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM position WHERE device = ? AND ts_ms >= ?",
            ("c-001", T0),
        )
    )
    assert "PRIMARY KEY" in plan or "USING" in plan
    conn.close()
    store.close()


def test_retention_deletes_old_rows_at_start_and_on_demand(tmp_path: Path) -> None:
    now_s = (T0 + 100 * DAY) / 1000
    store = SqliteStore(tmp_path / "t.db")
    store.write([pos(ts=T0), pos(ts=T0 + 95 * DAY, seq=2), soil(ts=T0 + 10 * DAY)])
    store.write_points([Point("pasture_state", {}, {"p": 1.0}, T0)])
    store.close()

    kept = SqliteStore(tmp_path / "t.db", retention_days=30, clock=lambda: now_s)

    assert kept.last_seen() == {"c-001": T0 + 95 * DAY}
    assert kept.query_points("pasture_state", 0, T0 + 200 * DAY) == []
    # Within the hour no write purges again; `purge()` does at once.
    kept.write([pos(ts=T0 + 60 * DAY, seq=3), pos(ts=T0 + 80 * DAY, seq=4)])
    assert len(kept.device_readings("c-001", 0, T0 + 200 * DAY)) == 3
    assert kept.purge(now_ms=T0 + 100 * DAY) == 1  # the 40-day-old one
    assert kept.purge(now_ms=T0 + 110 * DAY) == 0  # exactly 30 days: kept
    assert kept.purge(now_ms=T0 + 110 * DAY + 1) == 1
    kept.close()


def test_retention_zero_keeps_everything(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db", retention_days=0, clock=lambda: 4e9)
    store.write([pos(ts=0)])
    assert store.purge() == 0
    assert store.last_seen() == {"c-001": 0}
    store.close()


def test_concurrent_writers_and_readers_lose_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for batch in range(20):
                store.write([pos(f"c-{n:03d}", ts=T0 + batch * 100 + i, seq=i) for i in range(25)])
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(50):
                store.latest()
                store.positions(T0, T0 + 10**6)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert {d: len(v) for d, v in store.positions(T0, T0 + 10**6).items()} == {
        f"c-{n:03d}": 500 for n in range(4)
    }
    store.close()


def test_a_rejected_point_batch_writes_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.write_points([Point("m", {}, {"x": 1.0}, T0)])
    batch = [Point("m", {}, {"x": 2.0}, T0 + 1), Point("m", {}, {"x": "two"}, T0 + 2)]
    with pytest.raises(StoreRejected, match="conflict"):
        store.write_points(batch)
    assert [p.ts_ms for p in store.query_points("m", 0, T0 + 10)] == [T0]
    store.close()


def test_field_types_survive_a_restart(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.write_points([Point("m", {}, {"x": 1.0}, T0)])
    store.close()
    again = SqliteStore(tmp_path / "t.db")
    with pytest.raises(StoreRejected, match="already exists as float"):
        again.write_points([Point("m", {}, {"x": "s"}, T0)])
    again.close()


def test_open_store_follows_the_settings(tmp_path: Path) -> None:
    sqlite = open_store(Settings(tsdb="sqlite", data_dir=tmp_path, tsdb_retention_days=30))
    assert isinstance(sqlite, SqliteStore)
    assert sqlite.path == tmp_path / "tsdb.sqlite3"
    assert sqlite.retention_days == 30
    sqlite.close()
    influx = open_store(
        Settings(
            tsdb="influx",
            influx_url="http://influx:8086",
            influx_db="pilot",
            influx_batch_size=100,
            influx_retries=5,
        )
    )
    assert isinstance(influx, InfluxStore)
    assert influx.config.url == "http://influx:8086"
    assert influx.config.database == "pilot"
    assert influx.config.batch_size == 100
    assert influx.config.retries == 5
    influx.close()


def test_field_types_are_checked_across_processes(tmp_path: Path) -> None:
    one, two = SqliteStore(tmp_path / "t.db"), SqliteStore(tmp_path / "t.db")
    one.write_points([Point("m", {}, {"x": 1.0}, T0)])
    with pytest.raises(StoreRejected, match="already exists as float"):
        two.write_points([Point("m", {}, {"x": "s"}, T0 + 1)])
    one.close()
    two.close()


def test_buffered_writer_takes_its_batching_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(influx_batch_size=123, influx_flush_interval_s=2.5)
    store = SqliteStore(tmp_path / "t.db")
    writer = BufferedWriter.from_settings(store, settings)
    assert (writer.batch_size, writer.flush_interval_s) == (123, 2.5)
    store.close()

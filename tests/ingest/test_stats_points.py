"""The ingest's `device_stats` and `dlq` points (docs/storage-dashboards.md): increments, kept
while the store is down, and, end to end, what the Devices dashboard's queries read from a
real InfluxDB written by a real `jaylym ingest`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.dedup import DeviceCounts
from ingest.ledger import DeadLetter
from ingest.stats_points import StatsExporter
from jaylym.models import DeviceInfo
from jaylym.store.base import Point, StoreRejected, StoreUnavailable
from tests.conftest import BrokerHandle, InfluxHandle
from tests.dashboards.board_json import committed, panels
from tests.dashboards.macros import Variable, interpolate
from tests.ingest.harness import COW1, Harness, collar_msg
from tests.ingest.live import eventually, publish_all
from tests.ingest.memstore import MemoryStore
from tests.ingest.process import IngestProcess

COLLAR = DeviceInfo("st-collar-1", "collar", "sogety")
SOIL = DeviceInfo("st-soil-1", "soil", "sogety")
DEVICES = {d.device_id: d for d in (COLLAR, SOIL)}


class PointStore:
    """Only what the exporter calls; `fail` makes the next writes raise it."""

    def __init__(self) -> None:
        self.points: list[Point] = []
        self.fail: Exception | None = None

    def write_points(self, points: Sequence[Point]) -> None:
        if self.fail is not None:
            raise self.fail
        self.points.extend(points)


def _exporter() -> tuple[StatsExporter, PointStore]:
    return StatsExporter("ingest-a", 60.0, clock=lambda: 1_750_000_000.0), PointStore()


def _letter(reason: str) -> DeadLetter:
    return DeadLetter.of(datetime.now(UTC), "pasture/v1/x", reason, "d", b"{}")


def _flush(exporter: StatsExporter, store: PointStore) -> int:
    return exporter.flush(store)  # type: ignore[arg-type]  # only write_points is used


def test_points_are_increments_tagged_per_device_and_instance() -> None:
    exporter, store = _exporter()
    exporter.add({"st-collar-1": DeviceCounts(3, 2, 1)}, DEVICES, [_letter("bad_schema")] * 2)
    exporter.add({"st-collar-1": DeviceCounts(1, -1, 0), "st-soil-1": DeviceCounts(0, 0, 0)},
                 DEVICES, [_letter("unknown_device")])  # fmt: skip
    assert _flush(exporter, store) == 3  # the soil station changed nothing: no point
    by = {(p.measurement, p.tags.get("device") or p.tags["reason"]): p for p in store.points}
    collar = by[("device_stats", "st-collar-1")]
    assert collar.tags == {"device": "st-collar-1", "okrug": "sogety", "kind": "collar",
                           "instance": "ingest-a"}  # fmt: skip
    assert collar.fields == {"received": 4.0, "missing": 1.0, "duplicates": 1.0}
    assert collar.ts_ms == 1_750_000_000_000
    assert by[("dlq", "bad_schema")].fields == {"count": 2.0}
    assert by[("dlq", "unknown_device")].tags == {"reason": "unknown_device",
                                                  "instance": "ingest-a"}  # fmt: skip
    # Increments: a second flush with nothing new writes nothing.
    assert _flush(exporter, store) == 0
    assert len(store.points) == 3


def test_a_down_store_keeps_the_counts_for_the_next_interval() -> None:
    exporter, store = _exporter()
    exporter.add({"st-collar-1": DeviceCounts(2, 0, 0)}, DEVICES, [_letter("too_old")])
    store.fail = StoreUnavailable("down")
    with pytest.raises(StoreUnavailable):  # the consumer marks the store down on it
        _flush(exporter, store)
    exporter.add({"st-collar-1": DeviceCounts(5, 1, 0)}, DEVICES, [_letter("too_old")])
    store.fail = None
    assert _flush(exporter, store) == 2
    fields = {p.measurement: p.fields for p in store.points}
    assert fields["device_stats"] == {"received": 7.0, "missing": 1.0, "duplicates": 0.0}
    assert fields["dlq"] == {"count": 2.0}


def test_a_refused_write_is_dropped_not_retried_forever() -> None:
    exporter, store = _exporter()
    exporter.add({"st-collar-1": DeviceCounts(2, 0, 0)}, DEVICES)
    store.fail = StoreRejected("field type conflict")
    assert _flush(exporter, store) == 0
    store.fail = None
    assert _flush(exporter, store) == 0  # not re-sent


def test_unchecked_or_unregistered_ids_never_become_tags() -> None:
    exporter, store = _exporter()
    exporter.add({"Bad Id\n": DeviceCounts(1, 0, 0), "ghost-1": DeviceCounts(1, 0, 0)}, DEVICES)
    assert _flush(exporter, store) == 0


def test_due_follows_the_interval() -> None:
    now = [100.0]
    exporter = StatsExporter("i", 60.0, monotonic=lambda: now[0])
    assert not exporter.due()
    now[0] += 60
    assert exporter.due()
    _flush(exporter, PointStore())
    assert not exporter.due()


# --- end to end --------------------------------------------------------------------------


def _panel_query(title: str, now_ms: int, device: tuple[str, ...]) -> str:
    board = committed()["devices"]
    panel = next(p for p in panels(board) if p["title"] == title)
    (target,) = panel["targets"]
    variables = {"okrug": Variable(("sogety",)), "device": Variable(device)}
    # One bucket for the whole run, so each series has one row with the sums.
    return interpolate(target["query"], variables, from_ms=now_ms - 3_600_000,
                       to_ms=now_ms + 60_000, interval="2h")  # fmt: skip


def _sums(influx_url: str, db: str, text: str) -> dict[str, float]:
    """The query's value column summed over its time buckets, by the series' grouping tag."""
    response = httpx.post(f"{influx_url}/query", params={"db": db, "epoch": "ms"},
                          data={"q": text}, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert "error" not in result, (result, text)
    out: dict[str, float] = {}
    for series in result.get("series", []):
        assert series["columns"][1] in ("loss_pct", "sum"), series["columns"]
        key = next(iter(series.get("tags", {}).values()))
        out[key] = sum(row[1] for row in series["values"] if row[1] is not None)
    return out


def _telemetry(device: DeviceInfo, readings: list[dict[str, Any]]) -> tuple[str, bytes]:
    topic = f"pasture/v1/{device.okrug}/{device.kind}/{device.device_id}/telemetry"
    return topic, json.dumps({"v": 1, "readings": readings}).encode()


@pytest.mark.mqtt
@pytest.mark.influx
def test_devices_dashboard_reads_the_ingests_counts_from_influxdb(
    mosquitto: BrokerHandle, influx: InfluxHandle, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    collar = DeviceInfo(f"st-collar-{suffix}", "collar", "sogety")
    soil = DeviceInfo(f"st-soil-{suffix}", "soil", "sogety")
    ingest = IngestProcess(mosquitto.url, influx.url, tmp_path / "ingest",
                           extra_env={"JAYLYM_INGEST_STATS_INTERVAL_S": "0.5"})  # fmt: skip
    for d in (collar, soil):
        ingest.register(d.device_id, d.kind, d.okrug)
    ingest.start()
    try:
        ts0 = int(time.time()) - 600

        def fix(seq: int) -> dict[str, Any]:
            return {"seq": seq, "ts": ts0 + seq, "lat": 43.36, "lon": 77.98, "bat": 3.9}

        def sample(seq: int) -> dict[str, Any]:
            return {"seq": seq, "ts": ts0 + seq, "depths": [10, 30], "vwc": [24.0, 27.0]}

        unknown = DeviceInfo(f"st-ghost-{suffix}", "collar", "sogety")
        publish_all(mosquitto.url, [
            _telemetry(collar, [fix(0), fix(1), fix(2), fix(6)]),  # seq 3..5 missing: 3
            _telemetry(soil, [sample(0), sample(1)]),
            (f"pasture/v1/sogety/soil/{soil.device_id}/telemetry", b"{not json"),
            _telemetry(unknown, [fix(0)]),
        ])  # fmt: skip
        # The exact repeat and the late reading go in a later batch: dropped, and one
        # missing taken back (the running totals end at received 6, missing 2, dup 1).
        eventually(lambda: bool(ingest.store.device_readings(collar.device_id, 0, 2**42)),
                   30, "the first batch stored")  # fmt: skip
        publish_all(mosquitto.url, [_telemetry(collar, [fix(1), fix(3)])])

        now_ms = int(time.time() * 1000)
        ids = (collar.device_id, soil.device_id)
        loss_q = _panel_query("Loss over time (ingest counters)", now_ms, ids)
        dup_q = _panel_query("Duplicates dropped", now_ms, ids)
        dlq_q = _panel_query("Rejected messages by reason", now_ms, ids)
        # Collar: received 4 + the late seq 3 (the repeat is not received), missing 3
        # then 2; so 2 of 7 lost. Soil: nothing lost. The counts come in several flushes
        # (points), which the panels' sum() adds up.
        expected_loss = {collar.device_id: pytest.approx(100 * 2 / 7), soil.device_id: 0.0}

        def arrived() -> bool:
            dlq = _sums(influx.url, ingest.database, dlq_q)
            return (
                _sums(influx.url, ingest.database, loss_q) == expected_loss
                and _sums(influx.url, ingest.database, dup_q).get(collar.device_id) == 1.0
                and dlq.get("malformed_json", 0) > 0 and dlq.get("unknown_device", 0) > 0
            )  # fmt: skip

        eventually(arrived, 30, "the ingest's stats points in InfluxDB")
        assert _sums(influx.url, ingest.database, dup_q)[soil.device_id] == 0.0
        dlq = _sums(influx.url, ingest.database, dlq_q)
        assert dlq["malformed_json"] == 1.0
        # The subscription probe of IngestProcess is one more unknown device, then ours.
        assert dlq["unknown_device"] >= 2.0
        points = ingest.store.query_points("device_stats", now_ms - 3_600_000, now_ms + 60_000)
        assert {p.tags["instance"] for p in points} == {ingest.client_id}
        assert {p.tags["kind"] for p in points if p.tags["device"] == soil.device_id} == {"soil"}
        assert sum(p.fields["received"] for p in points
                   if p.tags["device"] == soil.device_id) == 2  # fmt: skip
    finally:
        ingest.stop()


class FlakyPointStore(MemoryStore):
    """The readings go in; the first stats write finds the store down."""

    def __init__(self) -> None:
        super().__init__()
        self.points: list[Point] = []
        self.down_once = True

    def write_points(self, points: Sequence[Point]) -> None:
        if self.down_once:
            self.down_once = False
            raise StoreUnavailable("connection refused")
        self.points.extend(points)


def test_consumer_writes_increments_after_the_ledger_and_survives_a_down_store(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, stats_interval_s=0.1)
    store = FlakyPointStore()
    h.consumer.store = store
    ts0 = time.time() - 86400
    h.send(COW1, collar_msg([0, 1, 4], ts0))
    h.send(COW1, b"{nope")
    h.drain()
    time.sleep(0.15)
    h.consumer.step()  # due: the store is down for the stats, they stay pending
    assert store.points == []
    assert not h.consumer.store_up  # the readings' path pings before its next write
    h.send(COW1, collar_msg([1, 5], ts0))  # an exact repeat, and one more
    h.drain()
    time.sleep(0.15)
    h.consumer.step()
    stats = {p.measurement: p for p in store.points}
    assert stats["device_stats"].tags["device"] == "cow-1"
    assert stats["device_stats"].tags["instance"] == h.cfg.client_id
    assert dict(stats["device_stats"].fields) == {
        "received": 4.0, "missing": 2.0, "duplicates": 1.0
    }  # fmt: skip
    assert dict(stats["dlq"].fields) == {"count": 1.0}
    assert stats["dlq"].tags["reason"] == "malformed_json"

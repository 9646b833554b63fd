"""The ingest against a real Mosquitto (the store is in-process here; see test_influx_*.py
for the same paths against a real InfluxDB)."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ingest.decoders.lorawan_binary import encode_collar
from jaylym.models import DeviceInfo, PositionReading, SoilReading
from jaylym.services import Mosquitto, free_port
from tests.conftest import BrokerHandle, InfluxHandle
from tests.ingest.live import (
    Subscriber,
    collar_payload,
    device_fleet,
    eventually,
    publish_all,
    running_ingest,
)
from tests.ingest.memstore import MemoryStore

pytestmark = pytest.mark.mqtt

COLLAR = DeviceInfo("cow-001", "collar", "sogety", herd_id="herd-1", dev_eui="70b3d57ed00000a1")
SOIL = DeviceInfo("st-001", "soil", "sogety")


def _uid(tmp_path: Path) -> str:
    return f"ingest-{abs(hash(tmp_path)) % 10**8}"


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_round_trip_dlq_metrics_and_health(
    mosquitto: BrokerHandle, tmp_path: Path, protocol: str
) -> None:
    store = MemoryStore()
    port = free_port()
    now = time.time()
    dlq = Subscriber(mosquitto.url, "pasture/v1/_dlq/#")
    with running_ingest(mosquitto.url, store, [COLLAR, SOIL], tmp_path, mqtt_protocol=protocol,
                        client_id=_uid(tmp_path), metrics_port=port) as ingest:  # fmt: skip
        frame = base64.b64encode(encode_collar(43.4, 77.9, 1.0, 7, 3.8)).decode()
        cs_event = {"deviceInfo": {"devEui": "70b3d57ed00000a1"}, "fCnt": 900, "fPort": 1,
                    "data": frame}  # fmt: skip
        publish_all(mosquitto.url, [
            ("pasture/v1/sogety/collar/cow-001/telemetry", collar_payload(range(1, 11), now - 600)),
            ("pasture/v1/sogety/soil/st-001/telemetry", json.dumps({"v": 1, "readings": [
                {"seq": 5, "ts": now - 60, "depths": [10, 30], "vwc": [22.5, 26.0]}]}).encode()),
            ("application/pasture/device/70b3d57ed00000a1/event/up", json.dumps(cs_event).encode()),
            ("pasture/v1/sogety/collar/cow-404/telemetry", collar_payload([1], now)),
        ])  # fmt: skip
        eventually(lambda: len(store.points) == 13, 15, "13 points stored")
        eventually(lambda: len(dlq.messages) == 1, 10, "the DLQ message")
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read())
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        assert ingest.metric("jaylym_ingest_readings_stored_total", kind="position") == 11
    dlq.close()
    positions = [r for r in store.points.values() if isinstance(r, PositionReading)]
    soil = [r for r in store.points.values() if isinstance(r, SoilReading)]
    assert sorted(r.seq for r in positions) == [*range(1, 11), 900]
    assert [(r.depth_cm, r.vwc) for r in sorted(soil, key=lambda r: r.depth_cm)] == [
        (10, 22.5), (30, 26.0)]  # fmt: skip
    topic, body = dlq.messages[0]
    assert topic == "pasture/v1/_dlq/unknown_device"
    assert json.loads(body)["topic"] == "pasture/v1/sogety/collar/cow-404/telemetry"
    assert health["ok"] is True
    assert health["mqtt_connected"] is True
    assert 'jaylym_ingest_rejected_total{reason="unknown_device"} 1.0' in metrics
    assert "jaylym_ingest_batch_write_seconds_count" in metrics
    assert "jaylym_ingest_lag_seconds_bucket" in metrics


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_messages_published_while_stopped_arrive_after_restart(
    mosquitto: BrokerHandle, tmp_path: Path, protocol: str
) -> None:
    store = MemoryStore()
    uid = _uid(tmp_path) + protocol.replace(".", "")
    now = time.time()
    topic = "pasture/v1/sogety/collar/cow-001/telemetry"
    with running_ingest(mosquitto.url, store, [COLLAR], tmp_path, mqtt_protocol=protocol,
                        client_id=uid):  # fmt: skip
        publish_all(mosquitto.url, [(topic, collar_payload([1], now - 900))])
        eventually(lambda: len(store.points) == 1, 10, "first point")
    publish_all(mosquitto.url, [(topic, collar_payload([s], now - 900)) for s in range(2, 302)])
    with running_ingest(mosquitto.url, store, [COLLAR], tmp_path, mqtt_protocol=protocol,
                        client_id=uid) as ingest:  # fmt: skip
        eventually(lambda: len(store.points) == 301, 30, "the backlog")
        assert ingest.metric("jaylym_ingest_duplicates_total") == 0


@pytest.mark.influx
def test_two_shared_workers_store_each_message_once(
    mosquitto: BrokerHandle, influx: InfluxHandle, tmp_path: Path
) -> None:
    """Two processes' worth of ingest in one shared group, writing to one real InfluxDB."""
    from jaylym.settings import Settings
    from jaylym.store import open_store

    settings = Settings(tsdb="influx", influx_url=influx.url,
                        influx_db=f"shared_{abs(hash(tmp_path)) % 10**8}")  # fmt: skip
    store_a, store_b, reader = open_store(settings), open_store(settings), open_store(settings)
    devices = device_fleet(20, prefix="shr")
    now = time.time()
    group = f"g{abs(hash(tmp_path)) % 10**6}"
    messages = [
        (f"pasture/v1/sogety/collar/{d.device_id}/telemetry", collar_payload([s], now - 3600))
        for s in range(1, 101) for d in devices
    ]  # fmt: skip
    common = {"shared_group": group, "batch_max": 100}
    now_ms = int(now * 1000)

    def stored() -> int:
        found = reader.positions(now_ms - 7_200_000, now_ms + 60_000)
        return sum(len(v) for k, v in found.items() if k.startswith("shr-"))

    with (
        running_ingest(mosquitto.url, store_a, devices, tmp_path / "a", client_id=f"{group}-a",
                       **common) as a,
        running_ingest(mosquitto.url, store_b, devices, tmp_path / "b", client_id=f"{group}-b",
                       **common) as b,
    ):  # fmt: skip
        publish_all(mosquitto.url, messages, connections=20)
        eventually(lambda: stored() == len(messages), 60, "all points")
        time.sleep(1.0)  # anything delivered twice would show up by now
        got_a = a.metric("jaylym_ingest_messages_received_total", source="native")
        got_b = b.metric("jaylym_ingest_messages_received_total", source="native")
    assert got_a + got_b == len(messages)  # each message went to exactly one worker
    assert got_a > 0
    assert got_b > 0
    for d in devices:
        seqs = [r.seq for r in reader.device_readings(d.device_id, now_ms - 7_200_000,
                                                       now_ms + 60_000)]  # fmt: skip
        assert sorted(seqs) == list(range(1, 101))
    for store in (store_a, store_b, reader):
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_resume_after_70000_queued_messages(
    own_mosquitto: Mosquitto, tmp_path: Path, protocol: str
) -> None:
    """The large-queue trap: a persistent session holding more than 65 535 messages (the
    packet-id space) must still deliver all of them, on the protocol we ship and on the other."""
    store = MemoryStore()
    url = own_mosquitto.url()
    devices = device_fleet(10, prefix="bulk")
    uid = f"bulk-{protocol.replace('.', '')}"
    now = time.time()
    with running_ingest(url, store, devices, tmp_path, mqtt_protocol=protocol, client_id=uid):
        pass  # the session and its subscriptions now exist; the ingest is gone
    total = 70_000
    messages = [
        (f"pasture/v1/sogety/collar/{devices[i % 10].device_id}/telemetry",
         collar_payload([i // 10], now - 80_000))
        for i in range(total)
    ]  # fmt: skip
    publish_all(url, messages, connections=10)
    with running_ingest(url, store, devices, tmp_path, mqtt_protocol=protocol, client_id=uid,
                        batch_max=1000) as ingest:  # fmt: skip
        eventually(lambda: len(store.points) == total, 240, f"{total} points")
        assert ingest.metric("jaylym_ingest_messages_received_total", source="native") == total


def test_spool_full_stops_acks_and_the_broker_keeps_the_backlog(
    mosquitto: BrokerHandle, tmp_path: Path
) -> None:
    store = MemoryStore()
    store.down = True
    port = free_port()
    now = time.time()
    topic = "pasture/v1/sogety/collar/cow-001/telemetry"
    messages = [(topic, collar_payload(range(s, s + 50), now - 7200)) for s in range(0, 2000, 50)]
    with running_ingest(mosquitto.url, store, [COLLAR], tmp_path, client_id=_uid(tmp_path),
                        spool_max_bytes=65536, metrics_port=port) as ingest:  # fmt: skip
        publish_all(mosquitto.url, messages)
        eventually(lambda: ingest.metric("jaylym_ingest_spool_full") == 1, 15, "spool full")

        def health() -> tuple[int, dict[str, object]]:
            try:
                answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz")
                return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        code, state = health()
        assert code == 503
        assert state["acks_held"] is True
        assert ingest.service.spool.depth_bytes <= 65536
        store.down = False
        eventually(lambda: len(store.points) == 2000, 60, "every reading once the store is back")
        eventually(lambda: ingest.service.spool.empty, 20, "spool drained")
        eventually(lambda: health()[0] == 200, 10, "healthy again")
        assert ingest.metric("jaylym_ingest_spool_full") == 0


def test_default_inflight_window_of_20_does_not_stall_a_larger_batch(tmp_path: Path) -> None:
    """Mosquitto's default max_inflight_messages (20) is below our batch size: the broker stops
    sending at 20 unacknowledged messages, and only the flush timer closes the batch.

    Measured on Mosquitto 2.0.11 (3.1.1 and 5 alike): a client that never acks gets exactly
    20; once those 20 are acked, the broker sends the rest of the queue at once. So the
    window shapes the first batch, and the timer is what keeps it from waiting forever."""
    server = Mosquitto(tmp_path / "m20", overrides={"max_inflight_messages": "20"})
    server.start()
    try:
        store = MemoryStore()
        now = time.time()
        topic = "pasture/v1/sogety/collar/cow-001/telemetry"
        messages = [(topic, collar_payload([s], now - 900)) for s in range(200)]
        opts = {"client_id": "inflight-20", "batch_max": 500, "flush_interval_s": 0.1}
        with running_ingest(server.url(), store, [COLLAR], tmp_path, **opts):
            publish_all(server.url(), messages[:100])  # live
            eventually(lambda: len(store.points) == 100, 30, "100 through a window of 20")
            live_writes = store.writes
        publish_all(server.url(), messages[100:])  # queued for the stopped ingest
        with running_ingest(server.url(), store, [COLLAR], tmp_path, **opts):
            eventually(lambda: len(store.points) == 200, 30, "200 through a window of 20")
    finally:
        server.stop()
    assert store.batch_sizes[0] <= 20  # the window, not batch_max, closed the first batch
    assert store.batch_sizes[live_writes] <= 20  # and the first one after the restart

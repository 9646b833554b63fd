"""The ingest with a real Mosquitto and a real InfluxDB: round trip, kill -9 mid-stream,
the store stopped mid-stream. Counting is done by device and seq in InfluxDB itself."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from jaylym.models import PositionFlag, PositionReading, SoilFlag, SoilReading
from jaylym.services import InfluxD
from jaylym.settings import Settings
from jaylym.store.base import TimeSeriesStore
from tests.conftest import BrokerHandle, InfluxHandle
from tests.ingest.live import collar_payload, device_fleet, eventually, publish_all, running_ingest

pytestmark = [pytest.mark.mqtt, pytest.mark.influx]

DAY_MS = 86_400_000


def influx_settings(url: str, tmp_path: Path, db: str | None = None) -> Settings:
    return Settings(
        tsdb="influx",
        influx_url=url,
        influx_db=db or f"t_{uuid.uuid4().hex[:12]}",
        data_dir=tmp_path / "data",
    )


def open_store(settings: Settings) -> TimeSeriesStore:
    from jaylym.store import open_store as _open

    return _open(settings)


def seqs_by_device(store: TimeSeriesStore, device_ids: list[str]) -> dict[str, Counter[int]]:
    now = int(time.time() * 1000)
    return {
        d: Counter(r.seq for r in store.device_readings(d, now - 30 * DAY_MS, now + DAY_MS))
        for d in device_ids
    }


def total(store: TimeSeriesStore) -> int:
    now = int(time.time() * 1000)
    return sum(len(v) for v in store.positions(now - 30 * DAY_MS, now + DAY_MS).values())


def test_round_trip_into_influxdb(mosquitto: BrokerHandle, influx: InfluxHandle,
                                  tmp_path: Path) -> None:  # fmt: skip
    settings = influx_settings(influx.url, tmp_path)
    store = open_store(settings)
    devices = [*device_fleet(1, prefix="rt"), *device_fleet(1, prefix="rts")]
    soil = devices[1].__class__("rts-000", "soil", "sogety")
    now = time.time()
    batch = {"v": 1, "readings": [
        {"seq": 1, "ts": now - 600, "lat": 43.36, "lon": 77.98, "hdop": 0.8, "bat": 3.9},
        {"seq": 2, "ts": now - 300, "lat": 0.0, "lon": 0.0},
        {"seq": 3, "ts": now - 240, "lat": 43.46, "lon": 77.98},  # 11 km in 6 min
    ]}  # fmt: skip
    soil_msg = {"v": 1, "readings": [
        {"seq": 7, "ts": now - 120, "depths": [10, 30], "vwc": [21.5, 24.0], "tsoil": [-0.5, 2.0]},
    ]}  # fmt: skip
    with running_ingest(mosquitto.url, store, [devices[0], soil], tmp_path,
                        client_id=f"rt-{uuid.uuid4().hex[:8]}"):  # fmt: skip
        publish_all(mosquitto.url, [
            ("pasture/v1/sogety/collar/rt-000/telemetry", json.dumps(batch).encode()),
            ("pasture/v1/sogety/soil/rts-000/telemetry", json.dumps(soil_msg).encode()),
        ])  # fmt: skip
        eventually(lambda: total(store) == 3, 20, "3 fixes in InfluxDB")
        now_ms = int(now * 1000)
        eventually(lambda: len(store.soil_readings(now_ms - DAY_MS, now_ms + DAY_MS)
                               .get("rts-000", [])) == 2, 20, "2 soil samples")  # fmt: skip
    fixes = store.device_readings("rt-000", now_ms - DAY_MS, now_ms + DAY_MS)
    assert [r.seq for r in fixes] == [1, 2, 3]
    assert all(isinstance(r, PositionReading) for r in fixes)
    first, zero, fast = fixes
    assert isinstance(first, PositionReading)
    assert (first.lat, first.lon, first.hdop, first.bat) == (43.36, 77.98, 0.8, 3.9)
    assert first.ts_ms == round((now - 600) * 1000)
    assert first.flags == frozenset()
    assert zero.flags == {PositionFlag.ZERO}
    assert fast.flags == {PositionFlag.SPEED}
    samples = store.soil_readings(now_ms - DAY_MS, now_ms + DAY_MS)["rts-000"]
    by_depth = {s.depth_cm: s for s in samples}
    assert isinstance(by_depth[10], SoilReading)
    assert (by_depth[10].vwc, by_depth[10].tsoil) == (21.5, -0.5)
    assert by_depth[10].flags == {SoilFlag.FROZEN}
    assert by_depth[30].flags == frozenset()
    store.close()


@pytest.mark.slow
def test_store_stopped_for_20_s_mid_stream(
    mosquitto: BrokerHandle, own_influxd: InfluxD, tmp_path: Path
) -> None:
    settings = influx_settings(own_influxd.url, tmp_path)
    store = open_store(settings)
    devices = device_fleet(10, prefix=f"o{uuid.uuid4().hex[:6]}")
    ids = [d.device_id for d in devices]
    now = time.time()
    per_device = 120
    messages = [
        (f"pasture/v1/sogety/collar/{d}/telemetry", collar_payload([s], now - 7200))
        for s in range(per_device) for d in ids
    ]  # fmt: skip
    with running_ingest(mosquitto.url, store, devices, tmp_path,
                        client_id=f"outage-{uuid.uuid4().hex[:8]}") as ingest:  # fmt: skip
        stop_publishing = threading.Event()

        def publish() -> None:  # about 40 s of traffic, 30 messages/s
            for start in range(0, len(messages), 30):
                publish_all(mosquitto.url, messages[start : start + 30], connections=10)
                if stop_publishing.wait(1.0):
                    return

        publisher = threading.Thread(target=publish)
        publisher.start()
        time.sleep(5)
        own_influxd.stop()
        time.sleep(20)
        assert ingest.metric("jaylym_ingest_readings_spooled_total") > 0
        assert ingest.metric("jaylym_ingest_store_up") == 0
        own_influxd.start()
        publisher.join(timeout=120)
        eventually(lambda: total(store) == len(messages), 60, "every reading after the outage")
        eventually(lambda: ingest.service.spool.empty, 20, "spool drained")
        assert ingest.metric("jaylym_ingest_spool_bytes") == 0
    counts = seqs_by_device(store, ids)
    for device_id in ids:
        assert counts[device_id] == Counter(range(per_device)), device_id
    store.close()

"""The ingest with a real Mosquitto and a real InfluxDB: the round trip. The faults (kill -9,
the store stopped mid-stream, the spool's disk full, the broker restarted) are in
tests/reliability/, counted by device and seq in InfluxDB itself."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from jaylym.models import PositionFlag, PositionReading, SoilFlag, SoilReading
from jaylym.settings import Settings
from jaylym.store.base import TimeSeriesStore
from tests.conftest import BrokerHandle, InfluxHandle
from tests.ingest.live import device_fleet, eventually, publish_all, running_ingest

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

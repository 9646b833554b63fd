"""kill -9 of the `jaylym ingest` process mid-stream, then a restart: with a real Mosquitto and
a real InfluxDB, every reading is present exactly once, counted per device and seq."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from jaylym.models import DeviceInfo
from jaylym.services import free_port
from jaylym.settings import Settings, parse_mqtt_url
from jaylym.store import open_store
from jaylym.store.base import TimeSeriesStore
from tests.conftest import BrokerHandle, InfluxHandle
from tests.ingest.live import client, collar_payload, eventually
from tests.ingest.registry_db import provision, read_stats

pytestmark = [pytest.mark.mqtt, pytest.mark.influx, pytest.mark.slow]

DAY_MS = 86_400_000
DEVICES = 50
PER_DEVICE = 100
OKRUG = "sogety"


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "jaylym", "ingest"], env=env, stdout=out,
                            stderr=out, start_new_session=True)  # fmt: skip


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stored(store: TimeSeriesStore, prefix: str) -> int:
    now = int(time.time() * 1000)
    found = store.positions(now - DAY_MS, now + DAY_MS)
    return sum(len(v) for k, v in found.items() if k.startswith(prefix))


def _device_publisher(url: str, device_id: str, ts0: float, errors: list[BaseException]) -> None:
    """One device on its own connection: PER_DEVICE readings, one message each, paced."""
    try:
        broker = parse_mqtt_url(url)
        c = client(broker, client_id=device_id)
        c.connect(broker.host, broker.port)
        c.loop_start()
        topic = f"pasture/v1/{OKRUG}/collar/{device_id}/telemetry"
        infos = []
        for seq in range(PER_DEVICE):
            infos.append(c.publish(topic, collar_payload([seq], ts0), qos=1))
            time.sleep(0.04)
        for info in infos:
            info.wait_for_publish(timeout=60)
        c.disconnect()
        c.loop_stop()
    except BaseException as exc:
        errors.append(exc)


def test_kill_9_mid_stream_then_restart_every_reading_once(
    mosquitto: BrokerHandle, influx: InfluxHandle, tmp_path: Path
) -> None:
    db = f"kill_{uuid.uuid4().hex[:10]}"
    store = open_store(Settings(tsdb="influx", influx_url=influx.url, influx_db=db))
    prefix = f"k{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{i:03d}" for i in range(DEVICES)]
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    provision(registry_url, [DeviceInfo(d, "collar", OKRUG) for d in ids])
    port = free_port()
    env = {
        **os.environ,
        "JAYLYM_MQTT_URL": mosquitto.url, "JAYLYM_TSDB": "influx",
        "JAYLYM_INFLUX_URL": influx.url, "JAYLYM_INFLUX_DB": db,
        "JAYLYM_DATABASE_URL": registry_url, "JAYLYM_DATA_DIR": str(tmp_path / "data"),
        "JAYLYM_INGEST_CLIENT_ID": f"kill-{uuid.uuid4().hex[:8]}",
        "JAYLYM_INGEST_METRICS_PORT": str(port), "JAYLYM_INGEST_BATCH_MAX": "200",
    }  # fmt: skip
    proc = _spawn(env, tmp_path / "ingest.log")
    errors: list[BaseException] = []
    ts0 = time.time() - 7200
    publishers = [
        threading.Thread(target=_device_publisher, args=(mosquitto.url, d, ts0, errors))
        for d in ids
    ]
    total = DEVICES * PER_DEVICE
    try:
        eventually(lambda: _healthy(port), 30, "ingest healthy")
        time.sleep(0.5)  # the SUBACK: from here on the broker keeps the session's messages
        for t in publishers:
            t.start()
        eventually(lambda: _stored(store, prefix) >= total // 5, 60, "a first part stored")
        os.killpg(proc.pid, signal.SIGKILL)  # mid-stream, mid-batch, no goodbye
        proc.wait(timeout=10)
        stored_at_kill = _stored(store, prefix)
        for t in publishers:
            t.join(timeout=120)
        assert not errors, errors
        assert stored_at_kill < total, "the kill came after the stream: nothing was tested"
        proc = _spawn(env, tmp_path / "ingest.log")
        eventually(lambda: _stored(store, prefix) == total, 120, "every reading after restart")
        time.sleep(1.0)  # a late double would show by now
        now = int(time.time() * 1000)
        for device_id in ids:
            seqs = Counter(r.seq for r in store.device_readings(device_id, now - DAY_MS, now))
            assert seqs == Counter(range(PER_DEVICE)), device_id
        stats = read_stats(registry_url)
        for device_id in ids:
            assert stats[device_id].missing == 0, device_id
            # A crash between the ledger commit and the PUBACK can count one batch twice
            # (ingest/README.md); the stored points are exact regardless.
            assert PER_DEVICE <= stats[device_id].received <= PER_DEVICE + 200, device_id
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        store.close()

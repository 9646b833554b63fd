"""The broker (a real Mosquitto with the project's configuration, persistence on) restarted in
the middle of a stream. Devices, each on its own credentials under the project's ACL, and the
ingest reconnect and resubscribe by themselves: every reading is stored exactly once (raw rows
in InfluxDB, per device and seq), and each device receives a command sent after the restart,
which only a renewed subscription can deliver (devices use clean sessions)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from jaylym.models import DeviceInfo
from jaylym.mqtt_passwd import set_password
from jaylym.services import API_USER, Mosquitto
from jaylym.settings import Settings
from jaylym.store import open_store
from tests.conftest import InfluxHandle
from tests.ingest.live import collar_payload, eventually, publish_all, running_ingest
from tests.reliability.exactly_once import stored_count, tally

pytestmark = [pytest.mark.mqtt, pytest.mark.influx, pytest.mark.slow]

DEVICES = 20
PER_DEVICE = 100
STREAM_S = 10.0
RESTART_AT_S = 4.0
DOWN_S = 1.0
OKRUG = "sogety"


class Device:
    """A device's MQTT side: its own login, telemetry at QoS 1 on a schedule, its `cmd/#`
    subscribed at every connect. paho keeps unacknowledged publishes and sends them again
    after it reconnects (as the firmware does from its flash queue)."""

    def __init__(self, server: Mosquitto, device_id: str, password: str) -> None:
        self.device_id = device_id
        self.topic = f"pasture/v1/{OKRUG}/collar/{device_id}"
        self.connects = 0
        self.subscribed = 0
        self.acked: set[int] = set()
        self.commands: list[bytes] = []
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=device_id)
        self.client.username_pw_set(device_id, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.max_inflight_messages_set(0)  # the whole stream may wait for a reconnect
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = lambda _c, _u, mid, _r, _p: self.acked.add(mid)
        self.client.on_message = lambda _c, _u, msg: self.commands.append(msg.payload)
        self.client.connect("127.0.0.1", server.port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            self.connects += 1
            client.subscribe(f"{self.topic}/cmd/#", qos=1)

    def _on_subscribe(self, *_: Any) -> None:
        self.subscribed += 1

    def stream(self, ts0: float, started: float, errors: list[BaseException]) -> None:
        try:
            interval = STREAM_S / PER_DEVICE
            for seq in range(PER_DEVICE):
                time.sleep(max(0.0, started + seq * interval - time.monotonic()))
                self.client.publish(f"{self.topic}/telemetry", collar_payload([seq], ts0), qos=1)
        except BaseException as exc:
            errors.append(exc)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_broker_restarted_mid_stream_everyone_reconnects_every_reading_once(
    own_mosquitto: Mosquitto, influx: InfluxHandle, tmp_path: Path
) -> None:
    server = own_mosquitto
    ids = [f"b{uuid.uuid4().hex[:6]}-{i:03d}" for i in range(DEVICES)]
    for device_id in ids:
        set_password(server.password_file, device_id, f"pw-{device_id}")
    server.reload()  # SIGHUP: the broker reads the new logins
    time.sleep(0.5)
    db = f"brk_{uuid.uuid4().hex[:10]}"
    store = open_store(Settings(tsdb="influx", influx_url=influx.url, influx_db=db))
    infos = [DeviceInfo(d, "collar", OKRUG) for d in ids]
    client_id = f"brk-{uuid.uuid4().hex[:8]}"
    devices: list[Device] = []
    errors: list[BaseException] = []
    try:
        with running_ingest(server.url(), store, infos, tmp_path, client_id=client_id) as ingest:
            devices = [Device(server, d, f"pw-{d}") for d in ids]
            eventually(lambda: all(d.subscribed == 1 for d in devices), 30, "devices up")
            ts0, started = time.time() - 7200, time.monotonic()
            streams = [
                threading.Thread(target=d.stream, args=(ts0, started, errors)) for d in devices
            ]
            for t in streams:
                t.start()
            time.sleep(RESTART_AT_S)
            stored_at_restart = stored_count(influx.url, db)
            server.stop()  # SIGTERM: Mosquitto writes its persistence file
            time.sleep(DOWN_S)
            server.start()  # same port, same data
            eventually(lambda: all(d.subscribed >= 2 for d in devices), 60, "devices back")
            eventually(lambda: ingest.service.transport.connected, 60, "ingest back")
            assert ingest.service.transport.generation >= 2
            # A command only a renewed subscription can deliver (not retained).
            marker = f"after-restart-{uuid.uuid4().hex[:6]}".encode()
            publish_all(server.url(API_USER), [(f"{d.topic}/cmd/config", marker) for d in devices])
            eventually(lambda: all(marker in d.commands for d in devices), 30, "commands")
            for t in streams:
                t.join(timeout=60)
            assert not errors, errors
            eventually(lambda: all(len(d.acked) == PER_DEVICE for d in devices), 60,
                       "every publish acknowledged by the broker")  # fmt: skip
            eventually(lambda: stored_count(influx.url, db) >= DEVICES * PER_DEVICE, 90,
                       "every reading stored")  # fmt: skip
            time.sleep(1.0)  # a late double would show by now
            redelivered = ingest.metric("jaylym_ingest_duplicates_total")
    finally:
        for d in devices:
            d.close()
    result = tally(influx.url, db, {d: range(PER_DEVICE) for d in ids})
    print(result.line("broker_restart", 1, devices=DEVICES, stored_at_restart=stored_at_restart,
                      repeats_dropped_by_ingest=int(redelivered)))  # fmt: skip
    assert 0 < stored_at_restart < DEVICES * PER_DEVICE, "the restart was not mid-stream"
    assert result.exact, result
    assert result.stored == DEVICES * PER_DEVICE
    store.close()

"""Collar and soil station firmware on the MicroPython unix port against real Mosquitto.

What arrives is read through a `sink`. Today the sink is a service-account subscriber on the
broker; when the ingest lands, an InfluxDB sink (ingest + `influx` fixture, reading the
stored points back) joins SINKS and every assertion here runs through it unchanged.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
import pytest

from jaylym.firmware_sim import SimDevice, read_events
from jaylym.mqtt_passwd import set_password
from jaylym.services import Mosquitto
from jaylym.settings import parse_mqtt_url
from tests.firmware.protocol_check import check_message

pytestmark = pytest.mark.mqtt

OKRUG = "sogety"
SPEED = 900.0  # simulated seconds per real second: a 30-minute interval lasts 2 s


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Received:
    topic: str
    payload: bytes
    retained: bool
    at: float


@dataclass
class Collector:
    """A service-account subscriber with a persistent session (nothing lost over restarts)."""

    url: str
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        cfg = parse_mqtt_url(self.url)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"e2e-{uuid.uuid4().hex[:8]}",
            clean_session=False,
        )
        client.username_pw_set(
            cfg.username, cfg.password.get_secret_value() if cfg.password else None
        )
        client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        client.on_connect = lambda c, *_: c.subscribe("pasture/v1/#", qos=1)
        client.on_message = self._on_message
        client.connect(cfg.host, cfg.port, keepalive=10)
        client.loop_start()
        self.client = client

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(
                Received(msg.topic, bytes(msg.payload), bool(msg.retain), time.time())
            )

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def publish(self, topic: str, payload: str, retain: bool = True) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


class Sink(Protocol):
    """Where the test reads what the devices delivered: (seq, ts, received_at) per device."""

    def readings(self, device_id: str) -> list[tuple[int, float, float]]: ...


@dataclass
class MqttSink:
    collector: Collector

    def readings(self, device_id: str) -> list[tuple[int, float, float]]:
        out = []
        for m in self.collector.snapshot():
            if m.topic.endswith(f"/{device_id}/telemetry"):
                for r in check_message(m.topic, m.payload, m.retained):
                    out.append((r["seq"], float(r["ts"]), m.at))
        return out


SINKS = ["mqtt"]  # + "ingest" once the ingest is on main (see the module docstring)


@dataclass
class Fleet:
    broker: Mosquitto
    collector: Collector
    folder: Path
    devices: dict[str, SimDevice] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def add(self, device_id: str, kind: str) -> SimDevice:
        password = uuid.uuid4().hex
        set_password(self.broker.password_file, device_id, password)
        self.broker.reload()
        device = SimDevice(
            device_id=device_id,
            kind="collar" if kind == "collar" else "soil",
            broker_url=f"mqtt://{device_id}:{password}@127.0.0.1:{self.broker.port}",
            folder=self.folder / device_id,
            okrug=OKRUG,
            speed=SPEED,
            seed=7,
        )
        self.devices[device_id] = device
        return device

    def start(self, device_id: str, cycles: int | None = None) -> None:
        self.procs[device_id] = self.devices[device_id].start(cycles)

    def events(self, device_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        evs = read_events(self.devices[device_id].folder / "device.log")
        return [e for e in evs if kind is None or e["ev"] == kind]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def topic(self, device_id: str, leaf: str) -> str:
        kind = self.devices[device_id].kind
        return f"pasture/v1/{OKRUG}/{kind}/{device_id}/{leaf}"


@pytest.fixture
def fleet(own_mosquitto: Mosquitto, tmp_path: Path, micropython: str) -> Iterator[Fleet]:
    collector = Collector(own_mosquitto.url())
    collector.start()
    f = Fleet(own_mosquitto, collector, tmp_path / "devices")
    yield f
    f.stop_all()
    collector.stop()


@pytest.fixture(params=SINKS)
def sink(request: pytest.FixtureRequest, fleet: Fleet) -> Sink:
    if request.param == "mqtt":
        return MqttSink(fleet.collector)
    raise AssertionError(request.param)


def assert_no_seq_missing(rows: list[tuple[int, float, float]]) -> None:
    seqs = {seq for seq, _, _ in rows}
    assert seqs, "nothing arrived"
    assert seqs == set(range(max(seqs) + 1)), (
        f"missing seq: {sorted(set(range(max(seqs) + 1)) - seqs)}"
    )
    by_seq: dict[int, set[float]] = {}
    for seq, ts, _ in rows:
        by_seq.setdefault(seq, set()).add(ts)
    reused = {s: t for s, t in by_seq.items() if len(t) > 1}
    assert not reused, f"one seq, two readings (seq reused after a restart?): {reused}"


def test_devices_report_per_protocol_and_take_remote_config(fleet: Fleet, sink: Sink) -> None:
    collar = fleet.add("e2e-collar-1", "collar")
    soil = fleet.add("e2e-soil-1", "soil")
    # Retained configs waiting before the devices first connect: one good, one bad.
    fleet.collector.publish(
        fleet.topic(soil.device_id, "cmd/config"), json.dumps({"interval_s": 600})
    )
    fleet.collector.publish(
        fleet.topic(collar.device_id, "cmd/config"), json.dumps({"interval_moving_s": 5})
    )
    fleet.start(collar.device_id, cycles=4)
    fleet.start(soil.device_id, cycles=4)
    for proc in fleet.procs.values():
        assert proc.wait(timeout=90) == 0

    for device in (collar, soil):
        cycles = fleet.events(device.device_id, "cycle")
        assert len(cycles) == 4, fleet.events(device.device_id)
        assert all(c["error"] is None for c in cycles), cycles
        rows = sink.readings(device.device_id)
        assert_no_seq_missing(rows)
        assert max(seq for seq, _, _ in rows) == cycles[-1]["next_seq"] - 1
    collar_cycles = fleet.events(collar.device_id, "cycle")
    # Every collar cycle either sent a fix or counted a no-fix: never a position-less reading.
    assert len(sink.readings(collar.device_id)) + len(fleet.events(collar.device_id, "no_fix")) >= 4
    assert collar_cycles

    # Good config: accepted, persisted, applied from the *next* cycle.
    soil_cycles = fleet.events(soil.device_id, "cycle")
    assert soil_cycles[0]["sleep_s"] == 1800
    assert [c["sleep_s"] for c in soil_cycles[1:]] == [600, 600, 600]
    assert json.loads((soil.folder / "config.json").read_text())["interval_s"] == 600
    assert len(fleet.events(soil.device_id, "config_accepted")) == 1  # re-delivery: no rewrite

    # Bad config: rejected, not persisted, reported on the retained status.
    assert not (collar.folder / "config.json").exists()
    statuses = [
        m for m in fleet.collector.snapshot() if m.topic == fleet.topic(collar.device_id, "status")
    ]
    for m in statuses:
        check_message(m.topic, m.payload, True)
    last = json.loads(statuses[-1].payload)
    assert last["state"] == "online"
    assert "interval_moving_s" in last["config_error"]
    soil_status = [
        m for m in fleet.collector.snapshot() if m.topic == fleet.topic(soil.device_id, "status")
    ]
    assert soil_status[-1].payload == b"online"


def test_broker_outage_queues_and_replays_with_original_timestamps(
    fleet: Fleet, sink: Sink
) -> None:
    collar = fleet.add("e2e-collar-2", "collar")
    soil = fleet.add("e2e-soil-2", "soil")
    ids = (collar.device_id, soil.device_id)
    for device_id in ids:
        fleet.start(device_id)
    wait_for(lambda: all(len(sink.readings(d)) >= 2 for d in ids), 60, "readings before the outage")

    fleet.broker.stop()
    stopped_at = time.time()
    offline_before = {d: len(fleet.events(d, "cycle")) for d in ids}

    def queued_enough() -> bool:
        return all(
            sum(1 for c in fleet.events(d, "cycle")[offline_before[d] :] if c["error"]) >= 3
            for d in ids
        )

    wait_for(queued_enough, 60, "three offline cycles on each device")
    fleet.broker.start()
    restarted_at = time.time()

    # The soil station also loses power meanwhile: seq must go on from flash, not restart.
    fleet.procs[soil.device_id].kill()
    fleet.procs[soil.device_id].wait(timeout=10)
    fleet.start(soil.device_id)

    def replayed() -> bool:
        for d in ids:
            cycles = fleet.events(d, "cycle")
            if not cycles or cycles[-1]["error"] is not None:
                return False
            rows = sink.readings(d)
            if not rows or len({s for s, _, _ in rows}) < max(s for s, _, _ in rows) + 1:
                return False
            if not any(stopped_at <= ts <= restarted_at for _, ts, _ in rows):
                return False
        return True

    wait_for(replayed, 90, "the queued readings to arrive after the outage")
    fleet.stop_all()

    for d in ids:
        rows = sink.readings(d)
        assert_no_seq_missing(rows)
        offline = [(seq, ts, at) for seq, ts, at in rows if stopped_at <= ts <= restarted_at]
        assert len(offline) >= 2, f"{d}: readings measured during the outage: {offline}"
        # Measured while the broker was down, delivered after it came back, time unchanged.
        assert all(at >= restarted_at for _, _, at in offline), offline
    boots = fleet.events(soil.device_id, "boot")
    assert len(boots) == 2
    assert boots[1]["next_seq"] > 0, "seq restarted after a power loss"

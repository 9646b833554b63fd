"""Simulated devices on the MicroPython unix port against a real broker, and what arrived.

Shared by the end-to-end and resource-budget tests.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from jaylym.firmware_sim import SimDevice, read_events
from jaylym.mqtt_passwd import set_password
from jaylym.services import Mosquitto
from jaylym.settings import parse_mqtt_url
from tests.firmware.protocol_check import check_message
from tests.ingest.process import IngestProcess

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


class IngestSink:
    """The store behind the real ingest: what `jaylym ingest` wrote into InfluxDB.

    The store keeps no arrival time, so a poller notes when each reading first appeared
    (every POLL_S, and on every call): `received_at` is that, late by at most POLL_S, never
    early, which is the direction the outage test needs."""

    POLL_S = 0.25

    def __init__(self, ingest: IngestProcess) -> None:
        self.ingest = ingest
        self.started_ms = int(time.time() * 1000)
        self.first_seen: dict[str, dict[tuple[int, int], float]] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, daemon=True)
        self._poller.start()

    def register(self, device_id: str, kind: str) -> None:
        self.ingest.register(device_id, kind, OKRUG)
        with self.lock:
            self.first_seen.setdefault(device_id, {})

    def _poll(self, device_id: str) -> None:
        # An hour either side of the run: the devices stamp with the host's real clock.
        start, end = self.started_ms - 3_600_000, int(time.time() * 1000) + 3_600_000
        stored = self.ingest.store.device_readings(device_id, start, end)
        now = time.time()
        with self.lock:
            seen = self.first_seen.setdefault(device_id, {})
            for r in stored:  # a soil reading is one point per depth: one (seq, ts) here
                seen.setdefault((r.seq, r.ts_ms), now)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.POLL_S):
            with self.lock:
                devices = list(self.first_seen)
            for device_id in devices:
                # A failed poll (InfluxDB busy) is simply retried next time; readings() polls
                # in the test's own thread, where a failure raises.
                with contextlib.suppress(Exception):
                    self._poll(device_id)

    def readings(self, device_id: str) -> list[tuple[int, float, float]]:
        self._poll(device_id)
        with self.lock:
            seen = dict(self.first_seen.get(device_id, {}))
        return [(seq, ts_ms / 1000, at) for (seq, ts_ms), at in sorted(seen.items())]

    def close(self) -> None:
        self._stop.set()
        self._poller.join(timeout=5)


# "mqtt": what the broker delivered to a subscriber. "ingest": what the real `jaylym ingest`
# stored in the real InfluxDB (devices registered in a real registry).
SINKS = ["mqtt", "ingest"]


@dataclass
class Fleet:
    broker: Mosquitto
    collector: Collector
    folder: Path
    devices: dict[str, SimDevice] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Called with (device_id, kind) as a device is added: the ingest sink registers it.
    on_add: list[Callable[[str, str], None]] = field(default_factory=list)

    def add(self, device_id: str, kind: str, speed: float = SPEED) -> SimDevice:
        password = uuid.uuid4().hex
        set_password(self.broker.password_file, device_id, password)
        self.broker.reload()
        device = SimDevice(
            device_id=device_id,
            kind="collar" if kind == "collar" else "soil",
            broker_url=f"mqtt://{device_id}:{password}@127.0.0.1:{self.broker.port}",
            folder=self.folder / device_id,
            okrug=OKRUG,
            speed=speed,
            seed=7,
        )
        self.devices[device_id] = device
        for hook in self.on_add:
            hook(device_id, device.kind)
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

"""Helpers for tests against a real broker: an ingest running in a thread, device publishers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from ingest.directory import StaticDirectory
from ingest.ledger import Ledger, MemoryLedger
from ingest.service import IngestService
from jaylym.models import DeviceInfo
from jaylym.services import wait_until
from jaylym.settings import IngestConfig, MqttConfig, parse_mqtt_url
from jaylym.store.base import TimeSeriesStore


def device_fleet(n: int, prefix: str = "cow") -> list[DeviceInfo]:
    return [DeviceInfo(f"{prefix}-{i:03d}", "collar", "sogety", herd_id="herd-1")
            for i in range(n)]  # fmt: skip


class RunningIngest:
    def __init__(self, service: IngestService, thread: threading.Thread, stop: threading.Event):
        self.service = service
        self.thread = thread
        self.stop_event = stop

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "ingest did not stop within 30 s"

    def metric(self, name: str, **labels: str) -> float:
        value = self.service.metrics.registry.get_sample_value(name, labels or None)
        return 0.0 if value is None else value


@contextmanager
def running_ingest(
    broker_url: str,
    store: TimeSeriesStore,
    devices: Iterable[DeviceInfo],
    spool_dir: Path,
    ledger: Ledger | None = None,
    **cfg: Any,
) -> Iterator[RunningIngest]:
    config = IngestConfig(spool_dir=spool_dir, **{"metrics_port": 0, **cfg})
    service = IngestService(
        config, parse_mqtt_url(broker_url), store, StaticDirectory(devices),
        ledger or MemoryLedger(),
    )  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    running = RunningIngest(service, thread, stop)
    try:
        wait_until(lambda: service.transport.connected, timeout=15, what="ingest connected")
        time.sleep(0.3)  # the SUBACK
        yield running
    finally:
        if thread.is_alive():
            running.stop()


def client(broker: MqttConfig, client_id: str | None = None, **kwargs: Any) -> paho.Client:
    c = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{uuid.uuid4().hex[:10]}", **kwargs
    )
    if broker.username:
        c.username_pw_set(broker.username, broker.password.get_secret_value() if broker.password
                          else None)  # fmt: skip
    c.max_inflight_messages_set(100)
    return c


def publish_all(broker_url: str, messages: list[tuple[str, bytes]], connections: int = 1) -> None:
    """Publish at QoS 1 over `connections` clients in parallel; returns once all are PUBACKed."""
    broker = parse_mqtt_url(broker_url)
    errors: list[BaseException] = []

    def worker(part: list[tuple[str, bytes]]) -> None:
        try:
            c = client(broker)
            c.connect(broker.host, broker.port)
            c.loop_start()
            infos = [c.publish(topic, body, qos=1) for topic, body in part]
            for info in infos:
                info.wait_for_publish(timeout=60)
            c.disconnect()
            c.loop_stop()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(messages[i::connections],))
               for i in range(connections)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "publishers did not finish in 120 s"


def collar_payload(seqs: Iterable[int], ts0: float) -> bytes:
    return json.dumps({"v": 1, "readings": [
        {"seq": s, "ts": ts0 + s, "lat": 43.36 + (s % 100) * 1e-5, "lon": 77.98, "bat": 3.9}
        for s in seqs
    ]}).encode()  # fmt: skip


class Subscriber:
    """Collects what arrives on a topic filter (for the DLQ topic)."""

    def __init__(self, broker_url: str, topic: str) -> None:
        broker = parse_mqtt_url(broker_url)
        self.messages: list[tuple[str, bytes]] = []
        self.client = client(broker)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert ready.wait(10), "no SUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(check, timeout=timeout, what=what, step=0.1)

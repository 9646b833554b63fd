"""The ingest over MQTT 3.1.1 on the demo's embedded amqtt broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jaylym.demo.broker import EmbeddedBroker
from tests.ingest.live import collar_payload, device_fleet, eventually, publish_all, running_ingest
from tests.ingest.memstore import MemoryStore


@pytest.fixture
def amqtt_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker()
    broker.start()
    yield broker
    broker.stop()


def test_ingest_works_on_the_demo_broker(amqtt_broker: EmbeddedBroker, tmp_path: Path) -> None:
    store = MemoryStore()
    devices = device_fleet(3, prefix="demo")
    now = time.time()
    messages = [
        (f"pasture/v1/sogety/collar/{d.device_id}/telemetry", collar_payload([s], now - 900))
        for s in range(1, 41) for d in devices
    ]  # fmt: skip
    with running_ingest(amqtt_broker.url, store, devices, tmp_path, mqtt_protocol="3.1.1",
                        client_id="demo-ingest", batch_max=50) as ingest:  # fmt: skip
        publish_all(amqtt_broker.url, messages, connections=3)
        eventually(lambda: len(store.points) == len(messages), 30, "all points via amqtt")
        assert ingest.metric("jaylym_ingest_messages_received_total", source="native") == 120

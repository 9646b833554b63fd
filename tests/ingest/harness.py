"""A consumer wired to in-process parts: for tests of the loop without a broker."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ingest.consumer import Consumer
from ingest.directory import StaticDirectory
from ingest.ledger import MemoryLedger
from ingest.metrics import IngestMetrics
from ingest.mqtt import Inbound
from ingest.spool import Spool
from jaylym.models import DeviceInfo
from jaylym.settings import IngestConfig
from tests.ingest.memstore import MemoryStore

DEVICES = [
    DeviceInfo("cow-1", "collar", "sogety", herd_id="herd-1", dev_eui="70b3d57ed0000001"),
    DeviceInfo("cow-2", "collar", "sogety", herd_id="herd-1"),
    DeviceInfo("st-1", "soil", "sogety", dev_eui="70b3d57ed0000002"),
    DeviceInfo("cow-9", "collar", "sogety", active=False),
]


class RecordingTransport:
    """The consumer's side of the Transport interface, recording acks and publishes."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.published: list[tuple[str, bytes]] = []
        self.generation = 1

    @property
    def connected(self) -> bool:
        return True

    def start(self) -> None:
        return None

    def ack(self, message: Inbound) -> bool:
        if message.generation != self.generation:
            return False
        self.acked.append(message.mid)
        return True

    def ack_many(self, messages: list[Inbound]) -> int:
        return sum(self.ack(message) for message in messages)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.published.append((topic, payload))

    def stop(self) -> None:
        return None


class Harness:
    def __init__(self, tmp_path: Path, devices: Iterable[DeviceInfo] = DEVICES, **cfg: Any) -> None:
        cfg = {"spool_dir": tmp_path / "spool", "flush_interval_s": 0.01, **cfg}
        self.cfg = IngestConfig(**cfg)
        self.store = MemoryStore()
        self.ledger = MemoryLedger()
        self.directory = StaticDirectory(devices)
        self.metrics = IngestMetrics()
        self.spool = Spool(self.cfg.spool_dir, self.cfg.spool_max_bytes)
        self.consumer = Consumer(
            self.cfg, self.store, self.directory, self.ledger, self.spool, self.metrics
        )
        self.transport = RecordingTransport()
        self.consumer.transport = self.transport
        self._mids = itertools.count(1)

    def send(self, topic: str, payload: bytes | dict[str, Any]) -> int:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        mid = next(self._mids)
        self.consumer.offer(Inbound(topic, body, mid, 1, self.transport.generation, time.time()))
        return mid

    def drain(self, steps: int = 50) -> None:
        for _ in range(steps):
            self.consumer.step()
            if self.consumer.inbox.empty() and not self.consumer.holding:
                return

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels or None)
        return 0.0 if value is None else value


def collar_msg(seqs: list[int], ts0: float | None = None, **extra: Any) -> dict[str, Any]:
    ts0 = ts0 if ts0 is not None else time.time() - 86400
    return {
        "v": 1,
        "readings": [
            {"seq": s, "ts": ts0 + s * 60, "lat": 43.36 + s * 1e-5, "lon": 77.98, **extra}
            for s in seqs
        ],
    }


COW1 = "pasture/v1/sogety/collar/cow-1/telemetry"
ST1 = "pasture/v1/sogety/soil/st-1/telemetry"

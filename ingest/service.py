"""The ingest assembled: MQTT transport, consumer, spool, metrics endpoint."""

from __future__ import annotations

import gc
import threading
from typing import Any

import structlog

from ingest.consumer import Consumer
from ingest.decoders import subscriptions
from ingest.directory import CachedDirectory
from ingest.ledger import Ledger
from ingest.metrics import IngestMetrics, MetricsServer
from ingest.mqtt import PahoTransport, SessionOptions
from ingest.spool import Spool
from jaylym.models import DeviceDirectory
from jaylym.settings import IngestConfig, MqttConfig
from jaylym.store.base import TimeSeriesStore

log = structlog.get_logger("jaylym.ingest")


def topic_filters(cfg: IngestConfig) -> tuple[str, ...]:
    """Every decoder's filter, through `$share/<group>/` when a shared group is set."""
    prefix = f"$share/{cfg.shared_group}/" if cfg.shared_group else ""
    return tuple(prefix + topic for topic in subscriptions())


# The cyclic collector's youngest generation is collected every 700 net allocations by
# default. A batch keeps some ten thousand tracked objects alive while it is decoded and made
# durable, so at tens of thousands of messages a second those collections walk the same live
# objects again and again and promote them into older generations, which then collect too.
# Measured with gc.callbacks over 100 000-message bursts: 141-168 ms of collections with the
# defaults, 74-90 ms with these (bench/results/ingest-round5.md). A trickle allocates little,
# so cyclic garbage waits longer for collection only where it is cheap to keep.
GC_THRESHOLDS = (10_000, 10, 10)


def tune_collector() -> None:
    """Set the collector up for the ingest's allocation pattern, once start-up is done.

    Everything built so far (modules, the registry's and the store's machinery, the seeded
    state) lives as long as the process: frozen, out of the collector's sight, so its full
    collections stop walking it (~6 % of the consumer's instructions, bench/consumer_cost.py).
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class IngestService:
    def __init__(
        self,
        cfg: IngestConfig,
        broker: MqttConfig,
        store: TimeSeriesStore,
        directory: DeviceDirectory,
        ledger: Ledger,
    ) -> None:
        self.cfg = cfg
        self.metrics = IngestMetrics()
        # One spool per client id: two processes on one host never share a file.
        self.spool = Spool(cfg.spool_dir / cfg.client_id, cfg.spool_max_bytes)
        self.consumer = Consumer(
            cfg, store, CachedDirectory(directory, cfg.directory_ttl_s), ledger, self.spool,
            self.metrics,
        )  # fmt: skip
        self.transport = PahoTransport(
            broker,
            SessionOptions(
                client_id=cfg.client_id,
                protocol=cfg.mqtt_protocol,
                session_expiry_s=cfg.session_expiry_s,
                subscriptions=topic_filters(cfg),
                # With the overlap, two batches: one committing, one filling (consumer.py).
                receive_maximum=min((2 if cfg.overlap_commit else 1) * cfg.batch_max, 65535),
                status_topic=f"pasture/v1/_ingest/{cfg.client_id.lower().replace('_', '-')}/status",
            ),
            self._offer,
            self.consumer.offer_many,
        )
        self.consumer.transport = self.transport
        self.http: MetricsServer | None = None

    def _offer(self, message: Any) -> None:
        self.consumer.offer(message)

    def health(self) -> dict[str, Any]:
        connected = self.transport.connected
        self.metrics.connected.set(1 if connected else 0)
        return {
            "ok": connected and not self.consumer.holding,
            "mqtt_connected": connected,
            "store_up": self.consumer.store_up,
            "spool_bytes": self.spool.depth_bytes,
            "acks_held": self.consumer.holding,
        }

    def start(self) -> None:
        if self.cfg.metrics_port:
            self.http = MetricsServer(
                self.metrics, self.health, self.cfg.metrics_host, self.cfg.metrics_port
            )
            self.http.start()
        self.consumer.seed()
        tune_collector()
        self.transport.start()
        log.info(
            "ingest started",
            client_id=self.cfg.client_id,
            protocol=self.cfg.mqtt_protocol,
            subscriptions=list(topic_filters(self.cfg)),
            spool_bytes=self.spool.depth_bytes,
        )

    def run(self, stop: threading.Event) -> None:
        self.start()
        try:
            self.consumer.run(stop)
        finally:
            self.close()

    def close(self) -> None:
        self.transport.stop()
        if self.http is not None:
            self.http.stop()
        self.spool.close()
        log.info("ingest stopped")

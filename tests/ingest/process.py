"""A real `jaylym ingest` process for end-to-end tests: its own registry (SQLite, migrated
by the registry's own code), a database of its own on the shared InfluxDB, a client id of
its own, and a bounded wait until it is subscribed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from jaylym.models import DeviceInfo
from jaylym.services import free_port
from jaylym.settings import Settings, parse_mqtt_url
from jaylym.store import open_store
from jaylym.store.base import TimeSeriesStore
from tests.ingest.registry_db import make_registry, provision


@dataclass
class IngestProcess:
    broker_url: str  # a service account's URL (jaylym-ingest)
    influx_url: str
    folder: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    database: str = field(default_factory=lambda: f"e2e_{uuid.uuid4().hex[:10]}")
    client_id: str = field(default_factory=lambda: f"e2e-ingest-{uuid.uuid4().hex[:8]}")
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.registry_url = f"sqlite:///{self.folder / 'registry.db'}"
        make_registry(self.registry_url).dispose()
        self.metrics_port = free_port()
        self.store: TimeSeriesStore = open_store(
            Settings(tsdb="influx", influx_url=self.influx_url, influx_db=self.database)
        )
        self._registered: set[str] = set()
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.folder / "ingest.log"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "JAYLYM_MQTT_URL": self.broker_url, "JAYLYM_TSDB": "influx",
            "JAYLYM_INFLUX_URL": self.influx_url, "JAYLYM_INFLUX_DB": self.database,
            "JAYLYM_DATABASE_URL": self.registry_url, "JAYLYM_DATA_DIR": str(self.folder / "data"),
            "JAYLYM_INGEST_CLIENT_ID": self.client_id,
            "JAYLYM_INGEST_METRICS_PORT": str(self.metrics_port),
            **self.extra_env,
        }  # fmt: skip

    def register(self, device_id: str, kind: str, okrug: str) -> None:
        """Register a device in the registry the ingest reads (before it first publishes)."""
        with self._lock:
            if device_id in self._registered:
                return
            provision(self.registry_url, [DeviceInfo(device_id, kind, okrug)])  # type: ignore[arg-type]
            self._registered.add(device_id)

    def start(self, timeout: float = 30.0) -> None:
        out = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jaylym", "ingest"], env=self.env(), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        finally:
            out.close()
        self._wait_subscribed(timeout)

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"jaylym ingest exited: {self.log_tail()}")
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/healthz"
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _wait_subscribed(self, timeout: float) -> None:
        """Healthy (connected) is not subscribed yet: a probe from an unregistered device
        coming back on the DLQ (for whatever reason) proves the subscription is live, with
        no guessed sleep."""
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if time.monotonic() > deadline:
                raise AssertionError(f"ingest not healthy in {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.1)
        cfg = parse_mqtt_url(self.broker_url)
        seen = threading.Event()
        probe_id = f"probe-{uuid.uuid4().hex[:8]}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=probe_id)
        client.username_pw_set(
            cfg.username, cfg.password.get_secret_value() if cfg.password else None
        )
        client.on_connect = lambda c, *_: c.subscribe("pasture/v1/_dlq/#", qos=1)
        client.on_message = lambda _c, _u, m: probe_id.encode() in m.payload and seen.set()
        client.connect(cfg.host, cfg.port, keepalive=10)
        client.loop_start()
        try:
            topic = f"pasture/v1/sogety/collar/{probe_id}/telemetry"
            reading = {"seq": 0, "ts": int(time.time()), "lat": 43.3, "lon": 77.7}
            body = json.dumps({"v": 1, "readings": [reading]})  # well-formed: unknown_device
            while not seen.wait(0.5):
                if time.monotonic() > deadline:
                    raise AssertionError(f"ingest not subscribed: {self.log_tail()}")
                client.publish(topic, body, qos=1)
        finally:
            client.loop_stop()
            client.disconnect()

    def stop(self) -> None:
        self.terminate()
        self.store.close()

    def terminate(self) -> None:
        """SIGTERM (a clean stop: the last stats are written), then wait, bounded."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

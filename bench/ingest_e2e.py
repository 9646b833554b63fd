"""End-to-end ingest benchmark: QoS 1 throughput with zero loss, publish-to-queryable latency,
and the ingest's peak RSS, against a real Mosquitto and a real InfluxDB.

    .venv/bin/python -m bench.ingest_e2e --devices 50 --messages 50000

The ingest runs as its own process (`jaylym ingest`), the simulated devices in others
(bench/loadgen.py: one MQTT connection per device). While the load runs, a probe device
publishes one reading every 100 ms with its publish time as `ts`, and a poller asks the store
for it: the time until a probe is queryable is the latency. Results are printed as JSON; the
figures in bench/README.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from bench import loadgen
from bench.common import create_db, servers, wait_for_count
from jaylym.services import free_port, wait_until
from jaylym.settings import Settings, parse_mqtt_url

OKRUG = "bench"
PROBE = "probe-000"


def provision(registry_url: str, devices: list[str]) -> None:
    """Register the simulated collars (and the probe) in a fresh registry database."""
    from ingest.provision import register_collars

    register_collars(registry_url, devices, okrug=OKRUG)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Probe:
    """Publishes probe readings and records when each becomes queryable."""

    def __init__(self, url: str, settings: Settings) -> None:
        from jaylym.store import open_store

        self.store = open_store(settings)
        cfg = parse_mqtt_url(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-probe")
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password.get_secret_value()
                                        if cfg.password else None)  # fmt: skip
        self.client.connect(cfg.host, cfg.port)
        self.client.loop_start()
        self.sent: dict[int, float] = {}
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()

    def publish_loop(self) -> None:
        seq = 0
        topic = f"pasture/v1/{OKRUG}/collar/{PROBE}/telemetry"
        while not self.stop.is_set():
            now = time.time()
            body = {"v": 1, "readings": [{"seq": seq, "ts": now, "lat": 43.5, "lon": 78.3}]}
            self.sent[seq] = now
            self.client.publish(topic, json.dumps(body).encode(), qos=1)
            seq += 1
            self.stop.wait(0.1)

    def poll_loop(self) -> None:
        start_ms = int(time.time() * 1000) - 60_000
        while not self.stop.is_set() or len(self.seen) < len(self.sent):
            end_ms = int(time.time() * 1000) + 60_000
            now = time.time()
            for reading in self.store.device_readings(PROBE, start_ms, end_ms):
                self.seen.setdefault(reading.seq, now)
            if self.stop.is_set() and time.time() - max(self.sent.values(), default=0) > 30:
                break
            time.sleep(0.02)

    def latencies_ms(self) -> list[float]:
        return sorted((self.seen[s] - self.sent[s]) * 1000 for s in self.seen if s in self.sent)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(devices: int, messages: int, protocol: str, batch_max: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jaylym-bench-") as tmp:
        work = Path(tmp)
        with servers(work) as srv:
            url = srv.mosquitto.url()
            db = "bench"
            create_db(srv.influxd.url, db)
            registry_url = f"sqlite:///{work / 'registry.db'}"
            ids = [loadgen.device_id(loadgen.LoadSpec(url, 0, prefix=OKRUG), i)
                   for i in range(devices)]  # fmt: skip
            provision(registry_url, [*ids, PROBE])
            port = free_port()
            env = {
                **os.environ,
                "JAYLYM_MQTT_URL": url, "JAYLYM_TSDB": "influx",
                "JAYLYM_INFLUX_URL": srv.influxd.url, "JAYLYM_INFLUX_DB": db,
                "JAYLYM_DATABASE_URL": registry_url, "JAYLYM_DATA_DIR": str(work / "data"),
                "JAYLYM_INGEST_CLIENT_ID": "bench-ingest", "JAYLYM_INGEST_METRICS_PORT": str(port),
                "JAYLYM_INGEST_MQTT_PROTOCOL": protocol, "JAYLYM_INGEST_BATCH_MAX": str(batch_max),
                "JAYLYM_LOG_LEVEL": "warning",
            }  # fmt: skip
            log = (work / "ingest.log").open("wb")
            proc = subprocess.Popen(
                [sys.executable, "-m", "jaylym", "ingest"], env=env, stdout=log, stderr=log
            )
            try:
                wait_until(lambda: _healthy(port), timeout=30, what="ingest healthy")
                settings = Settings(tsdb="influx", influx_url=srv.influxd.url, influx_db=db,
                                    data_dir=work / "probe")  # fmt: skip
                probe = Probe(url, settings)
                threads = [threading.Thread(target=probe.publish_loop),
                           threading.Thread(target=probe.poll_loop)]  # fmt: skip
                for t in threads:
                    t.start()
                spec = loadgen.LoadSpec(
                    url=url, messages=messages, connections=devices, processes=4,
                    okrug=OKRUG, prefix=OKRUG, start_ts=int(time.time()) - 86_400,
                )  # fmt: skip
                started = time.monotonic()
                load = loadgen.run(spec)
                sent = int(load["sent"])
                probe.stop.set()  # latency is sampled while the load is published
                threads[0].join(timeout=10)
                # The probe's points share the measurement: wait for both, report the load's.
                expected = sent + len(probe.sent)
                stored, reached = wait_for_count(srv.influxd.url, db, expected, timeout=600)
                threads[1].join(timeout=60)
                stored -= len(probe.sent)
                elapsed = reached - started
                lat = probe.latencies_ms()
                return {
                    "devices": devices, "protocol": protocol, "batch_max": batch_max,
                    "sent": sent, "publisher_unacked": load["unacked"], "stored": stored,
                    "lost": sent - stored, "publish_rate": round(load["publish_rate"]),
                    "end_to_end_seconds": round(elapsed, 2),
                    "throughput_msgs_per_s": round(sent / elapsed),
                    "latency_p50_ms": round(percentile(lat, 50), 1),
                    "latency_p99_ms": round(percentile(lat, 99), 1),
                    "latency_samples": len(lat),
                    "ingest_peak_rss_mib": round(peak_rss_mib(proc.pid), 1),
                }  # fmt: skip
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                log.close()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    parser.add_argument("--batch-max", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps(run(args.devices, args.messages, args.protocol, args.batch_max), indent=2))


if __name__ == "__main__":
    main()

"""End-to-end ingest benchmark: QoS 1 throughput with zero loss, publish-to-queryable latency,
and the ingest's peak RSS, against a real Mosquitto and a real InfluxDB.

    .venv/bin/python -m bench.ingest_e2e --devices 50 --messages 50000

The ingest runs as its own process (`jaylym ingest`), the simulated devices in others
(bench/rawpub.py: one MQTT connection per device). While the load runs, a probe device
publishes one reading every 100 ms with its publish time as `ts`, and a poller asks the store
for it: the time until a probe is queryable is the latency. Results are printed as JSON; the
figures in bench/README.md come from this script.
"""

from __future__ import annotations

import argparse
import contextlib
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
from paho.mqtt.enums import CallbackAPIVersion

from bench import rawpub
from bench.common import create_db, servers, wait_for_count
from jaylym.services import free_port, wait_until
from jaylym.settings import Settings, parse_mqtt_url

OKRUG = "bench"
PROBE = "probe-000"


def provision(registry_url: str, devices: list[str]) -> None:
    """Register the simulated collars (and the probe) in a fresh registry database."""
    from sqlalchemy.orm import Session

    from jaylym.registry.db import make_engine
    from jaylym.registry.migrate import upgrade
    from jaylym.registry.models import Device, Okrug

    engine = make_engine(registry_url)
    upgrade(engine)
    with Session(engine) as session:
        session.add(Okrug(id=OKRUG, name_kk=OKRUG, name_ru=OKRUG, name_en=OKRUG))
        session.flush()
        session.add_all(Device(id=d, kind="collar", okrug_id=OKRUG) for d in devices)
        session.commit()
    engine.dispose()


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
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password.get_secret_value()
                                        if cfg.password else None)  # fmt: skip
        self.client.connect(cfg.host, cfg.port)
        self.client.loop_start()
        self.sent: dict[int, float] = {}
        self.seen: dict[int, float] = {}
        self.errors: list[str] = []
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
            try:
                found = self.store.device_readings(PROBE, start_ms, end_ms)
            except Exception as exc:  # see bench/README.md: a read racing heavy writes
                self.errors.append(f"{type(exc).__name__}: {exc}")
                found = []
            for reading in found:
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


def paced_load(
    url: str, devices: int, rate: float, seconds: float, first_seq: int, done: Any = None
) -> None:
    """Background load for the latency phase: `devices` connections (one per device) in this
    process, `rate` messages per second in all, for `seconds`."""
    cfg = parse_mqtt_url(url)
    clients = []
    for i in range(devices):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{OKRUG}-{i:05d}-paced")
        if cfg.username:
            c.username_pw_set(cfg.username, cfg.password.get_secret_value()
                              if cfg.password else None)  # fmt: skip
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.connect(cfg.host, cfg.port)
        c.loop_start()
        clients.append(c)
    ts0 = int(time.time()) - 86_400
    tick = 0.01
    per_tick = rate * tick
    due = 0.0
    sent = 0
    infos = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        due += per_tick
        while sent < int(due):
            index = sent % devices
            seq = first_seq + sent // devices
            topic = f"pasture/v1/{OKRUG}/collar/{OKRUG}-{index:05d}/telemetry"
            infos.append(
                clients[index].publish(topic, rawpub.reading(seq, ts0 + seq, index), qos=1)
            )
            sent += 1
        time.sleep(max(0.0, started + (sent / rate if rate else 0) - time.monotonic()))
    deadline = time.monotonic() + 60  # one bound for all, not 60 s per message
    for info in infos:  # PUBACKed by the broker, or it does not count as published
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        with contextlib.suppress(RuntimeError, ValueError):
            info.wait_for_publish(timeout=remaining)
    if done is not None:
        done.value = sum(1 for info in infos if info.is_published())
    for c in clients:
        c.disconnect()
        c.loop_stop()


def run(
    devices: int,
    messages: int,
    protocol: str,
    batch_max: int,
    static: bool = False,
    rate: float = 1000.0,
    seconds: float = 20.0,
) -> dict[str, Any]:
    import multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="jaylym-bench-") as tmp:
        work = Path(tmp)
        with servers(work) as srv:
            url = srv.mosquitto.url()
            db = "bench"
            create_db(srv.influxd.url, db)
            registry_url = f"sqlite:///{work / 'registry.db'}"
            ids = [f"{OKRUG}-{i:05d}" for i in range(devices)]
            if not static:
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
            command = (
                [sys.executable, "-m", "bench.ingest_e2e", "--worker", f"--devices={devices}"]
                if static
                else [sys.executable, "-m", "jaylym", "ingest"]
            )
            proc = subprocess.Popen(command, env=env, stdout=log, stderr=log)
            try:
                wait_until(lambda: _healthy(port), timeout=30, what="ingest healthy")
                # Phase 1, throughput: a burst from every device at once; the broker queues
                # what the ingest cannot take yet. Rate = messages / time until all queryable.
                spec = rawpub.RawLoad(
                    url=url, messages=messages, connections=devices, processes=2,
                    okrug=OKRUG, prefix=OKRUG, start_ts=int(time.time()) - 86_400,
                )  # fmt: skip
                started = time.monotonic()
                load = rawpub.run(spec)
                sent = int(load["sent"])
                stored, reached = wait_for_count(srv.influxd.url, db, sent, timeout=600)
                elapsed = reached - started
                # Phase 2, latency: a steady load below capacity, probed 10 times a second.
                settings = Settings(tsdb="influx", influx_url=srv.influxd.url, influx_db=db,
                                    data_dir=work / "probe")  # fmt: skip
                probe = Probe(url, settings)
                published = mp.Value("l", 0)
                background = mp.Process(
                    target=paced_load, args=(url, devices, rate, seconds, messages, published)
                )
                background.start()
                threads = [threading.Thread(target=probe.publish_loop),
                           threading.Thread(target=probe.poll_loop)]  # fmt: skip
                for t in threads:
                    t.start()
                background.join(timeout=seconds + 60)
                probe.stop.set()
                for t in threads:
                    t.join(timeout=60)
                lat = probe.latencies_ms()
                paced = int(published.value)
                total, _ = wait_for_count(srv.influxd.url, db, sent + paced + len(probe.sent),
                                          timeout=120)  # fmt: skip
                return {
                    "ingest": "static directory, memory ledger" if static else "jaylym ingest",
                    "devices": devices, "protocol": protocol, "batch_max": batch_max,
                    "burst_sent": sent, "publisher_unacked": sent - int(load["acked"]),
                    "burst_stored": stored, "burst_lost": sent - stored,
                    "publish_rate": round(load["publish_rate"]),
                    "end_to_end_seconds": round(elapsed, 2),
                    "throughput_msgs_per_s": round(sent / elapsed),
                    "paced_rate_msgs_per_s": rate, "paced_seconds": seconds,
                    "paced_published": paced,
                    "paced_and_probe_lost": sent + paced + len(probe.sent) - total,
                    "latency_p50_ms": round(percentile(lat, 50), 1),
                    "latency_p99_ms": round(percentile(lat, 99), 1),
                    "latency_samples": len(lat),
                    "probe_read_errors": len(probe.errors),
                    "probe_first_error": probe.errors[0] if probe.errors else None,
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


def static_worker(devices: int) -> None:
    """The ingest without a registry (`--static`): the same service, its devices from the
    bench's naming scheme and its ledger in memory. Isolates the ingest's own cost."""
    import signal

    from ingest.directory import StaticDirectory
    from ingest.ledger import MemoryLedger
    from ingest.service import IngestService
    from jaylym.logs import configure_logging
    from jaylym.models import DeviceInfo
    from jaylym.settings import get_settings
    from jaylym.store import open_store

    settings = get_settings()
    configure_logging(settings)
    ids = [f"{OKRUG}-{i:05d}" for i in range(devices)] + [PROBE]
    directory = StaticDirectory(DeviceInfo(d, "collar", OKRUG) for d in ids)
    service = IngestService(settings.ingest(), settings.mqtt(), open_store(settings), directory,
                            MemoryLedger())  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.run(stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    parser.add_argument("--batch-max", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced load, msgs/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="paced phase length")
    parser.add_argument(
        "--static",
        action="store_true",
        help="run the ingest without a registry (static devices, memory ledger)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        static_worker(args.devices)
        return
    result = run(args.devices, args.messages, args.protocol, args.batch_max, args.static,
                 args.rate, args.seconds)  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

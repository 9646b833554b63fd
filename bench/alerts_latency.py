"""Alert latency under load: from the reading that crosses a threshold being stored to the
delivery request arriving at a real local webhook receiver.

    .venv/bin/python bench/alerts_latency.py [--collars 1000] [--pastures 100] \
        [--interval 5] [--rate 100] [--targets 10]

Everything real except the data: a migrated SQLite registry with `pastures` pastures,
`collars` collars in herds of 10 and a coordinator on a webhook; the SQLite time-series
store with 12 h of history for every collar; the `AlertService` of `jaylym serve`/`jaylym
alerts` (engine loop every `interval` s, delivery worker). A writer thread stores `rate`
ordinary fixes per second meanwhile (the ingest's load on the store). Then, one target
collar at a time, three fixes with a flat battery are stored (the median of the last three
samples is the level the rule reads, so the third crosses the threshold) and the clock runs
until the coordinator's `low_battery` webhook arrives.

With `--via mqtt` every reading is published to a real Mosquitto and stored by the ingest
(in-process threads), so the latency runs from the device's publish to the request leaving
the delivery worker; by default it enters the store directly. Reported: latency
p50/p95/max, the snapshot and evaluation times (which with the loop interval bound the
latency: expect about interval/2 + snapshot + evaluation + delivery). Each target is
written at a random phase of the loop.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import REGISTRY
from shapely import box, geometry
from sqlalchemy.orm import Session

from api.alerts.engine import Snapshot
from api.alerts.runtime.service import AlertService
from api.grazing.geodesy import geodesic_area_ha
from jaylym.models import PositionReading
from jaylym.registry.contacts import Coordinator
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.registry.models import Device, Herd, Okrug, Pasture
from jaylym.settings import Settings
from jaylym.store.sqlite import SqliteStore

ARRIVALS: dict[str, float] = {}
LON0, LAT0, CELL = 78.0, 43.5, 0.01
MIN = 60_000


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        alert = body["alert"]
        if alert["rule"] == "low_battery" and alert["transition"] == "opened":
            ARRIVALS.setdefault(alert["subject"]["device_id"], time.perf_counter())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def place(i: int, pastures: int, step: int) -> tuple[float, float]:
    """Inside pasture i % pastures, wandering ~100 m per step (never still, never stray)."""
    col, row = (i % pastures) % 20, (i % pastures) // 20
    dx = 0.2 + 0.6 * ((step * 7 + i) % 10) / 10
    return LON0 + (col + dx) * CELL, LAT0 + (row + 0.5) * CELL


def build_registry(url: str, collars: int, pastures: int, hook: str) -> None:
    db = make_engine(url)
    upgrade(db)
    with Session(db) as s:
        s.add(Okrug(id="sogety", name_kk="Сөгеті", name_ru="Согеты", name_en="Sogety"))
        s.flush()
        for p in range(pastures):
            col, row = p % 20, p // 20
            cell = box(
                LON0 + col * CELL,
                LAT0 + row * CELL,
                LON0 + (col + 1) * CELL,
                LAT0 + (row + 1) * CELL,
            )
            s.add(
                Pasture(
                    id=f"p-{p:04d}",
                    okrug_id="sogety",
                    name=f"Pasture {p}",
                    geometry=geometry.mapping(cell),
                    area_ha=geodesic_area_ha(cell),
                    season="year_round",
                    forage_kg_dm_ha=2000.0,
                )
            )
        for h in range(collars // 10):
            s.add(Herd(id=f"h-{h:04d}", okrug_id="sogety", name=f"Herd {h}", sheep=100))
        s.flush()
        for c in range(collars):
            s.add(
                Device(
                    id=f"c-{c:05d}", kind="collar", okrug_id="sogety", herd_id=f"h-{c // 10:04d}"
                )
            )
        s.add(
            Coordinator(
                name="Bench",
                okrugs=["sogety"],
                language="en",
                webhook_url=hook,
                channels=["webhook"],
            )
        )
        s.commit()
    db.dispose()


def fix(c: int, ts: int, seq: int, pastures: int, bat: float = 4.0) -> PositionReading:
    lon, lat = place(c, pastures, seq)
    return PositionReading(f"c-{c:05d}", ts, seq, lat=lat, lon=lon, bat=bat)


def mqtt_sender(
    workdir: Path, store: SqliteStore, collars: int
) -> tuple[Callable[[list[PositionReading]], None], Callable[[], None]]:
    """A real Mosquitto and the ingest (in threads) storing into `store`; returns a function
    publishing readings as their collars would (QoS 1, one message per collar) and a closer."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from ingest.directory import StaticDirectory
    from ingest.ledger import MemoryLedger
    from ingest.service import IngestService
    from jaylym.models import DeviceInfo
    from jaylym.services import Mosquitto
    from jaylym.settings import IngestConfig, parse_mqtt_url

    broker = Mosquitto(workdir / "mosquitto")
    broker.start()
    mqtt = parse_mqtt_url(broker.url())
    devices = StaticDirectory(
        DeviceInfo(f"c-{c:05d}", "collar", "sogety", herd_id=f"h-{c // 10:04d}")
        for c in range(collars)
    )
    ingest = IngestService(
        IngestConfig(spool_dir=workdir / "spool", metrics_port=0),
        mqtt,
        store,
        devices,
        MemoryLedger(),
    )
    stop = threading.Event()
    worker = threading.Thread(target=ingest.run, args=(stop,), daemon=True)
    worker.start()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-collars")
    client.username_pw_set(
        mqtt.username, mqtt.password.get_secret_value() if mqtt.password else None
    )
    client.max_inflight_messages_set(1000)
    client.connect(mqtt.host, mqtt.port)
    client.loop_start()
    time.sleep(1.0)  # the ingest's subscription

    def send(readings: list[PositionReading]) -> None:
        by_device: dict[str, list[PositionReading]] = {}
        for r in readings:
            by_device.setdefault(r.device_id, []).append(r)
        infos = [
            client.publish(
                f"pasture/v1/sogety/collar/{device}/telemetry",
                json.dumps(
                    {
                        "v": 1,
                        "readings": [
                            {
                                "seq": r.seq,
                                "ts": r.ts_ms / 1000,
                                "lat": r.lat,
                                "lon": r.lon,
                                "bat": r.bat,
                            }
                            for r in rows
                        ],
                    }
                ),
                qos=1,
            )
            for device, rows in by_device.items()
        ]
        for info in infos:
            info.wait_for_publish(timeout=30)

    def close() -> None:
        client.loop_stop()
        client.disconnect()
        stop.set()
        worker.join(timeout=30)
        broker.stop()

    return send, close


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--collars", type=int, default=1000)
    parser.add_argument("--pastures", type=int, default=100)
    parser.add_argument("--interval", type=float, default=5.0, help="engine loop period, s")
    parser.add_argument("--rate", type=int, default=100, help="background fixes stored per s")
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument(
        "--via",
        choices=("store", "mqtt"),
        default="store",
        help="mqtt: readings are published to a real Mosquitto and stored by the ingest",
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger().setLevel(logging.WARNING)
    row = measure(args.collars, args.pastures, args.interval, args.rate, args.targets, args.via)
    print(json.dumps(row, indent=2))


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def measure(
    collars: int, pastures: int, interval: float, rate: int, targets: int, via: str = "store"
) -> dict[str, Any]:
    """One run (what `main` prints); `jaylym bench` calls it once per repetition."""
    ARRIVALS.clear()  # a previous run's deliveries name the same devices
    evals0 = _metric("jaylym_alert_evaluation_seconds_count")
    eval_sum0 = _metric("jaylym_alert_evaluation_seconds_sum")
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'registry.db'}"
        build_registry(url, collars, pastures, hook)
        store = SqliteStore(Path(tmp) / "tsdb.sqlite3")
        now = time.time_ns() // 1_000_000
        history = [
            fix(c, now - k * 15 * MIN, 1000 - k, pastures)
            for c in range(collars)
            for k in range(1, 49)
        ]
        store.write(history)
        settings = Settings(
            database_url=url,
            data_dir=Path(tmp),
            webhook_secret="bench-secret",  # noqa: S106
            webhook_allow_http=True,
            alert_evaluation_interval_s=interval,
        )
        db = make_engine(url)
        service = AlertService.from_settings(settings, db, store)
        service.delivery_poll_s = 0.05
        snapshot_s: list[float] = []
        build = service.source.__call__

        def timed_source(now_ms: int) -> Snapshot:
            t0 = time.perf_counter()
            try:
                return build(now_ms)
            finally:
                snapshot_s.append(time.perf_counter() - t0)

        service.source = timed_source  # type: ignore[assignment]

        stop = threading.Event()
        written = [0]
        # Collars whose battery has gone flat stay flat: the writer's later fixes for them
        # must not report a full battery again, or the rule (median of the last three) would
        # see it recover before the loop ran and the alert would rightly never open.
        flat: set[int] = set()
        send, close = (
            mqtt_sender(Path(tmp), store, collars) if via == "mqtt" else (store.write, lambda: None)
        )

        def writer() -> None:  # the ingest's steady load on the store
            seq, c = 2000, 0
            while not stop.is_set():
                t0 = time.perf_counter()
                ts = time.time_ns() // 1_000_000
                batch = []
                for _ in range(rate):
                    n = c % collars
                    batch.append(fix(n, ts, seq, pastures, bat=3.0 if n in flat else 4.0))
                    c += 1
                    if c % collars == 0:
                        seq += 1
                send(batch)
                written[0] += len(batch)
                stop.wait(max(0.0, 1.0 - (time.perf_counter() - t0)))

        started = time.perf_counter()
        threading.Thread(target=writer, daemon=True).start()
        service.start()
        time.sleep(interval * 2)  # the first evaluation builds the season ledger

        latencies = []
        rng = random.Random(1)
        for k in range(targets):
            # A random phase against the loop: right after a delivery the loop has just run,
            # so writing at once would always wait almost a whole interval.
            time.sleep(rng.uniform(0, interval))
            target = (k * 97) % collars
            device = f"c-{target:05d}"
            ts = time.time_ns() // 1_000_000
            flat.add(target)
            store.write([fix(target, ts - 2 + j, 5000 + j, pastures, bat=3.0) for j in range(3)])
            stored = time.perf_counter()
            deadline = stored + interval * 4 + 30
            while device not in ARRIVALS and time.perf_counter() < deadline:
                time.sleep(0.01)
            if device in ARRIVALS:
                latencies.append(ARRIVALS[device] - stored)
        stop.set()
        elapsed = time.perf_counter() - started
        service.stop(30)
        close()
        store.close()
        db.dispose()
        receiver.shutdown()
    evals = _metric("jaylym_alert_evaluation_seconds_count") - evals0
    eval_sum = _metric("jaylym_alert_evaluation_seconds_sum") - eval_sum0
    latencies.sort()
    return {
        "via": via,
        "collars": collars,
        "pastures": pastures,
        "interval_s": interval,
        "background_fixes_per_s": round(written[0] / elapsed, 1),
        "evaluations": int(evals),
        "mean_evaluation_s": round(eval_sum / evals, 3) if evals else None,
        "mean_snapshot_s": round(statistics.mean(snapshot_s[1:]), 3)
        if len(snapshot_s) > 1
        else None,
        "first_snapshot_s": round(snapshot_s[0], 3) if snapshot_s else None,
        "delivered": f"{len(latencies)}/{targets}",
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3)
        if latencies
        else None,
        "latency_p99_s": round(latencies[max(0, math.ceil(0.99 * len(latencies)) - 1)], 3)
        if latencies
        else None,
        "latency_max_s": round(latencies[-1], 3) if latencies else None,
        "zero_loss": len(latencies) == targets,
        "latency_over_interval_p50": round(statistics.median(latencies) / interval, 2)
        if latencies
        else None,
    }


if __name__ == "__main__":
    main()

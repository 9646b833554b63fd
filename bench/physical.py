"""The physical limit of this machine for the ingest's job, measured with the same messages:

- broker relay: QoS 1 from the load generator to a bare `mosquitto_sub -q 1` that discards
  them (the broker and one subscriber, nothing else);
- store write: the same readings as line protocol, 5000-line batches, plain (no gzip)
  bodies, through the project's InfluxDB adapter (`InfluxStore.write_lines`).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from typing import Any

from bench import rawpub
from bench.common import count
from bench.cpu import Meter, exited_cpu, process_cpu
from jaylym.models import PositionReading
from jaylym.services import Mosquitto, find_binary, wait_until
from jaylym.settings import InfluxConfig, parse_mqtt_url
from jaylym.store.influx import InfluxStore
from jaylym.store.schema import reading_line

BATCH = 5000
TELEMETRY = "pasture/v1/+/+/+/telemetry"


def relay(
    broker: Mosquitto, spec: rawpub.RawLoad, timeout: float = 300, *, store_pid: int | None = None
) -> dict[str, Any]:
    """Messages per second from the first publish until a bare QoS 1 subscriber got them all;
    `cpu`: each party's CPU per message (the idle store, `store_pid`, for completeness)."""
    cfg = parse_mqtt_url(broker.url())
    client_id = f"bench-bare-{uuid.uuid4().hex[:6]}"
    password = cfg.password.get_secret_value() if cfg.password else ""
    argv = [find_binary("mosquitto_sub"), "-h", cfg.host, "-p", str(cfg.port),
            "-u", cfg.username or "", "-P", password, "-i", client_id,
            "-q", "1", "-t", TELEMETRY, "-C", str(spec.messages)]  # fmt: skip
    sub = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    broker_pid = broker.proc.pid if broker.proc is not None else None
    meter = Meter(broker_pid=broker_pid, store_pid=store_pid)
    try:
        # The broker logs each connection; the SUBSCRIBE follows within milliseconds.
        wait_until(lambda: client_id in broker.log_path.read_text(errors="replace"),
                   timeout=15, what="bare subscriber connected")  # fmt: skip
        time.sleep(0.3)
        sub_cpu = process_cpu(sub.pid)
        load = rawpub.run(spec, ready=meter.start)
        started = load["started"]  # the first PUBLISH, after the generator's preparation
        # The subscriber exits after its last message: read its CPU before it is reaped.
        meter.add("consumer", exited_cpu(sub.pid, timeout) - sub_cpu)
        sub.wait(timeout=timeout)
        elapsed = time.monotonic() - started
        meter.stop()
        meter.add("generator", load["cpu_s"])
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait(timeout=10)
    received_all = sub.returncode == 0
    return {
        "messages": int(load["sent"]),
        "received_all": received_all,
        "seconds": round(elapsed, 3),
        "rate": load["sent"] / elapsed if received_all else 0.0,
        "publish_rate": load["publish_rate"],
        "generator_build_s": load["build_seconds"],  # before the clock started
        "cpu": meter.report(int(load["sent"])),
    }


def readings(spec: rawpub.RawLoad) -> list[PositionReading]:
    """The readings the ingest makes of `spec`'s messages (same devices, seq, ts and fix)."""
    per_conn = spec.per_connection
    out = []
    for index in range(spec.connections):
        device = rawpub.device_id(spec, index)
        for n in range(per_conn):
            seq = spec.seq_offset + n
            lat = 43.5 + (index % 100) * 0.001
            lon = 78.3 + (seq % 100) * 0.0001
            out.append(
                PositionReading(
                    device_id=device,
                    ts_ms=(spec.start_ts + seq) * 1000,
                    seq=seq,
                    lat=round(lat, 6),
                    lon=round(lon, 6),
                    okrug=spec.okrug,
                    hdop=0.9,
                )
            )
    return out


def store_write(influx_url: str, lines: list[str], *, store_pid: int | None = None
                ) -> dict[str, Any]:  # fmt: skip
    """Lines per second posted by the plain adapter into a fresh database, checked after;
    `cpu`: the store's and the adapter's (the consumer: this process) CPU per line."""
    database = f"limit_{uuid.uuid4().hex[:10]}"
    store = InfluxStore(InfluxConfig(url=influx_url, database=database, batch_size=BATCH,
                                     gzip=False))  # fmt: skip
    store.create_database()
    meter = Meter(store_pid=store_pid)
    try:
        meter.start()
        started = time.monotonic()
        store.write_lines(lines)
        elapsed = time.monotonic() - started
        meter.stop()
        meter.used["consumer"] = meter.used.pop("bench")  # the adapter is the bench process
        stored = count(influx_url, database)
    finally:
        store.drop_database()
        store.close()
    return {
        "lines": len(lines),
        "stored": stored,
        "seconds": round(elapsed, 3),
        "rate": len(lines) / elapsed if stored == len(lines) else 0.0,
        "cpu": meter.report(len(lines)),
    }


def encoded_lines(spec: rawpub.RawLoad) -> list[str]:
    return [reading_line(r) for r in readings(spec)]

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
from jaylym.models import PositionReading
from jaylym.services import Mosquitto, find_binary, wait_until
from jaylym.settings import InfluxConfig, parse_mqtt_url
from jaylym.store.influx import InfluxStore
from jaylym.store.schema import reading_line

BATCH = 5000
TELEMETRY = "pasture/v1/+/+/+/telemetry"


def relay(broker: Mosquitto, spec: rawpub.RawLoad, timeout: float = 300) -> dict[str, Any]:
    """Messages per second from the first publish until a bare QoS 1 subscriber got them all."""
    cfg = parse_mqtt_url(broker.url())
    client_id = f"bench-bare-{uuid.uuid4().hex[:6]}"
    password = cfg.password.get_secret_value() if cfg.password else ""
    argv = [find_binary("mosquitto_sub"), "-h", cfg.host, "-p", str(cfg.port),
            "-u", cfg.username or "", "-P", password, "-i", client_id,
            "-q", "1", "-t", TELEMETRY, "-C", str(spec.messages)]  # fmt: skip
    sub = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The broker logs each connection; the SUBSCRIBE follows within milliseconds.
        wait_until(lambda: client_id in broker.log_path.read_text(errors="replace"),
                   timeout=15, what="bare subscriber connected")  # fmt: skip
        time.sleep(0.3)
        started = time.monotonic()
        load = rawpub.run(spec)
        sub.wait(timeout=timeout)
        elapsed = time.monotonic() - started
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
    }


def readings(spec: rawpub.RawLoad) -> list[PositionReading]:
    """The readings the ingest makes of `spec`'s messages (same devices, seq, ts and fix)."""
    per_conn = max(1, spec.messages // spec.connections)
    out = []
    for index in range(spec.connections):
        device = f"{spec.prefix}-{index:05d}"
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


def store_write(influx_url: str, lines: list[str]) -> dict[str, Any]:
    """Lines per second posted by the plain adapter into a fresh database, checked after."""
    database = f"limit_{uuid.uuid4().hex[:10]}"
    store = InfluxStore(InfluxConfig(url=influx_url, database=database, batch_size=BATCH,
                                     gzip=False))  # fmt: skip
    store.create_database()
    try:
        started = time.monotonic()
        store.write_lines(lines)
        elapsed = time.monotonic() - started
        stored = count(influx_url, database)
    finally:
        store.drop_database()
        store.close()
    return {
        "lines": len(lines),
        "stored": stored,
        "seconds": round(elapsed, 3),
        "rate": len(lines) / elapsed if stored == len(lines) else 0.0,
    }


def encoded_lines(spec: rawpub.RawLoad) -> list[str]:
    return [reading_line(r) for r in readings(spec)]

"""The peer under the same burst: the Node-RED flow of bench/node-red/flow.json storing the
same messages into the same InfluxDB, with the same zero-loss check as the ingest."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from bench import rawpub, registry_seed
from bench.common import count, create_db, shortfall, wait_end
from bench.cpu import Meter
from bench.node_red import NodeRed
from jaylym.services import SERVICE_USER, InfluxD, Mosquitto


def burst(
    work: Path, broker: Mosquitto, influx: InfluxD, spec: rawpub.RawLoad, *,
    timeout: float = 300, end: str = "gated",
) -> dict[str, Any]:  # fmt: skip
    """The same burst, the same end detection (`end` as in `common.wait_end`) and the
    same per-party CPU accounting as the ingest's."""
    database = f"nodered_{uuid.uuid4().hex[:10]}"
    create_db(influx.url, database)
    devices = dict.fromkeys(spec.device_ids(), (spec.okrug, registry_seed.HERD))
    red = NodeRed(work / f"node-red-{database}", broker.port, broker.passwords[SERVICE_USER],
                  influx.port, database, devices)  # fmt: skip
    red.workdir.mkdir(parents=True, exist_ok=True)
    red.start()
    try:
        assert red.proc is not None
        store_pid = influx.proc.pid if influx.proc else None
        meter = Meter(broker_pid=broker.proc.pid if broker.proc else None, store_pid=store_pid,
                      consumer_pids=[red.proc.pid])  # fmt: skip
        load = rawpub.run(spec, ready=meter.start)
        started = load["started"]  # the first PUBLISH, after the generator's preparation
        sent = int(load["sent"])
        # Node-RED acknowledges on arrival, so a loss shows as a count that stops short: the
        # wait ends when it stops moving and the run is reported as lossy, not as a rate.
        # The same wait as the ingest's (bench.common.wait_for_load).
        done = wait_end(influx.url, database, spec, timeout=timeout, end=end, store_pid=store_pid)
        meter.stop()
        meter.add("generator", load["cpu_s"])
        elapsed = done.reached - started
        time.sleep(0.5)
        stored = count(influx.url, database)
        short = shortfall(influx.url, database, spec) if stored != sent else {}
    finally:
        red.stop()
    return {
        "sent": sent,
        "stored": stored,
        "lost": sent - stored,
        "zero_loss": stored == sent,
        "shortfall": short,
        "seconds": round(elapsed, 3),
        "rate": sent / elapsed if stored == sent else 0.0,
        "publish_rate": load["publish_rate"],
        "generator_build_s": load["build_seconds"],  # before the clock started
        "cpu": meter.report(sent),
        "end_polls": done.polls,
        "end_poll_store_cpu_ms": done.poll_store_cpu_s * 1000,
        "end_poll_wall_s": done.poll_wall_s,
    }

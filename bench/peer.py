"""The peer under the same burst: the Node-RED flow of bench/node-red/flow.json storing the
same messages into the same InfluxDB, with the same zero-loss check as the ingest."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from bench import rawpub
from bench.common import count, create_db, wait_for_count
from bench.node_red import NodeRed
from jaylym.services import SERVICE_USER, InfluxD, Mosquitto


def burst(
    work: Path, broker: Mosquitto, influx: InfluxD, spec: rawpub.RawLoad, *, timeout: float = 300
) -> dict[str, Any]:
    database = f"nodered_{uuid.uuid4().hex[:10]}"
    create_db(influx.url, database)
    red = NodeRed(work / f"node-red-{database}", broker.port, broker.passwords[SERVICE_USER],
                  influx.port, database)  # fmt: skip
    red.workdir.mkdir(parents=True, exist_ok=True)
    red.start()
    try:
        started = time.monotonic()
        load = rawpub.run(spec)
        sent = int(load["sent"])
        # Node-RED acknowledges on arrival, so a loss shows as a count that stops short:
        # the wait ends at `timeout` and the run is reported as lossy, not as a rate.
        stored, reached = wait_for_count(influx.url, database, sent, timeout=timeout)
        elapsed = reached - started
        time.sleep(0.5)
        stored = count(influx.url, database)
    finally:
        red.stop()
    return {
        "sent": sent,
        "stored": stored,
        "lost": sent - stored,
        "zero_loss": stored == sent,
        "seconds": round(elapsed, 3),
        "rate": sent / elapsed if stored == sent else 0.0,
        "publish_rate": load["publish_rate"],
    }

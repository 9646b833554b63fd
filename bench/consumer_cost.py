"""What the ingest's consumer thread spends per message, without MQTT: the real `Consumer`
over batches of 2000 (the default `JAYLYM_INGEST_BATCH_MAX`) native collar messages (the
burst's payloads), into a real InfluxDB over HTTP (not gzipped, as docker-compose.yml runs
it; JAYLYM_INFLUX_GZIP=true to compare), with the SQL device directory and ledger on a
migrated SQLite registry.

    python -m bench.consumer_cost                    # CPU seconds per message (noisy when shared)
    python -m bench.consumer_cost --instructions     # instructions per message (callgrind)

On a machine shared with other work, CPU time swings by tens of percent from run to run.
`--instructions` counts instructions instead (`valgrind --tool=callgrind`), the same for the
same code and input whatever else runs: it runs the loop twice under callgrind, with
`--small` and `--large` messages, and divides the difference of the totals by the difference
of the counts, so start-up and imports cancel out. InfluxDB runs outside valgrind.
`--collector default` leaves Python's cyclic collector as it starts, to compare with the
ingest's settings (`ingest.service.tune_collector`, the default here).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pydantic import TypeAdapter

from jaylym.settings import IngestConfig

ROOT = Path(__file__).resolve().parent.parent
DEVICES = 50
BATCH: int = IngestConfig.model_fields["batch_max"].default


def loop(influx_url: str, messages: int, size: int = BATCH, collector: str = "tuned") -> float:
    """CPU seconds per message of `Consumer._handle` over batches of `size`, after one
    warm-up batch and, with `collector="tuned"`, the collector set up as `IngestService`
    does after start-up (`ingest.service.tune_collector`)."""
    from bench import rawpub, registry_seed
    from bench.ingest_load import AS_DEPLOYED
    from ingest.consumer import Consumer
    from ingest.directory import CachedDirectory
    from ingest.ledger_sql import SqlLedger
    from ingest.metrics import IngestMetrics
    from ingest.mqtt import Inbound
    from ingest.spool import Spool
    from jaylym.registry.db import make_engine
    from jaylym.registry.directory import SqlDeviceDirectory
    from jaylym.settings import InfluxConfig, IngestConfig
    from jaylym.store.influx import InfluxStore

    work = Path(tempfile.mkdtemp(prefix="jaylym-cost-"))
    url = f"sqlite:///{work}/registry.sqlite3"
    registry_seed.seed(url, "bench", [f"bench-{i:05d}" for i in range(DEVICES)])
    engine = make_engine(url)
    gzip = TypeAdapter(bool).validate_python(
        os.environ.get("JAYLYM_INFLUX_GZIP", AS_DEPLOYED["JAYLYM_INFLUX_GZIP"])
    )  # read as the settings read it
    database = f"cost_{uuid.uuid4().hex[:8]}"
    store = InfluxStore(InfluxConfig(url=influx_url, database=database, gzip=gzip))
    store.create_database()
    start = int(time.time()) - 86_400
    batch = [
        Inbound(f"pasture/v1/bench/collar/bench-{n % DEVICES:05d}/telemetry",
                rawpub.reading(n // DEVICES, start + n // DEVICES, n % DEVICES),
                n % 65535 + 1, 1, 1, time.time())
        for n in range(size + messages)
    ]  # fmt: skip
    cfg = IngestConfig(spool_dir=work / "spool")
    consumer = Consumer(cfg, store, CachedDirectory(SqlDeviceDirectory(engine), 60),
                        SqlLedger(engine), Spool(cfg.spool_dir / "cost", 10**8),
                        IngestMetrics())  # fmt: skip
    consumer._handle(batch[:size])  # warm-up: caches, the HTTP connection, the ledger rows
    if collector == "tuned":
        from ingest.service import tune_collector

        tune_collector()
    started = time.process_time()
    for k in range(size, len(batch), size):
        consumer._handle(batch[k : k + size])
    return (time.process_time() - started) / messages


def _callgrind_total(influx_url: str, messages: int, size: int, collector: str) -> int:
    out = Path(tempfile.mkdtemp(prefix="jaylym-cg-")) / "callgrind.out"
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         "-m", "bench.consumer_cost", "--influx", influx_url, "--messages", str(messages),
         "--batch", str(size), "--collector", collector],
        cwd=ROOT, check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError("callgrind wrote no total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--influx", help="an InfluxDB to use (default: start one)")
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--small", type=int, default=4_000)
    parser.add_argument("--large", type=int, default=12_000)
    parser.add_argument("--batch", type=int, default=BATCH, help="messages per batch")
    parser.add_argument("--collector", choices=["tuned", "default"], default="tuned",
                        help="the cyclic collector as the ingest sets it, or Python's")  # fmt: skip
    args = parser.parse_args()
    if args.influx and not args.instructions:
        per = loop(args.influx, args.messages, args.batch, args.collector)
        print(f"{per * 1e6:.2f} us of CPU per message")
        return
    from jaylym.services import InfluxD

    with tempfile.TemporaryDirectory(prefix="jaylym-cost-influx-") as tmp:
        influx = InfluxD(Path(tmp))
        influx.start()
        try:
            if args.instructions:
                small = _callgrind_total(influx.url, args.small, args.batch, args.collector)
                large = _callgrind_total(influx.url, args.large, args.batch, args.collector)
                per = (large - small) / (args.large - args.small)
                print(f"{per:,.0f} instructions per message (callgrind, {args.small} and "
                      f"{args.large} messages differenced)")  # fmt: skip
            else:
                per = loop(influx.url, args.messages, args.batch, args.collector)
                print(f"{per * 1e6:.2f} us of CPU per message")
        finally:
            influx.stop()


if __name__ == "__main__":
    os.environ.setdefault("JAYLYM_LOG_LEVEL", "warning")
    main()

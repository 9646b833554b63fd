"""The ingest process the benchmark runs: `python -m bench.ingest_worker --devices N --okrug X`.

It is `jaylym ingest` (the same `IngestService`: transport, consumer, spool, metrics) with
the settings from JAYLYM_* variables. Until the registry's device directory is wired into
`ingest.wiring.build_service` (it raises NotImplementedError before that), the devices come
from a static directory of the bench's naming scheme and the ledger lives in memory; the
result records which of the two ran (`ingest_mode`).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading


def devices(count: int, okrug: str, prefix: str) -> list[str]:
    from bench.probe import PROBE_DEVICE

    return [f"{prefix}-{i:05d}" for i in range(count)] + [PROBE_DEVICE]


def mode() -> str:
    """Which ingest `main` will run, decided the same way (for the report)."""
    return os.environ.get("JAYLYM_BENCH_INGEST_MODE", "static directory, memory ledger")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--okrug", required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args()

    from ingest.directory import StaticDirectory
    from ingest.ledger import MemoryLedger
    from ingest.service import IngestService
    from jaylym.logs import configure_logging
    from jaylym.models import DeviceInfo
    from jaylym.settings import get_settings
    from jaylym.store import open_store

    settings = get_settings()
    configure_logging(settings)
    directory = StaticDirectory(
        DeviceInfo(d, "collar", args.okrug) for d in devices(args.devices, args.okrug, args.prefix)
    )
    service = IngestService(
        settings.ingest(), settings.mqtt(), open_store(settings), directory, MemoryLedger()
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.run(stop)


if __name__ == "__main__":
    main()

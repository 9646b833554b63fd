"""The ingest under load: 1 or N processes (shared subscription), a burst for throughput,
a paced load with a latency probe, peak RSS and CPU of each process.

Every run gets its own database and its own client ids on a broker of its own (the caller
starts one per run): a persistent session left behind by an earlier run would make the
broker queue every later message for it and slow the runs that follow.

`jaylym bench` uses `burst` and `paced`; on its own it runs one of each on servers of its
own, for trying a setting (it replaces the former bench/ingest_e2e.py):

    .venv/bin/python -m bench.ingest_load --messages 50000 --processes 1 --rate 1000
    .venv/bin/python -m bench.ingest_load --protocol 5 --batch-max 1000
    .venv/bin/python -m bench.ingest_load --static   # no registry: static devices, memory ledger
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from bench import rawpub, registry_seed
from bench.common import count, create_db, shortfall, wait_end, wait_for_load
from bench.cpu import Meter, process_cpu
from bench.probe import PROBE_DEVICE, Probe, percentile
from jaylym.services import LocalServer, Mosquitto, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
INGEST_MODE = "jaylym ingest (SQLite registry: SQL device directory and ledger)"
# The ingest's settings as docker-compose.yml runs it on a district server, InfluxDB on the
# same host (tests/bench/test_bench_harness.py checks the two agree); the caller's
# environment may still override them, for an A/B.
AS_DEPLOYED = {"JAYLYM_INFLUX_GZIP": "false"}


@dataclass
class IngestProcs:
    procs: list[subprocess.Popen[bytes]]
    ports: list[int]
    logs: list[Path]
    peak_rss_mib: list[float] = field(default_factory=list)

    def pids(self) -> list[int]:
        """The ingest processes' ids: a profiled one runs as the child of py-spy."""
        return [_child_pid(p.pid) or p.pid if self.profiled else p.pid for p in self.procs]

    profiled: bool = False

    counters: dict[str, float] = field(default_factory=dict)
    cpu_s: list[float] = field(default_factory=list)

    def sample_counters(self) -> None:
        """The ingest's own counts (received, stored, duplicates, rejected), summed over the
        processes and labels, from their Prometheus endpoints: what the ingest says it did."""
        wanted = ("messages_received_total", "readings_stored_total", "duplicates_total",
                  "rejected_total", "readings_spooled_total")  # fmt: skip
        for port in self.ports:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                base = name.split("{")[0].removeprefix("jaylym_ingest_")
                if base in wanted:
                    self.counters[base] = self.counters.get(base, 0.0) + float(value)

    def sample_rss(self) -> None:
        """VmHWM is the kernel's own high-water mark: read it just before the process ends."""
        self.peak_rss_mib = [_vm_hwm_mib(pid) for pid in self.pids()]

    def sample_cpu(self) -> None:
        """CPU seconds (user + system) each process has used so far: on a machine shared with
        other work, CPU per message is the figure that other work disturbs least."""
        self.cpu_s = [process_cpu(pid) for pid in self.pids()]

    def stop(self) -> None:
        for pid in self.pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _child_pid(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _vm_hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def ingest(
    work: Path,
    broker: Mosquitto,
    influx_url: str,
    database: str,
    spec: rawpub.RawLoad,
    processes: int,
    *,
    profile_to: Path | None = None,
    env_extra: dict[str, str] | None = None,
    static: bool = False,
) -> Iterator[IngestProcs]:
    """`processes` processes of `jaylym ingest` subscribed (as one shared group when more
    than one) over a fresh registry that knows the run's devices; healthy on return; stopped
    (SIGTERM, then bounded waits) on exit."""
    run = uuid.uuid4().hex[:6]
    registry = f"sqlite:///{_fresh_registry(work, spec, run)}"
    procs, ports, logs = [], [], []
    for index in range(processes):
        port = free_port()
        env = {
            **AS_DEPLOYED,
            **os.environ,
            "JAYLYM_MQTT_URL": broker.url(), "JAYLYM_TSDB": "influx",
            "JAYLYM_INFLUX_URL": influx_url, "JAYLYM_INFLUX_DB": database,
            "JAYLYM_DATABASE_URL": registry,
            "JAYLYM_DATA_DIR": str(work / f"ingest-{run}-{index}"),
            "JAYLYM_INGEST_CLIENT_ID": f"bench-ingest-{run}-{index}",
            "JAYLYM_INGEST_METRICS_PORT": str(port),
            "JAYLYM_LOG_LEVEL": os.environ.get("JAYLYM_BENCH_INGEST_LOG_LEVEL", "warning"),
        }  # fmt: skip
        env.update(env_extra or {})
        if processes > 1:
            env["JAYLYM_INGEST_SHARED_GROUP"] = f"bench-{run}"
        argv = [sys.executable, "-m", "jaylym", "ingest"]
        if static:
            argv = [sys.executable, "-m", "bench.ingest_load", "--worker",
                    f"--devices={spec.connections}"]  # fmt: skip
        if profile_to is not None and index == 0:
            argv = _py_spy(profile_to) + argv
        log = work / f"ingest-{run}-{index}.log"
        with log.open("wb") as out:
            procs.append(subprocess.Popen(argv, env=env, stdout=out, stderr=out, cwd=ROOT))
        ports.append(port)
        logs.append(log)
    handle = IngestProcs(procs, ports, logs, profiled=profile_to is not None)
    try:
        for proc, port, log in zip(procs, ports, logs, strict=True):
            wait_until(lambda p=proc, q=port: _healthy(q) or p.poll() is not None,  # type: ignore[misc]
                       timeout=60, what="ingest healthy", step=0.1)  # fmt: skip
            if proc.poll() is not None:
                raise RuntimeError(f"ingest exited: {log.read_text(errors='replace')[-2000:]}")
        yield handle
    finally:
        handle.sample_counters()
        handle.sample_rss()
        handle.stop()


def _fresh_registry(work: Path, spec: rawpub.RawLoad, run: str) -> Path:
    """A copy of a registry seeded once per device set: migrating and seeding each time would
    add a second to every ingest start (the quick run starts a dozen)."""
    template = work / f"registry-{spec.okrug}-{spec.prefix}-{spec.connections}.db"
    if not template.exists():
        registry_seed.seed(f"sqlite:///{template}", spec.okrug, [*spec.device_ids(), PROBE_DEVICE])
    path = work / f"registry-{run}.db"
    shutil.copyfile(template, path)
    return path


def _py_spy(out: Path) -> list[str]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    # Raw (collapsed stack) output: plain text the report summarises; --subprocesses is not
    # needed, the worker is one process. --nonblocking: never pause the ingest to sample it.
    return [py_spy, "record", "--format", "raw", "--rate", "200", "--nonblocking",
            "-o", str(out), "--"]  # fmt: skip


def burst(
    work: Path, broker: Mosquitto, influx_url: str, spec: rawpub.RawLoad, processes: int,
    *, timeout: float = 600, profile_to: Path | None = None, store_pid: int | None = None,
    end: str = "gated", **options: Any,
) -> dict[str, Any]:  # fmt: skip
    """Throughput: every device publishes its share at once; rate = messages / (first
    publish -> last reading queryable). Zero loss means exactly `sent` points stored.
    `cpu` is each party's CPU per message over that window (`store_pid`: the InfluxDB);
    `end="full"` waits with the former full-count polling, for comparing the two."""
    database = f"ingest_{uuid.uuid4().hex[:10]}"
    create_db(influx_url, database)
    with ingest(work, broker, influx_url, database, spec, processes,
                profile_to=profile_to, **options) as procs:  # fmt: skip
        meter = Meter(broker_pid=_pid(broker), store_pid=store_pid, consumer_pids=procs.pids())
        procs.sample_cpu()
        idle_cpu = sum(procs.cpu_s)  # start-up, before the burst
        load = rawpub.run(spec, ready=meter.start)
        started = load["started"]  # the first PUBLISH, after the generator's preparation
        sent = int(load["sent"])
        done = wait_end(influx_url, database, spec, timeout=timeout, end=end, store_pid=store_pid)
        meter.stop()
        meter.add("generator", load["cpu_s"])
        elapsed = done.reached - started
        procs.sample_cpu()
        burst_cpu = sum(procs.cpu_s) - idle_cpu
        time.sleep(0.5)  # a second look: more than `sent` would mean doubles
        stored = count(influx_url, database)
        short = shortfall(influx_url, database, spec) if stored != sent else {}
    return {
        "processes": processes,
        "sent": sent,
        "publisher_acked": int(load["acked"]),
        "stored": stored,
        "lost": sent - stored,
        "zero_loss": stored == sent,
        "shortfall": short,
        "seconds": round(elapsed, 3),
        "rate": sent / elapsed if stored == sent else 0.0,
        "publish_rate": load["publish_rate"],
        "generator_build_s": load["build_seconds"],  # before the clock started
        "cpu_us_per_msg": burst_cpu / sent * 1e6 if sent else float("nan"),
        "cpu": meter.report(sent),
        "end_polls": done.polls,
        "end_poll_store_cpu_ms": done.poll_store_cpu_s * 1000,
        "end_poll_wall_s": done.poll_wall_s,
        "peak_rss_mib": procs.peak_rss_mib,
        "ingest_counters": procs.counters,
    }


def _pid(server: LocalServer | None) -> int | None:
    return server.proc.pid if server is not None and server.proc is not None else None


def paced(
    work: Path, broker: Mosquitto, influx_url: str, spec: rawpub.RawLoad, processes: int,
    *, settle: float = 60, **options: Any,
) -> dict[str, Any]:  # fmt: skip
    """Latency: the load at `spec.rate` for `spec.messages / spec.rate` seconds while a probe
    device publishes 20 readings a second; p50/p99 of publish -> queryable of the probes."""
    database = f"ingest_{uuid.uuid4().hex[:10]}"
    create_db(influx_url, database)
    with ingest(work, broker, influx_url, database, spec, processes, **options) as procs:
        probe = Probe(broker.url(), influx_url, database, spec.okrug)
        probe.start()
        load = rawpub.run(spec)
        probe.stop()
        sent = int(load["sent"]) + len(probe.sent)
        stored = wait_for_load(influx_url, database, spec, timeout=settle,
                               extra=len(probe.sent)).stored  # fmt: skip
    lat = probe.latencies_ms()
    short = ({} if stored == sent else
             shortfall(influx_url, database, spec, {PROBE_DEVICE: len(probe.sent)}))  # fmt: skip
    return {
        "ingest_counters": procs.counters,
        "shortfall": short,
        "processes": processes,
        "target_rate": spec.rate,
        "achieved_publish_rate": load["publish_rate"],
        "sent": sent,
        "stored": stored,
        "zero_loss": stored == sent,
        "probes": len(probe.sent),
        "probes_seen": len(lat),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else float("nan"),
        "peak_rss_mib": procs.peak_rss_mib,
    }


def static_worker(devices: int) -> None:
    """The ingest without a registry (`--static`): the same service, its devices from the
    bench's naming scheme and its ledger in memory. Isolates the ingest's own cost from the
    registry's (device look-ups, the SQLite ledger commit per batch)."""
    import threading

    from ingest.directory import StaticDirectory
    from ingest.ledger import MemoryLedger
    from ingest.service import IngestService
    from jaylym.logs import configure_logging
    from jaylym.models import DeviceInfo
    from jaylym.settings import get_settings
    from jaylym.store import open_store

    settings = get_settings()
    configure_logging(settings)
    ids = [f"bench-{i:05d}" for i in range(devices)] + [PROBE_DEVICE]
    directory = StaticDirectory(DeviceInfo(d, "collar", "bench") for d in ids)
    service = IngestService(settings.ingest(), settings.mqtt(), open_store(settings), directory,
                            MemoryLedger())  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.run(stop)


def after(spec: rawpub.RawLoad, rate: float, seconds: float) -> rawpub.RawLoad:
    """A paced load that follows `spec` on the same devices: seq and time go on from the
    burst's last reading. `seq_offset` counts per device: offsetting by the burst's total
    (100 000) once put every paced reading 28 h later, in the future, and the ingest
    rightly rejected them all."""
    return replace(spec, messages=int(rate * seconds), processes=1, rate=rate,
                   seq_offset=spec.seq_offset + spec.per_connection)  # fmt: skip


def main() -> None:
    import tempfile

    from bench.common import servers

    parser = argparse.ArgumentParser(description="One ingest burst (and a paced run), printed "
                                     "as JSON, on servers of its own.")  # fmt: skip
    parser.add_argument("--devices", type=int, default=50, help="connections, one per device")
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--processes", type=int, default=1, help="ingest processes (shared group)")
    parser.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    parser.add_argument("--batch-max", type=int, default=None)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="then a paced run at this rate, msgs/s (0: none)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=20.0, help="paced run length")
    parser.add_argument("--static", action="store_true",
                        help="no registry: static devices, memory ledger")  # fmt: skip
    parser.add_argument("--end", choices=["gated", "full"], default="gated",
                        help="end of the burst: cheap gates then the full count, or the full "
                        "count every 0.1 s (the former way, for comparison)")  # fmt: skip
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        static_worker(args.devices)
        return
    env = {"JAYLYM_INGEST_MQTT_PROTOCOL": args.protocol}
    if args.batch_max:
        env["JAYLYM_INGEST_BATCH_MAX"] = str(args.batch_max)
    options = {"env_extra": env, "static": args.static}
    out: dict[str, Any] = {"mode": "static directory, memory ledger" if args.static else
                           INGEST_MODE, "protocol": args.protocol}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="jaylym-bench-") as tmp:
        work = Path(tmp)
        with servers(work) as srv:
            spec = rawpub.RawLoad(
                url=srv.mosquitto.url(), messages=args.messages, connections=args.devices,
                start_ts=int(time.time()) - 86_400,
            )  # fmt: skip
            out["burst"] = burst(work, srv.mosquitto, srv.influxd.url, spec, args.processes,
                                 store_pid=_pid(srv.influxd), end=args.end,
                                 **options)  # fmt: skip
            if args.rate:
                paced_spec = after(spec, args.rate, args.seconds)
                out["paced"] = paced(work, srv.mosquitto, srv.influxd.url, paced_spec,
                                     args.processes, **options)  # fmt: skip
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()

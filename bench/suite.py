"""`jaylym bench [--quick]`: every measure of issue 11 in one run, as same-run ratios.

One InfluxDB serves the whole run (a fresh database per measurement); every MQTT measurement
gets a Mosquitto of its own, with the project's configuration, so no persistent session or
queue of one run weighs on the next. Repetitions are interleaved (relay, store, ingest ×1,
ingest ×2, Node-RED, then again) so that each contender sees the same machine; each headline
is the median of the repetitions and every goal is a ratio of two medians of this run.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from bench import rawpub
from bench.common import median
from jaylym.services import InfluxD, Mosquitto

RESULTS = Path(__file__).resolve().parent / "results"
MEASURES = ("limit", "ingest", "latency", "node-red", "alerts", "api", "profile")


@dataclass(frozen=True)
class Plan:
    """The sizes of one run."""

    name: str
    messages: int  # per burst, spread over `connections` devices
    connections: int
    generator_processes: int
    reps: int
    latency_seconds: float
    latency_reps: int
    alert_herds: int  # 10 collars each
    alert_grid: tuple[int, int]  # pastures: columns × rows
    api_collars: int
    api_clients: int
    api_seconds: float  # closed-loop load per repetition
    # reading -> delivery request: collars, pastures, engine loop period s, targets per run
    alert_latency: tuple[int, int, float, int] = (2000, 200, 3.0, 15)


FULL = Plan("full", 100_000, 50, 2, 3, 20.0, 3, 1000, (25, 20), 2000, 50, 10.0)
# Under 2 minutes on a busy 2-core machine: one latency run per configuration.
QUICK = Plan("quick", 4_000, 10, 2, 3, 2.0, 1, 100, (10, 5), 200, 10, 2.0, (200, 20, 1.0, 3))
# Background fixes stored per second during the alert latency runs: half the run's median
# ingest rate (the "half the maximum ingest load"), at most this many (the writer is
# a thread of the measuring process), or this many when the ingest was not measured.
ALERT_LATENCY_MAX_RATE = 1000


@dataclass
class Run:
    plan: Plan
    work: Path
    influx: InfluxD
    start_ts: int
    runs: dict[str, list[dict[str, Any]]]
    errors: dict[str, str]
    skipped: dict[str, str]
    profile_text: str = ""  # the profile in full, written beside latest.md

    def spec(self, broker: Mosquitto, **change: Any) -> rawpub.RawLoad:
        spec = rawpub.RawLoad(
            url=broker.url(), messages=self.plan.messages, connections=self.plan.connections,
            processes=self.plan.generator_processes, okrug="bench", prefix="bench",
            start_ts=self.start_ts,
        )  # fmt: skip
        return replace(spec, **change)

    @contextmanager
    def broker(self) -> Iterator[Mosquitto]:
        """A fresh Mosquitto for one measurement (the project's configuration)."""
        broker = Mosquitto(Path(tempfile.mkdtemp(prefix="mosq-", dir=self.work)))
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()

    def record(self, key: str, action: Callable[[], dict[str, Any]]) -> None:
        """Run one measurement; a failure is recorded for the report, never fatal to the run."""
        if key in self.errors:
            return
        started = time.monotonic()
        try:
            row = action()
        except Exception as exc:
            self.errors[key] = f"{type(exc).__name__}: {exc}"
            (self.work / f"error-{key}.txt").write_text(traceback.format_exc())
            print(f"  {key}: FAILED {self.errors[key]}", flush=True)
            return
        row["wall_s"] = round(time.monotonic() - started, 2)
        self.runs.setdefault(key, []).append(row)
        print(f"  {key}: {_brief(row)}", flush=True)


def _brief(row: dict[str, Any]) -> str:
    keys = ("rate", "zero_loss", "cpu_us_per_msg", "p50_ms", "p99_ms", "total_s",
            "peak_rss_mib", "wall_s")  # fmt: skip
    return ", ".join(f"{k}={_fmt(row[k])}" for k in keys if k in row)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def run(plan: Plan, skip: frozenset[str] = frozenset(), out_dir: Path = RESULTS) -> dict[str, Any]:
    """Run every measure not in `skip`; write `latest.json` and `latest.md` in `out_dir`."""
    import structlog

    from bench import report

    # The engine and the stores log at info per call: the bench measures them, not the terminal.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for name in ("httpx", "httpcore"):  # one line per poll of the store otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    # SIGTERM (a CI timeout, `timeout`) unwinds like Ctrl-C, so every server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="jaylym-bench-") as tmp:
        work = Path(tmp)
        influx = InfluxD(work / "influxd")
        influx.start()
        try:
            state = Run(plan, work, influx, int(time.time()) - 86_400, {}, {}, {})
            _measure_all(state, skip)
            profile = _profile(state) if "profile" not in skip else None
        finally:
            influx.stop()
    result = report.assemble(state, profile, started, load_before, skip)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(result, indent=2, default=_json) + "\n")
    (out_dir / "latest.md").write_text(report.markdown(result))
    if state.profile_text:
        (out_dir / "ingest-profile.txt").write_text(state.profile_text)
    readme = out_dir.parent / "README.md"
    if plan.name == "full" and out_dir == RESULTS and readme.exists():
        # A quick run, or one written elsewhere, leaves the recorded full run alone.
        readme.write_text(report.with_readme_block(readme.read_text(), result))
    print(report.markdown(result))
    return result


def _json(value: Any) -> Any:
    if isinstance(value, float):
        return None
    return str(value)


def _measure_all(state: Run, skip: frozenset[str]) -> None:
    from bench import alerts_eval, ingest_load, peer, physical

    plan, influx = state.plan, state.influx
    lines: list[str] = []
    if "limit" not in skip:
        lines = physical.encoded_lines(rawpub.RawLoad(
            url="mqtt://x", messages=plan.messages, connections=plan.connections,
            okrug="bench", prefix="bench", start_ts=state.start_ts,
        ))  # fmt: skip
    peer_ready = "node-red" not in skip and _node_red_available(state)
    store_pid = influx.proc.pid if influx.proc is not None else None  # for CPU accounting
    for rep in range(plan.reps):
        print(f"repetition {rep + 1}/{plan.reps}", flush=True)
        if "limit" not in skip:
            with state.broker() as broker:
                state.record("relay", partial(physical.relay, broker, state.spec(broker),
                                              store_pid=store_pid))  # fmt: skip
            state.record("store_write", partial(physical.store_write, influx.url, lines,
                                                store_pid=store_pid))  # fmt: skip
        if "ingest" not in skip:
            for procs in (1, 2):
                with state.broker() as broker:
                    burst = partial(ingest_load.burst, state.work, broker, influx.url,
                                    state.spec(broker), procs,
                                    store_pid=store_pid)  # fmt: skip
                    state.record(f"ingest_{procs}", burst)
                if "latency" not in skip and rep < plan.latency_reps:
                    _latency(state, procs, rep)
        if peer_ready:
            with state.broker() as broker:
                state.record("node_red", partial(peer.burst, state.work, broker, influx,
                                                 state.spec(broker)))  # fmt: skip
    if "alerts" not in skip:
        world = alerts_eval.build(plan.alert_herds, *plan.alert_grid)
        for _ in range(max(plan.reps, 3)):
            state.record("alerts", partial(alerts_eval.evaluate, world))
        _alert_latency(state)
    if "api" not in skip:
        _api(state)


def _latency(state: Run, procs: int, rep: int) -> None:
    """At half the throughput of the burst just measured (same configuration, same
    repetition), for a fixed duration. Half of a median measured minutes earlier was above
    what the machine could take when it had got busier since: a backlog built up and the p99
    measured the backlog, not the ingest (7 s in one run). Paced from the burst just before,
    the load is half of what the machine took a moment ago."""
    from bench import ingest_load

    bursts = state.runs.get(f"ingest_{procs}", [])
    last = bursts[-1] if bursts else None
    if last is None or not last["zero_loss"] or len(bursts) < rep + 1:
        print(f"latency {rep + 1}: skipped, no zero-loss burst with {procs} proc just before",
              flush=True)  # fmt: skip
        if not state.runs.get(f"latency_{procs}"):  # reported only if no repetition measured
            state.skipped[f"latency_{procs}"] = f"no zero-loss burst with {procs} proc"
        return
    state.skipped.pop(f"latency_{procs}", None)
    rate = 0.5 * last["rate"]
    messages = int(rate * state.plan.latency_seconds)
    print(f"latency {rep + 1}/{state.plan.latency_reps}, {procs} proc at {rate:,.0f}/s "
          f"(half the burst just before)", flush=True)  # fmt: skip
    with state.broker() as broker:
        spec = state.spec(broker, messages=messages, rate=rate, processes=1)
        paced = partial(ingest_load.paced, state.work, broker, state.influx.url, spec,
                        procs)  # fmt: skip

        def with_source() -> dict[str, Any]:
            return {**paced(), "paced_from_burst_rate": last["rate"]}

        state.record(f"latency_{procs}", with_source)


def _alert_latency(state: Run) -> None:
    """Reading crossing a threshold -> the delivery request at a local webhook receiver,
    with the engine loop of `jaylym serve` and a steady background of stored fixes."""
    from bench import alerts_latency

    rates = [r["rate"] for r in state.runs.get("ingest_1", []) if r["zero_loss"]]
    rate = min(int(0.5 * median(rates)), ALERT_LATENCY_MAX_RATE) if rates else 100
    collars, pastures, interval, targets = state.plan.alert_latency
    for _ in range(state.plan.latency_reps):
        state.record("alert_latency", partial(alerts_latency.measure, collars, pastures,
                                              interval, rate, targets))  # fmt: skip


def _api(state: Run) -> None:
    """GET /api/v1/positions/latest, then GET /pastures/grazing, under concurrent clients."""
    from bench import api_load

    plan = state.plan
    if not api_load.wrk_available():
        # The asyncio client would measure its own queueing (api_load.py), so no fallback.
        state.skipped["api"] = api_load.WRK_MISSING
        print(f"api: skipped, {api_load.WRK_MISSING}", flush=True)
        return
    for rep in range(plan.latency_reps):  # one in the quick run: each starts `jaylym serve`
        state.record("api", partial(api_load.measure, state.work, state.influx, plan.api_collars,
                                    plan.api_clients, plan.api_seconds))  # fmt: skip
        rows = state.runs.get("api", [])
        if len(rows) == rep + 1 and rows[-1]["errors"]:
            # Failed answers fail the measure (its figures are kept for the record); its own
            # key, so the later repetitions still run.
            failed = {k: v for k, v in rows[-1].items()
                      if k.endswith(("_errors", "_failed_by_status"))
                      and (any(v.values()) if isinstance(v, dict) else v)}  # fmt: skip
            state.errors.setdefault("api_answers", f"repetition {rep + 1}: {failed}")


def _node_red_available(state: Run) -> bool:
    from bench import node_red

    try:
        node_red.install()
    except Exception as exc:  # npm missing or offline: the peer is reported as not run
        state.skipped["node_red"] = f"Node-RED could not be installed: {exc}"
        return False
    return True


def _profile(state: Run) -> dict[str, Any] | None:
    """One more burst into one ingest process under py-spy; where its time goes."""
    from bench import ingest_load, profiling

    if not profiling.available():
        state.skipped["profile"] = "py-spy is not installed (pip install -e '.[dev]')"
        return None
    out = state.work / "ingest.pyspy.txt"
    with state.broker() as broker:
        burst = partial(ingest_load.burst, state.work, broker, state.influx.url,
                        state.spec(broker), 1, profile_to=out)  # fmt: skip
        state.record("profile_run", burst)
    if not out.exists():
        state.errors.setdefault("profile", "py-spy wrote no profile")
        return None
    raw = out.read_text()
    state.profile_text = profiling.text(raw)
    return profiling.summarise(raw)


def plan_for(quick: bool, reps: int | None) -> Plan:
    plan = QUICK if quick else FULL
    return replace(plan, reps=reps, latency_reps=reps) if reps else plan


def describe(plan: Plan) -> dict[str, Any]:
    return {**asdict(plan), "python": platform.python_version(), "cpus": os.cpu_count()}

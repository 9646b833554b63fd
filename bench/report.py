"""The run's figures, the goals of issue 11 as ratios of this run's medians, and the table."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import time
from typing import TYPE_CHECKING, Any

from bench.common import median
from jaylym.docblock import replace_block

if TYPE_CHECKING:
    from bench.suite import Run

# Measures the suite cannot take yet, with the reason (none at present).
NOT_YET: dict[str, str] = {}


def _med(state: Run, key: str, field: str = "rate", zero_loss: bool = True) -> float:
    rows = state.runs.get(key, [])
    if zero_loss:
        rows = [r for r in rows if r.get("zero_loss", True)]
    return median([float(r[field]) for r in rows if r.get(field) is not None])


def _worst(state: Run, key: str, field: str) -> float:
    values = [max(r[field]) for r in state.runs.get(key, []) if r.get(field)]
    return max(values) if values else float("nan")


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else float("nan")


def figures(state: Run) -> dict[str, float]:
    relay = _med(state, "relay")
    store = _med(state, "store_write")
    f = {
        "relay_rate": relay,
        "store_write_rate": store,
        "physical_limit": min(relay, store) if not math.isnan(relay + store) else float("nan"),
        "generator_publish_rate": _med(state, "relay", "publish_rate"),
        "ingest_1_rate": _med(state, "ingest_1"),
        "ingest_2_rate": _med(state, "ingest_2"),
        "ingest_1_publish_rate": _med(state, "ingest_1", "publish_rate", zero_loss=False),
        "ingest_2_publish_rate": _med(state, "ingest_2", "publish_rate", zero_loss=False),
        "ingest_1_peak_rss_mib": _worst(state, "ingest_1", "peak_rss_mib"),
        "ingest_2_peak_rss_mib": _worst(state, "ingest_2", "peak_rss_mib"),
        "ingest_1_cpu_us_per_msg": _med(state, "ingest_1", "cpu_us_per_msg"),
        "ingest_2_cpu_us_per_msg": _med(state, "ingest_2", "cpu_us_per_msg"),
        "latency_1_p50_ms": _med(state, "latency_1", "p50_ms", zero_loss=False),
        "latency_1_p99_ms": _med(state, "latency_1", "p99_ms", zero_loss=False),
        "latency_2_p50_ms": _med(state, "latency_2", "p50_ms", zero_loss=False),
        "latency_2_p99_ms": _med(state, "latency_2", "p99_ms", zero_loss=False),
        "latency_1_peak_rss_mib": _worst(state, "latency_1", "peak_rss_mib"),
        "latency_2_peak_rss_mib": _worst(state, "latency_2", "peak_rss_mib"),
        "node_red_rate": _med(state, "node_red"),
        "alerts_total_s": _med(state, "alerts", "total_s"),
        "alerts_grazing_s": _med(state, "alerts", "grazing_s"),
        "alerts_engine_s": _med(state, "alerts", "engine_s"),
        "api_latest_p50_ms": _med(state, "api", "latest_p50_ms"),
        "api_latest_p99_ms": _med(state, "api", "latest_p99_ms"),
        "api_latest_rps": _med(state, "api", "requests_per_s"),
        "api_grazing_p50_ms": _med(state, "api", "grazing_p50_ms"),
        "api_grazing_p99_ms": _med(state, "api", "grazing_p99_ms"),
        "api_grazing_rps": _med(state, "api", "grazing_requests_per_s"),
        "api_latest_server_cpu_ms": _med(state, "api", "latest_server_cpu_ms"),
        "api_grazing_server_cpu_ms": _med(state, "api", "grazing_server_cpu_ms"),
        "api_latest_client_cpu_ms": _med(state, "api", "latest_client_cpu_ms"),
        "api_grazing_client_cpu_ms": _med(state, "api", "grazing_client_cpu_ms"),
        "alert_latency_p50_s": _med(state, "alert_latency", "latency_p50_s", zero_loss=False),
        "alert_latency_p99_s": _med(state, "alert_latency", "latency_p99_s", zero_loss=False),
        "alert_latency_background_rate": _med(
            state, "alert_latency", "background_fixes_per_s", zero_loss=False
        ),
    }
    best = max(f["ingest_1_rate"], f["ingest_2_rate"])
    f["ingest_best_rate"] = best
    f["ingest_vs_limit"] = _ratio(best, f["physical_limit"])
    f["ingest_1_vs_limit"] = _ratio(f["ingest_1_rate"], f["physical_limit"])
    f["ingest_vs_node_red"] = _ratio(best, f["node_red_rate"])
    f["two_vs_one"] = _ratio(f["ingest_2_rate"], f["ingest_1_rate"])
    f["generator_vs_ingest"] = _ratio(f["generator_publish_rate"], best)
    f.update(cpu_figures(state, f))
    f["ingest_peak_rss_mib"] = max(
        (v for k, v in f.items() if k.endswith("peak_rss_mib") and not math.isnan(v)),
        default=float("nan"),
    )
    f["latency_p99_ms"] = max(
        (v for v in (f["latency_1_p99_ms"], f["latency_2_p99_ms"]) if not math.isnan(v)),
        default=float("nan"),
    )
    return f


# Runs whose CPU is accounted party by party (bench/cpu.py), in the table's order.
CPU_RUNS = {"relay": "Broker relay (bare subscriber)", "store_write": "Store write (adapter)",
            "ingest_1": "Ingest, 1 process", "ingest_2": "Ingest, 2 processes",
            "node_red": "Node-RED flow"}  # fmt: skip
CPU_COLUMNS = ("generator_us", "broker_us", "store_us", "consumer_us", "bench_us", "total_us",
               "other_us", "cores_busy", "machine_cores_busy")  # fmt: skip


def _med_cpu(state: Run, key: str, column: str) -> float:
    rows = [r for r in state.runs.get(key, []) if r.get("zero_loss", True) and r.get("cpu")]
    return median([float(r["cpu"][column]) for r in rows if r["cpu"].get(column) is not None])


def cpu_figures(state: Run, f: dict[str, float]) -> dict[str, float]:
    """CPU per message of each party (medians), and what the cores allow a consumer: with
    the generator, the broker and the store taking what they took, `ceiling` is the rate a
    consumer that cost nothing would reach (cores x 1e6 / their µs per message); `budget_*`
    is the consumer CPU per message the goal's rate would leave (negative: out of reach on
    this machine whatever the consumer does)."""
    from bench.cpu import cores

    n = cores()
    out: dict[str, float] = {"cores": float(n)}
    for key in CPU_RUNS:
        for column in CPU_COLUMNS:
            out[f"cpu_{key}_{column}"] = _med_cpu(state, key, column)
    for key in ("ingest_1", "ingest_2", "node_red"):  # what detecting the end cost the store
        out[f"end_store_cpu_ms_{key}"] = _med(state, key, "end_poll_store_cpu_ms")
    targets = {"limit": 0.75 * f["physical_limit"], "node_red": 1.5 * f["node_red_rate"]}
    for key in ("ingest_1", "ingest_2"):
        others = sum(out[f"cpu_{key}_{p}_us"] for p in ("generator", "broker", "store"))
        ceiling = n * 1e6 / others if others and not math.isnan(others) else float("nan")
        out[f"{key}_others_us"] = others
        out[f"{key}_ceiling"] = ceiling
        out[f"{key}_ceiling_vs_limit"] = _ratio(ceiling, f["physical_limit"])
        out[f"{key}_ceiling_vs_node_red"] = _ratio(ceiling, f["node_red_rate"])
        total = out[f"cpu_{key}_total_us"]
        out[f"{key}_cores_allow"] = n * 1e6 / total if total and not math.isnan(total) else (
            float("nan"))  # fmt: skip
        for goal, rate in targets.items():
            budget = n * 1e6 / rate - others - out[f"cpu_{key}_bench_us"] if rate else math.nan
            out[f"{key}_budget_{goal}_us"] = budget
    # Two processes can add only what one leaves of the cores: at the 2-process run's own CPU
    # per message (every party), the most the machine allows over the 1-process rate.
    out["two_over_one_ceiling"] = _ratio(out["ingest_2_cores_allow"], f["ingest_1_rate"])
    return out


# (key, label, goal text, predicate on the figure)
GOALS: list[tuple[str, str, str, Any]] = [
    ("ingest_vs_limit", "Ingest throughput with zero loss / physical limit", ">= 0.75x",
     lambda v: v >= 0.75),
    ("ingest_vs_node_red", "Ingest / Node-RED", ">= 1.5x", lambda v: v >= 1.5),
    ("two_vs_one", "2 ingest processes / 1", ">= 1.3x", lambda v: v >= 1.3),
    ("latency_p99_ms", "Publish-to-queryable p99 at half load (worse of 1 and 2 procs)",
     "< 2000 ms",
     lambda v: v < 2000),
    ("alerts_total_s", "Alert evaluation, 10k collars x 500 pastures, 1 h window", "< 1 s",
     lambda v: v < 1),
    ("api_latest_p99_ms", "API p99 at 50 clients, GET /positions/latest", "< 200 ms",
     lambda v: v < 200),
    ("api_grazing_p99_ms", "API p99 at 50 clients, GET /pastures/grazing", "< 200 ms",
     lambda v: v < 200),
    ("ingest_peak_rss_mib", "Ingest peak RSS (any process, any run)", "< 250 MB",
     lambda v: v < 250),
    ("generator_vs_ingest", "Load generator to bare subscriber / ingest (not the bottleneck)",
     "> 1x", lambda v: v > 1),
]  # fmt: skip


def goals(f: dict[str, float], alerts: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, label, goal, ok in GOALS:
        value = f.get(key, float("nan"))
        if key == "alerts_total_s" and alerts:  # the quick run's scene is smaller
            label = (f"Alert evaluation, {alerts['collars']:,} collars x "
                     f"{alerts['pastures']} pastures, 1 h window")  # fmt: skip
        rows.append({"figure": key, "measure": label, "goal": goal, "value": value,
                     "met": None if math.isnan(value) else bool(ok(value))})  # fmt: skip
    return rows


def assemble(
    state: Run,
    profile: dict[str, Any] | None,
    started: float,
    load_before: tuple[float, float, float],
    skip: frozenset[str],
) -> dict[str, Any]:
    from bench.ingest_load import INGEST_MODE
    from bench.suite import describe

    f = figures(state)
    not_measured = dict(state.skipped)
    not_measured.update(NOT_YET)
    for key in skip:
        not_measured.setdefault(key, "skipped on the command line")
    result: dict[str, Any] = _clean({
        "meta": {
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "duration_s": round(time.time() - started, 1),
            "plan": describe(state.plan),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "ingest_mode": INGEST_MODE,
            "versions": _versions(),
        },
        "figures": f,
        "goals": goals(f, (state.runs.get("alerts") or [{}])[0]),
        "runs": state.runs,
        "errors": state.errors,
        "not_measured": not_measured,
        "profile": profile,
    })  # fmt: skip
    return result


def _clean(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 3)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name, argv in {
        "mosquitto": ["mosquitto", "-h"],
        "influxd": ["influxd", "version"],
        "node": ["node", "--version"],
    }.items():
        try:
            text = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
            out[name] = text.splitlines()[0].strip() if text else "?"
        except (OSError, subprocess.SubprocessError):
            out[name] = "absent"
    return out


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and abs(value) < 100:
        return f"{value:.2f}{unit}"
    return f"{value:,.0f}{unit}"


def _conditions(meta: dict[str, Any]) -> str:
    plan = meta["plan"]
    return (
        f"Measured {meta['measured_at']} in {meta['duration_s']} s on {meta['machine']}; load "
        f"average {meta['load_average_before']} before, {meta['load_average_after']} after. "
        f"{plan['messages']:,} one-reading QoS 1 messages per burst from {plan['connections']} "
        f"connections in {plan['generator_processes']} generator processes; median of "
        f"{plan['reps']} repetitions, interleaved (latency: {plan['latency_reps']} of "
        f"{plan['latency_seconds']:.0f} s). Ingest: {meta['ingest_mode']}."
    )


def _goals_table(result: dict[str, Any]) -> list[str]:
    out = ["| Measure | Goal | This run | Met |", "|---|---|---:|---|"]
    for g in result["goals"]:
        unit = "x" if g["goal"].startswith((">", ">=")) and "MB" not in g["goal"] else ""
        met = {True: "yes", False: "**no**", None: "not measured"}[g["met"]]
        out.append(f"| {g['measure']} | {g['goal']} | {_num(g['value'], unit)} | {met} |")
    return out


README_START = "<!-- suite:start -->"
README_END = "<!-- suite:end -->"


def readme_block(result: dict[str, Any]) -> str:
    """The recorded full run as bench/README.md shows it, between `README_START` and
    `README_END`: written by the run itself, so the README and results/latest.json cannot
    tell different stories (tests/bench/test_bench_report.py)."""
    lines = [
        "### Full run recorded here",
        "",
        _conditions(result["meta"]),
        "",
        "#### Goals (ratios of this run's medians)",
        "",
        *_goals_table(result),
        "",
        "Every figure, the CPU per message by party, the ceiling a free consumer would reach and "
        "the",
        "profile: [results/latest.md](results/latest.md).",
    ]
    return "\n".join(lines)


def with_readme_block(readme: str, result: dict[str, Any]) -> str:
    """`readme` with the text between the markers replaced by `readme_block(result)`."""
    return replace_block(readme, README_START, README_END, readme_block(result))


def markdown(result: dict[str, Any]) -> str:
    meta, f = result["meta"], result["figures"]
    plan = meta["plan"]
    out = [
        f"# Benchmark results ({plan['name']} run)",
        "",
        _conditions(meta),
        "",
        "## Goals (ratios of this run's medians)",
        "",
        *_goals_table(result),
    ]
    out += [
        "",
        "## Absolute figures (medians; for scale, not goals)",
        "",
        "| Figure | Value |",
        "|---|---:|",
    ]
    labels = {
        "relay_rate": "Broker relay to a bare QoS 1 subscriber, msg/s",
        "store_write_rate": "Store write, plain adapter, 5000-line batches, lines/s",
        "physical_limit": "Physical limit (lower of the two), msg/s",
        "generator_publish_rate": "Generator publish rate (bare subscriber run), msg/s",
        "ingest_1_rate": "Ingest, 1 process, zero loss, msg/s",
        "ingest_2_rate": "Ingest, 2 processes (shared subscription), zero loss, msg/s",
        "ingest_1_publish_rate": "Generator publish rate during the 1-process bursts, msg/s",
        "node_red_rate": "Node-RED flow, zero loss, msg/s",
        "latency_1_p50_ms": "Publish -> queryable p50, 1 process, half load, ms",
        "latency_1_p99_ms": "Publish -> queryable p99, 1 process, half load, ms",
        "latency_2_p50_ms": "Publish -> queryable p50, 2 processes, half load, ms",
        "latency_2_p99_ms": "Publish -> queryable p99, 2 processes, half load, ms",
        "ingest_1_peak_rss_mib": "Peak RSS, 1 process (burst), MiB",
        "ingest_2_peak_rss_mib": "Peak RSS per process, 2 processes (burst), MiB",
        "ingest_1_cpu_us_per_msg": "Ingest CPU per message, 1 process (user + system), us",
        "ingest_2_cpu_us_per_msg": "Ingest CPU per message, 2 processes (sum of both), us",
        "alerts_grazing_s": "Alert evaluation: grazing model part, s",
        "alerts_engine_s": "Alert evaluation: rules and lifecycle part, s",
        "api_latest_p50_ms": "API GET /positions/latest p50 at 50 clients, ms",
        "api_latest_rps": "API GET /positions/latest answers per second at 50 clients",
        "api_grazing_p50_ms": "API GET /pastures/grazing p50 at 50 clients, ms",
        "api_grazing_rps": "API GET /pastures/grazing answers per second at 50 clients",
        "api_latest_server_cpu_ms": "API GET /positions/latest: server CPU per answer, ms",
        "api_grazing_server_cpu_ms": "API GET /pastures/grazing: server CPU per answer, ms",
        "api_latest_client_cpu_ms": (
            "API GET /positions/latest: load generator (wrk) CPU per answer, ms"
        ),
        "api_grazing_client_cpu_ms": (
            "API GET /pastures/grazing: load generator (wrk) CPU per answer, ms"
        ),
        "alert_latency_p50_s": "Alert: threshold-crossing reading -> delivery request p50, s",
        "alert_latency_p99_s": "Alert: threshold-crossing reading -> delivery request p99, s",
        "alert_latency_background_rate": "Alert latency runs: background fixes stored per s",
    }
    for key, label in labels.items():
        out.append(f"| {label} | {_num(f.get(key))} |")
    out += cpu_markdown(f)
    out += ["", "## Runs", "", "| Measure | Repetitions |", "|---|---|"]
    for key, rows in result["runs"].items():
        brief = "; ".join(_run_brief(r) for r in rows)
        out.append(f"| {key} | {brief} |")
    if result["errors"]:
        out += ["", "## Failures", ""]
        out += [f"- `{k}`: {v}" for k, v in result["errors"].items()]
    out += ["", "## Not measured", ""]
    out += [f"- `{k}`: {v}" for k, v in result["not_measured"].items()]
    profile = result.get("profile")
    if profile:
        out += [
            "",
            f"## Where the ingest's time goes (py-spy, {profile['samples']:,} samples of one "
            "process during one burst)",
            "",
            "| Project function (inclusive) | Share | Leaf function (self) | Share |",
            "|---|---:|---|---:|",
        ]
        for a, b in zip(profile["inclusive"], profile["self"], strict=False):
            out.append(f"| `{a['function']}` | {a['share']:.0%} | `{b['function']}` | "
                       f"{b['share']:.0%} |")  # fmt: skip
    return "\n".join(out) + "\n"


def _run_brief(row: dict[str, Any]) -> str:
    parts = []
    for key in ("rate", "cpu_us_per_msg", "p50_ms", "p99_ms", "total_s", "latest_p99_ms",
                "grazing_p99_ms", "latency_p50_s", "latency_p99_s"):  # fmt: skip
        if row.get(key) is not None:
            parts.append(f"{key} {_num(row[key])}")
    if row.get("cpu") and row["cpu"].get("total_us") is not None:
        parts.append(f"CPU {_num(row['cpu']['total_us'])} µs/msg all parties")
    if "zero_loss" in row:
        parts.append("no loss" if row["zero_loss"] else f"LOST {row.get('lost', '?')}")
    return ", ".join(parts)


def cpu_markdown(f: dict[str, Any]) -> list[str]:
    """The CPU table: who used the cores in each run, and what that leaves a consumer."""
    if all(f.get(f"cpu_{key}_total_us") is None for key in CPU_RUNS):
        return []
    cores = int(f["cores"]) if f.get("cores") else "?"
    out = [
        "",
        "## CPU per message by party (µs, user + system, medians)",
        "",
        "Generator: the load generator's worker processes; broker: Mosquitto; store: InfluxDB; "
        "consumer: the bare `mosquitto_sub`, the storage adapter, the ingest processes or "
        "Node-RED; bench: the measuring process (starting the generator, detecting the end). "
        "Cores busy: the parties' CPU over the run's wall time; machine: every CPU busy "
        f"(/proc/stat), of {cores}; other: the machine's CPU per message spent by none "
        "of the parties (other work on the machine). Each cell is the median of its column over "
        "the repetitions (so a total is not always the sum of its row).",
        "",
        "| Run | msg/s | generator | broker | store | consumer | bench | total | other "
        "| cores busy (parties) | cores busy (machine) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rates = {"relay": "relay_rate", "store_write": "store_write_rate",
             "ingest_1": "ingest_1_rate", "ingest_2": "ingest_2_rate",
             "node_red": "node_red_rate"}  # fmt: skip
    for key, label in CPU_RUNS.items():
        if f.get(f"cpu_{key}_total_us") is None:
            continue
        cells = [_num(f.get(f"cpu_{key}_{c}")) for c in CPU_COLUMNS]
        out.append(f"| {label} | {_num(f.get(rates[key]))} | " + " | ".join(cells) + " |")
    ends = {k: f.get(f"end_store_cpu_ms_{k}") for k in ("ingest_1", "ingest_2", "node_red")}
    if any(v is not None for v in ends.values()):
        out += [
            "",
            "Store CPU spent answering the bench's end-of-run polls, ms per run "
            "(cheap gates, then the full count; bench/common.py `wait_for_load`): "
            + ", ".join(f"{CPU_RUNS[k]} {_num(v)}" for k, v in ends.items())
            + ".",
        ]
    if f.get("ingest_1_ceiling") is None and f.get("ingest_2_ceiling") is None:
        return out
    rows = [
        ("Generator + broker + store, µs/msg", "others_us"),
        (f"Ceiling with a free consumer ({cores} cores × 1e6 / that), msg/s", "ceiling"),
        ("Largest ratio reachable: ceiling / physical limit (goal 0.75x)", "ceiling_vs_limit"),
        ("Largest ratio reachable: ceiling / Node-RED (goal 1.5x)", "ceiling_vs_node_red"),
        ("Rate the measured total allows (cores × 1e6 / total µs), msg/s", "cores_allow"),
        ("Consumer CPU a 0.75x-limit rate would leave, µs/msg", "budget_limit_us"),
        ("Consumer CPU a 1.5x-Node-RED rate would leave, µs/msg", "budget_node_red_us"),
    ]
    out += [
        "",
        "What the cores leave the ingest (the same parties' medians; a budget is the consumer "
        "CPU per message a goal's rate would leave once the generator, broker, store and bench "
        "took theirs: below the consumer's measured cost the goal is out of reach at that "
        "cost, negative it is out of reach for any consumer on this machine):",
        "",
        "| | Ingest, 1 process | Ingest, 2 processes |",
        "|---|---:|---:|",
    ]
    for label, suffix in rows:
        unit = "x" if "ratio" in label else ""
        out.append(f"| {label} | {_num(f.get(f'ingest_1_{suffix}'), unit)} | "
                   f"{_num(f.get(f'ingest_2_{suffix}'), unit)} |")  # fmt: skip
    out.append(f"| Consumer's measured CPU, µs/msg | {_num(f.get('cpu_ingest_1_consumer_us'))} | "
               f"{_num(f.get('cpu_ingest_2_consumer_us'))} |")  # fmt: skip
    if f.get("two_over_one_ceiling") is not None:
        out += [
            "",
            "Two processes over one (goal 1.3x): at the 2-process run's CPU per message, every "
            f"party's, the {cores} cores allow at most "
            f"{_num(f.get('ingest_2_cores_allow'))} msg/s, "
            f"**{_num(f.get('two_over_one_ceiling'), 'x')}** the 1-process rate. A second "
            "process can only add what the first leaves of the cores; where the broker and the "
            "store share them, 1.3x needs a first process held to 1/1.3 of what the machine "
            'allows (bench/README.md, "Two processes over one").',
        ]
    return out

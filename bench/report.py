"""The run's figures, the goals of issue 11 as ratios of this run's medians, and the table."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import time
from typing import TYPE_CHECKING, Any

from bench.common import median

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
    f["ingest_peak_rss_mib"] = max(
        (v for k, v in f.items() if k.endswith("peak_rss_mib") and not math.isnan(v)),
        default=float("nan"),
    )
    f["latency_p99_ms"] = max(
        (v for v in (f["latency_1_p99_ms"], f["latency_2_p99_ms"]) if not math.isnan(v)),
        default=float("nan"),
    )
    return f


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


def markdown(result: dict[str, Any]) -> str:
    meta, f = result["meta"], result["figures"]
    plan = meta["plan"]
    out = [
        f"# Benchmark results ({plan['name']} run)",
        "",
        f"Measured {meta['measured_at']} in {meta['duration_s']} s on {meta['machine']}; load "
        f"average {meta['load_average_before']} before, {meta['load_average_after']} after. "
        f"{plan['messages']:,} one-reading QoS 1 messages per burst from {plan['connections']} "
        f"connections in {plan['generator_processes']} generator processes; median of "
        f"{plan['reps']} repetitions, interleaved (latency: {plan['latency_reps']} of "
        f"{plan['latency_seconds']:.0f} s). Ingest: {meta['ingest_mode']}.",
        "",
        "## Goals (ratios of this run's medians)",
        "",
        "| Measure | Goal | This run | Met |",
        "|---|---|---:|---|",
    ]
    for g in result["goals"]:
        unit = "x" if g["goal"].startswith((">", ">=")) and "MB" not in g["goal"] else ""
        met = {True: "yes", False: "**no**", None: "not measured"}[g["met"]]
        out.append(f"| {g['measure']} | {g['goal']} | {_num(g['value'], unit)} | {met} |")
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
        "api_latest_client_cpu_ms": "API GET /positions/latest: load generator CPU per answer, ms",
        "api_grazing_client_cpu_ms": "API GET /pastures/grazing: load generator CPU per answer, ms",
        "alert_latency_p50_s": "Alert: threshold-crossing reading -> delivery request p50, s",
        "alert_latency_p99_s": "Alert: threshold-crossing reading -> delivery request p99, s",
        "alert_latency_background_rate": "Alert latency runs: background fixes stored per s",
    }
    for key, label in labels.items():
        out.append(f"| {label} | {_num(f.get(key))} |")
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
    if "zero_loss" in row:
        parts.append("no loss" if row["zero_loss"] else f"LOST {row.get('lost', '?')}")
    return ", ".join(parts)

"""`jaylym bench --quick` end to end: the harness runs against real servers and reports every
measure. No timing is asserted (speed lives in bench/results, as same-run ratios); what is
checked is that each measure ran, that its correctness checks held (every ingest run stored
exactly what was published), and that the report says what it could not measure."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.profiling import summarise
from tests.support import unavailable

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.mqtt, pytest.mark.influx, pytest.mark.slow]


def test_quick_run_reports_every_measure(tmp_path: Path) -> None:
    for binary in ("mosquitto", "mosquitto_sub", "influxd", "wrk"):
        if not (shutil.which(binary) or Path("/usr/sbin", binary).exists()):
            unavailable(binary)
    out = tmp_path / "results"
    # One repetition and no Node-RED (npm would need the registry): the harness, not figures.
    argv = [sys.executable, "-m", "jaylym", "bench", "--quick", "--reps", "1",
            "--skip", "node-red", "--out", str(out)]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    result = json.loads((out / "latest.json").read_text())
    assert result["errors"] == {}
    runs = result["runs"]
    for key in ("relay", "store_write", "ingest_1", "ingest_2", "latency_1", "latency_2",
                "alerts", "alert_latency", "api", "profile_run"):  # fmt: skip
        assert runs.get(key), f"{key} did not run"
    for key in ("ingest_1", "ingest_2", "latency_1", "latency_2"):
        for row in runs[key]:
            assert row["zero_loss"], (key, row)
            assert row["stored"] == row["sent"]
    assert all(r["received_all"] for r in runs["relay"])
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in runs["api"])
    assert all(r["grazing_requests"] > 0 for r in runs["api"])
    # wrk's answers were counted and its own CPU measured (the headline's load generator)
    for row in runs["api"]:
        assert row["client"].startswith("wrk"), row["client"]
        for name in ("latest", "grazing"):
            assert row[f"{name}_gzipped"] == row[f"{name}_requests"]  # as a browser asks
            assert not any(row[f"{name}_socket_errors"].values()), row
            assert row[f"{name}_client_cpu_ms"] >= 0
    # Every threshold-crossing reading reached the webhook receiver.
    assert all(r["zero_loss"] and r["latency_p50_s"] > 0 for r in runs["alert_latency"])
    assert [len(r["peak_rss_mib"]) for r in runs["ingest_2"]] == [2]
    figures = result["figures"]
    assert figures["physical_limit"] == min(figures["relay_rate"], figures["store_write_rate"])
    goals = {g["figure"]: g for g in result["goals"]}
    assert goals["ingest_vs_node_red"]["met"] is None  # skipped, so not measured, not failed
    assert goals["two_vs_one"]["met"] in (True, False)
    assert "node-red" in result["not_measured"]
    assert set(result["not_measured"]) == {"node-red"}
    assert result["profile"]["samples"] > 0
    # Every party's CPU was accounted in every run that has one (each may round to 0 at
    # 4 000 messages: /proc counts 10 ms ticks); the end was decided by a full count.
    burst_parties = ("generator", "broker", "store", "consumer", "bench")
    for key, parties in {"relay": ("generator", "broker", "consumer"),
                         "store_write": ("store", "consumer"),
                         "ingest_1": burst_parties, "ingest_2": burst_parties}.items():  # fmt: skip
        for row in runs[key]:
            assert all(row["cpu"][f"{p}_us"] >= 0 for p in parties), (key, row["cpu"])
            assert row["cpu"]["total_us"] > 0, (key, row["cpu"])
    assert all(r["end_polls"]["full"] >= 1 for r in runs["ingest_1"] + runs["ingest_2"])
    assert figures["ingest_2_ceiling"] > 0

    table = (out / "latest.md").read_text()
    assert "| Ingest throughput with zero loss / physical limit | >= 0.75x |" in table
    assert "## Not measured" in table
    assert "## CPU per message by party" in table
    assert "Ceiling with a free consumer" in table


def test_profile_summary_leaves_out_imports_and_ranks_project_code() -> None:
    raw = "\n".join([
        "<module> (ingest/service.py:3);_find_and_load (<frozen importlib._bootstrap>:1) 50",
        "run (/src/ingest/consumer.py:10);_handle (/src/ingest/consumer.py:20);"
        "loads (/usr/lib/python3.11/json/__init__.py:346) 30",
        "run (/src/ingest/consumer.py:10);_commit (/src/ingest/consumer.py:40) 10",
    ])  # fmt: skip
    summary = summarise(raw)
    assert summary["samples"] == 40
    assert summary["startup_samples_excluded"] == 50
    inclusive = {row["function"]: row["share"] for row in summary["inclusive"]}
    assert inclusive["run (ingest/consumer.py)"] == 1.0
    assert inclusive["_handle (ingest/consumer.py)"] == 0.75
    assert "loads (json/__init__.py)" not in inclusive  # not project code
    assert summary["self"][0] == {"function": "loads (json/__init__.py)", "share": 0.75}


def test_the_bench_runs_the_ingest_as_compose_does() -> None:
    """The ingest settings the bench sets are the ones docker-compose.yml deploys."""
    import yaml

    from bench.ingest_load import AS_DEPLOYED

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    deployed = {key: str(value).lower() for key, value in compose["x-jaylym-env"].items()}
    assert AS_DEPLOYED, "nothing to compare"
    for key, value in AS_DEPLOYED.items():
        assert deployed.get(key) == value, key

"""`jaylym bench [--quick]`: the benchmarks of bench/ against real local servers.

The benchmark code lives in the source checkout's `bench/` (never installed with the
package: it starts servers, installs Node-RED with npm and runs for minutes), so this
command puts the checkout on the path first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[2]


def bench(
    quick: bool = typer.Option(
        False, "--quick", help="A small version (under 2 minutes) that keeps the harness working."
    ),
    reps: int | None = typer.Option(
        None, "--reps", min=1, help="Repetitions per measure (default 3; the median is reported)."
    ),
    skip: list[str] = typer.Option(
        [],
        "--skip",
        help="Leave a measure out: limit, ingest, latency, node-red, alerts, api, profile.",
    ),
    out: Path = typer.Option(
        ROOT / "bench" / "results", "--out", help="Where latest.json and latest.md are written."
    ),
) -> None:
    """Throughput, latency and memory of the ingest against the physical limit, Node-RED,
    the alert engine and the API, as ratios measured in one run."""
    if not (ROOT / "bench" / "suite.py").exists():
        raise typer.BadParameter("jaylym bench runs from a source checkout (bench/ is missing)")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.suite import MEASURES, plan_for, run

    unknown = set(skip) - set(MEASURES)
    if unknown:
        raise typer.BadParameter(f"unknown measure(s): {', '.join(sorted(unknown))}")
    run(plan_for(quick, reps), frozenset(skip), out)

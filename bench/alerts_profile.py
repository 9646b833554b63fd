"""Where one alert evaluation's time goes: the district scene of bench/alerts_eval.py (10 000
collars x 500 pastures, one-hour window), evaluated a few times, then once under cProfile.

    .venv/bin/python -m bench.alerts_profile [--repeat 3] > bench/results/alerts-profile.txt

cProfile rather than py-spy: the evaluation runs in this process, and per-function call
counts show which work is per collar (10 000 calls) and which is per district (1 call).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import statistics

import structlog

from bench import alerts_eval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    world = alerts_eval.build()
    rows = [alerts_eval.evaluate(world) for _ in range(args.repeat)]
    print(f"# Alert evaluation profile: {world['collars']:,} collars x {world['pasture_count']} "
          f"pastures, {world['fix_count']:,} fixes; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")  # fmt: skip
    for key in ("grazing_s", "engine_s", "total_s"):
        runs = ", ".join(f"{r[key]:.3f}" for r in rows)
        print(f"{key}: median {statistics.median(r[key] for r in rows):.3f} (runs {runs})")
    print(f"conditions: {rows[-1]['conditions']}")
    profiler = cProfile.Profile()
    profiler.runcall(alerts_eval.evaluate, world)
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order)
        stats.print_stats(args.top)
        print(f"\n## By {order} time (one evaluation under cProfile, which slows it)\n")
        print(text.getvalue().split("\n\n", 1)[-1].strip())


if __name__ == "__main__":
    main()

"""Benchmark: the grazing model over 10 000 collars × 500 pastures for a one-hour window.

Goal (issue 6): one evaluation in under one second on the project machine. Run:

    .venv/bin/python bench/grazing_model.py [--repeat 5] [--interval-s 900] [--profile]

The scene: 500 irregular 64-vertex pastures on a 25 × 20 grid near Sogety, with gaps between
them; 1 000 herds of 10 collars, each herd drifting around its own pasture with some animals
straying outside; one fix per collar per `--interval-s` over [start − 2 h, end), which is what
the caller fetches (the model's look-back is the 2 h cap on a fix's hold); 50 soil stations with
14 days of hourly readings. Timed: `GrazingModel.evaluate` on those inputs (the model is built
once, as the API does at start-up); the build is timed separately. Reports the median.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import statistics
import time

import numpy as np
from shapely import Polygon

from api.grazing import GrazingModel, Herd, Pasture, SoilStation
from jaylym.models import PositionReading, SoilReading

LON0, LAT0, CELL = 78.0, 43.5, 0.02
COLS, ROWS = 25, 20
N_HERDS, COLLARS_PER_HERD = 1000, 10
T_END = 1_780_000_000_000
HOUR = 3_600_000


def pastures(rng: np.random.Generator) -> list[Pasture]:
    out = []
    angles = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    for i in range(COLS * ROWS):
        cx = LON0 + (i % COLS + 0.5) * CELL
        cy = LAT0 + (i // COLS + 0.5) * CELL
        radius = CELL * 0.42 * (1 + 0.08 * np.sin(3 * angles + rng.uniform(0, 6)))
        ring = np.column_stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])
        out.append(
            Pasture.from_geometry(
                f"p{i:03d}",
                "sogety",
                Polygon(ring),
                productivity_kg_dm_ha=1200.0,
                season="summer",
            )
        )
    return out


def herds_and_fixes(
    rng: np.random.Generator, interval_s: int
) -> tuple[list[Herd], dict[str, list[PositionReading]]]:
    herds, fixes = [], {}
    start = T_END - HOUR - 2 * HOUR
    n_fix = 3 * HOUR // (interval_s * 1000)
    for h in range(N_HERDS):
        home = h % (COLS * ROWS)
        hx = LON0 + (home % COLS + 0.5) * CELL
        hy = LAT0 + (home // COLS + 0.5) * CELL
        collars = tuple(f"c{h:04d}-{k}" for k in range(COLLARS_PER_HERD))
        herds.append(Herd(f"h{h:04d}", {"cattle": 30, "sheep": 100}, collars))
        for collar in collars:
            # a random walk around the herd's pasture; wide enough that some fixes stray out
            steps = rng.normal(0, CELL * 0.04, size=(n_fix, 2)).cumsum(axis=0)
            xy = np.array([hx, hy]) + rng.normal(0, CELL * 0.15, size=2) + steps
            jitter = rng.integers(0, interval_s * 1000 // 4, size=n_fix)
            fixes[collar] = [
                PositionReading(
                    device_id=collar,
                    ts_ms=int(start + j * interval_s * 1000 + jitter[j]),
                    seq=j,
                    lat=float(xy[j, 1]),
                    lon=float(xy[j, 0]),
                )
                for j in range(n_fix)
            ]
    return herds, fixes


def stations_and_soil(
    rng: np.random.Generator,
) -> tuple[list[SoilStation], dict[str, list[SoilReading]]]:
    stations, soil = [], {}
    for s in range(50):
        dev = f"soil-{s:02d}"
        stations.append(
            SoilStation(
                dev,
                float(LON0 + rng.uniform(0, COLS * CELL)),
                float(LAT0 + rng.uniform(0, ROWS * CELL)),
            )
        )
        soil[dev] = [
            SoilReading(dev, T_END - k * HOUR, 0, 10, float(rng.uniform(10, 30)))
            for k in range(1, 14 * 24 + 1)
        ]
    return stations, soil


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--interval-s", type=int, default=900)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(6)
    ps = pastures(rng)
    herds, fixes = herds_and_fixes(rng, args.interval_s)
    stations, soil = stations_and_soil(rng)
    n_fixes = sum(len(v) for v in fixes.values())
    print(
        f"{len(ps)} pastures, {len(herds)} herds, {len(fixes)} collars, {n_fixes} fixes "
        f"(every {args.interval_s} s over 3 h), {len(stations)} soil stations"
    )

    builds = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        model = GrazingModel(ps, herds, stations)
        builds.append(time.perf_counter() - t)

    def run() -> None:
        result = model.evaluate(fixes, T_END - HOUR, T_END, soil=soil)
        assert len(result.pastures) == len(ps)

    runs, cpu = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        run()
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)

    result = model.evaluate(fixes, T_END - HOUR, T_END, soil=soil)
    grazed = sum(1 for p in result.pastures if p.lu_days > 0)
    total_lu = sum(p.current_lu for p in result.pastures)
    print(f"pastures grazed in the hour: {grazed}; LU inside pastures now: {total_lu:.0f}")
    print(
        f"build  median {statistics.median(builds):.3f} s  (runs: "
        + ", ".join(f"{b:.3f}" for b in builds)
        + ")"
    )
    print(
        f"evaluate median {statistics.median(runs):.3f} s  (runs: "
        + ", ".join(f"{r:.3f}" for r in runs)
        + ")"
    )
    print(
        f"evaluate CPU median {statistics.median(cpu):.3f} s  (runs: "
        + ", ".join(f"{c:.3f}" for c in cpu)
        + ")"
    )
    print(
        f"goal < 1 s: wall median is {statistics.median(runs) / 1.0:.2f} of the budget; "
        f"load average while running: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)


if __name__ == "__main__":
    main()

"""Raw write rate of the InfluxDB adapter against plain `curl --data-binary`, same lines,
same real local influxd, same run.

    .venv/bin/python bench/store_write.py [--lines 100000] [--rounds 3] [--readme]

Each round writes the same readings, each contender into a fresh database, in batches of
the default 5000 lines with `precision=ms`:

- `curl`: the encoded lines, one `curl --data-binary @batch` per batch chained with `--next`
  in one process (one connection, no Python at all);
- `adapter write_lines`: `InfluxStore.write_lines` of the same encoded lines, plain bodies;
- `adapter write (gzip)`: `InfluxStore.write(readings)`, encoding included, gzip on (the
  default);
- `adapter write (plain)`: the same with gzip off.

Contenders run interleaved in every round so they share the machine's conditions; the figure
is the median of the rounds. `--readme` rewrites the block in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jaylym.docblock import replace_block  # noqa: E402
from jaylym.models import PositionReading  # noqa: E402
from jaylym.services import InfluxD, find_binary  # noqa: E402
from jaylym.settings import InfluxConfig  # noqa: E402
from jaylym.store.influx import InfluxStore  # noqa: E402
from jaylym.store.schema import reading_line  # noqa: E402

T0 = 1_780_000_000_000
BATCH = 5000
README = ROOT / "bench" / "README.md"
START, END = "<!-- store_write:start -->", "<!-- store_write:end -->"


def readings(n: int) -> list[PositionReading]:
    """Collar fixes as the ingest writes them: 200 collars, 10 herds, one fix a minute."""
    return [
        PositionReading(
            device_id=f"c-{i % 200:04d}",
            ts_ms=T0 + (i // 200) * 60_000,
            seq=i // 200,
            lat=43.3 + (i % 997) * 1e-5,
            lon=77.4 + (i % 991) * 1e-5,
            okrug="sogety",
            herd_id=f"herd-{i % 10}",
            hdop=0.9 + (i % 7) * 0.1,
            sats=7 + i % 5,
            alt=1500.0 + i % 300,
            bat=3.7 + (i % 50) * 0.01,
            flags=frozenset({"hdop"}) if i % 53 == 0 else frozenset(),
        )
        for i in range(n)
    ]


def store_for(url: str, *, gzip: bool) -> InfluxStore:
    config = InfluxConfig(url=url, database=f"b_{uuid.uuid4().hex[:12]}", batch_size=BATCH,
                          gzip=gzip)  # fmt: skip
    store = InfluxStore(config)
    store.create_database()
    return store


Timing = tuple[float, float]  # wall seconds, client CPU seconds


def timed(action: Callable[[], None]) -> Timing:
    """Wall time, and the CPU time the client spent (this process, or curl as a child)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, start = time.process_time(), time.perf_counter()
    action()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return wall, cpu


def curl_run(url: str, files: list[Path]) -> Timing:
    store = store_for(url, gzip=False)  # only to create and later drop its database
    write_url = f"{url}/write?db={store.config.database}&precision=ms"
    argv = [find_binary("curl"), "-sS", "--fail"]
    for index, path in enumerate(files):
        if index:
            argv.append("--next")
        argv += ["--fail", "-o", "/dev/null", "--data-binary", f"@{path}", write_url]
    elapsed = timed(lambda: subprocess.run(argv, check=True, timeout=600))
    check(store, len(files))
    return elapsed


def check(store: InfluxStore, batches: int) -> None:
    """Every contender must have stored the same number of points."""
    got = store.last_seen()
    assert len(got) == 200, f"{store.config.database}: {len(got)} devices"
    store.drop_database()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--readme", action="store_true", help="rewrite bench/README.md block")
    args = parser.parse_args()

    data = readings(args.lines)
    lines = [reading_line(r) for r in data]
    results: dict[str, list[Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="jaylym-bench-") as tmp:
        files = []
        for index in range(0, len(lines), BATCH):
            path = Path(tmp) / f"batch-{index // BATCH:04d}.lp"
            path.write_text("\n".join(lines[index : index + BATCH]) + "\n")
            files.append(path)
        with InfluxD(Path(tmp) / "influxd") as server:
            url = server.url
            contenders: dict[str, Callable[[], Timing]] = {
                "curl --data-binary": lambda: curl_run(url, files),
                "adapter write_lines (plain)": lambda: adapter(
                    url, False, lambda s: s.write_lines(lines)
                ),
                "adapter write (gzip)": lambda: adapter(url, True, lambda s: s.write(data)),
                "adapter write (plain)": lambda: adapter(url, False, lambda s: s.write(data)),
            }  # fmt: skip
            adapter(url, False, lambda s: s.write(data))  # warm-up: server caches, imports
            for round_no in range(args.rounds):
                for name, run in contenders.items():
                    wall, cpu = run()
                    results.setdefault(name, []).append((wall, cpu))
                    print(
                        f"round {round_no + 1} {name:30s} {args.lines / wall:>10,.0f} lines/s "
                        f"{cpu / args.lines * 1e6:6.1f} us CPU/line"
                    )

    table = render(results, args)
    print()
    print(table)
    if args.readme:
        README.write_text(replace_block(README.read_text(), START, END, table))


def adapter(url: str, gzip: bool, action: Callable[[InfluxStore], None]) -> Timing:
    store = store_for(url, gzip=gzip)
    elapsed = timed(lambda: action(store))
    check(store, 0)
    return elapsed


def render(results: dict[str, list[Timing]], args: argparse.Namespace) -> str:
    curl = results["curl --data-binary"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = [
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())}: {args.lines:,} position lines, "
        f"batches of {BATCH}, {args.rounds} rounds, InfluxDB {server_version()} on loopback, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average at the end {load}.",
        "",
        "| Writer | lines/s (median) | lines/s per round | vs curl, same round (median) "
        "| client CPU µs/line (median) |",
        "|---|---:|---|---:|---:|",
    ]
    for name, timings in results.items():
        rates = [args.lines / wall for wall, _ in timings]
        ratios = [c_wall / wall for (wall, _), (c_wall, _) in zip(timings, curl, strict=True)]
        cpu = statistics.median(c for _, c in timings) / args.lines * 1e6
        rows.append(
            f"| {name} | {statistics.median(rates):,.0f} | "
            f"{', '.join(f'{r:,.0f}' for r in rates)} | {statistics.median(ratios):.2f}x | "
            f"{cpu:.1f} |"
        )
    return "\n".join(rows)


def server_version() -> str:
    try:
        out = subprocess.run([find_binary("influxd"), "version"], capture_output=True,
                             text=True, timeout=10).stdout  # fmt: skip
        return out.split()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    main()

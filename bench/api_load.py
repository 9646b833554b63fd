"""API latency under concurrent clients: `jaylym serve` (one uvicorn process, as deployed)
over a migrated SQLite registry of `collars` collars and `PASTURES` pastures under them and
the real InfluxDB holding their fixes; `clients` connections each send the next request as
soon as the previous answer arrives (a closed loop) for `seconds`; p50/p99 of the request
times, for GET /positions/latest and then GET /pastures/grazing (one page, every pasture).

The load generator is `wrk` (Debian package `wrk`; deploy/bootstrap.sh installs it for the
test job) with `api_wrk.lua`: the bearer token and `Accept-Encoding: gzip`, as a map or
Grafana sends. It is a C event loop spending tens of microseconds of CPU per answer, where
the former asyncio httpx client spent 4-10 ms (httpx, gunzip, counting) on the same 2 cores
as the server, three times the server's own ~2 ms: its own queueing was most of what the
latencies measured. That client stays available (`client="httpx"`, `--client httpx`) for
comparison. Both are measured (`*_client_cpu_ms`: the generator's CPU per answer).

Every answer is checked: with wrk, every status that is not 200, every empty body, every
socket error and timeout is a failed answer (wrk cannot gunzip, so the bodies under load are
not parsed); before and after each load, one answer is fetched with httpx and checked in
full: one feature per collar, one item per pasture. With httpx, every answer is checked
(see `_count`). A run with any failed answer is reported as such (`errors`, `zero_loss`).

The alert loop runs in its own process here (JAYLYM_ALERTS_IN_SERVE=false): in `serve` its
evaluation of 2 000 collars once a minute takes its CPU from these requests' figures, and it
is measured by itself in alerts_eval.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench import registry_seed
from bench.cpu import exited_cpu, process_cpu
from bench.probe import percentile
from jaylym.services import InfluxD, free_port, wait_until

OKRUG = "bench"
PARSE_EVERY = 10
PEPPER = "bench-pepper-0123456789abcdef"
PASTURES = 50  # strips of 0.0004 deg latitude under the collars (one page of the endpoint)
LATEST = "/api/v1/positions/latest"
GRAZING = f"/api/v1/pastures/grazing?limit={PASTURES}"


def _registry(url: str, collars: int) -> str:
    """Migrated registry: one okrug, `collars` collars, a coordinator token."""
    token = registry_seed.seed(url, OKRUG, [_collar(i) for i in range(collars)], pepper=PEPPER,
                               pastures=_pastures())  # fmt: skip
    assert token is not None
    return token


def _pastures() -> list[tuple[str, dict[str, Any], float]]:
    """Strips tiling the collars' fixes (collar i at latitude 43.5 + i x 1e-5)."""
    from shapely import box, geometry

    from api.grazing.geodesy import geodesic_area_ha

    out = []
    for j in range(PASTURES):
        south = 43.4998 + j * 0.0004
        strip = box(78.299, south, 78.301, south + 0.0004)
        out.append((f"api-p-{j:03d}", geometry.mapping(strip), geodesic_area_ha(strip)))
    return out


def _collar(i: int) -> str:
    return f"api-c-{i:05d}"


def _fixes(influx_url: str, database: str, collars: int) -> None:
    """Three recent fixes per collar (the latest is what the endpoint returns)."""
    from jaylym.models import PositionReading
    from jaylym.settings import InfluxConfig
    from jaylym.store.influx import InfluxStore

    now_ms = int(time.time() * 1000)
    store = InfluxStore(InfluxConfig(url=influx_url, database=database))
    store.create_database()
    store.write([
        PositionReading(device_id=_collar(i), ts_ms=now_ms - k * 900_000, seq=100 - k,
                        lat=43.5 + i * 1e-5, lon=78.3 + k * 1e-5, okrug=OKRUG,
                        herd_id=registry_seed.HERD, hdop=0.9, sats=9, bat=3.9)
        for i in range(collars) for k in range(3)
    ])  # fmt: skip
    store.close()


def _count(path: str, answer: httpx.Response, parse: bool) -> int:
    """Features of a FeatureCollection, items of a page. Parsing 2 000 features takes the
    client ~5 ms of the same 2 cores the server runs on, about what the server now spends
    on the request; so the count of features is read from the bytes (compact JSON, a
    collar id cannot contain a quote) and the whole answer parsed only every PARSE_EVERY."""
    if path != LATEST:
        return len(answer.json()["items"])
    if parse:
        return len(answer.json()["features"])
    return answer.content.count(b'{"type":"Feature",')


async def _closed_loop(
    base: str, token: str, path: str, clients: int, seconds: float, expect: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    failures: Counter[int] = Counter()
    transport: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=60) as client:  # fmt: skip
        deadline = time.monotonic() + seconds

        async def one_client() -> None:
            nonlocal errors
            n = 0
            while time.monotonic() < deadline:
                n += 1
                started = time.perf_counter()
                try:
                    answer = await client.get(path)
                except httpx.TransportError as exc:  # a dropped connection is a failed answer
                    errors += 1
                    transport[type(exc).__name__] += 1
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                ok = (answer.status_code == 200
                      and _count(path, answer, n % PARSE_EVERY == 1) == expect)  # fmt: skip
                if ok:
                    latencies.append(elapsed)
                else:
                    errors += 1
                    failures[answer.status_code] += 1

        await asyncio.gather(*(one_client() for _ in range(clients)))
    if failures or transport:  # which answers were wrong, for the run's record
        print(f"  {path}: failed answers by status {dict(failures)}, "
              f"by transport error {dict(transport)}", flush=True)  # fmt: skip
    return sorted(latencies), errors


ENDPOINTS = {"latest": LATEST, "grazing": GRAZING}
CLIENTS = ("wrk", "httpx")
WRK_SCRIPT = Path(__file__).resolve().parent / "api_wrk.lua"
WRK_MISSING = "wrk is not installed (apt-get install wrk; deploy/bootstrap.sh installs it)"


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _check_one(base: str, token: str, path: str, expect: int) -> None:
    """One answer fetched as the load fetches it (gzip accepted) and checked in full."""
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    answer = httpx.get(base + path, headers=headers, timeout=60)
    if answer.status_code != 200:
        raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
    got = _count(path, answer, parse=True)
    if got != expect:
        raise RuntimeError(f"{path} answered {got} features or items, not {expect}")


def _wrk_loop(
    work: Path, base: str, token: str, path: str, clients: int, seconds: float, threads: int
) -> dict[str, Any]:
    """One closed-loop wrk run; its figures (api_wrk.lua's `done`) and its own CPU seconds."""
    argv = ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "60s",
            "-s", str(WRK_SCRIPT), base + path]  # fmt: skip
    out_path = work / f"wrk-{uuid.uuid4().hex[:6]}.out"
    with out_path.open("w") as out:
        proc = subprocess.Popen(argv, env={**os.environ, "JAYLYM_BENCH_TOKEN": token},
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        # read as a zombie, before wait() reaps it (bench/cpu.py); bounded: wrk stops itself
        # after `seconds`, the rest is answers in flight and the script's `done`
        cpu_s = exited_cpu(proc.pid, timeout=seconds + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    text = out_path.read_text(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("JAYLYM_WRK ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {text[-2000:]}")
    figures: dict[str, Any] = json.loads(line.removeprefix("JAYLYM_WRK "))
    figures["cpu_s"] = cpu_s
    return figures


def _wrk_figures(name: str, run: dict[str, Any], server_cpu_s: float) -> dict[str, Any]:
    sockets = sum(run[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    # `not_200` includes wrk's own `status_errors` (>= 400); an empty 200 is a failure too
    failed = run["not_200"] + run["empty"] + sockets
    answers = run["requests"] - run["not_200"] - run["empty"]
    seconds = run["duration_us"] / 1e6
    per_answer = max(answers + failed, 1)
    return {
        f"{name}_requests": answers, f"{name}_errors": failed,
        f"{name}_failed_by_status": run["not_200_by_status"],
        f"{name}_socket_errors": {k: run[k] for k in ("connect_errors", "read_errors",
                                                      "write_errors", "timeouts")},
        f"{name}_gzipped": run["gzipped"],
        f"{name}_seconds": round(seconds, 2),
        f"{name}_requests_per_s": answers / seconds if seconds else float("nan"),
        # wrk's histogram: every request's time, failed ones included (they count as errors)
        f"{name}_p50_ms": run["p50_us"] / 1000, f"{name}_p99_ms": run["p99_us"] / 1000,
        f"{name}_max_ms": run["max_us"] / 1000,
        f"{name}_server_cpu_ms": 1000 * server_cpu_s / per_answer,
        f"{name}_client_cpu_ms": 1000 * run["cpu_s"] / per_answer,
    }  # fmt: skip


def measure(
    work: Path, influx: InfluxD, collars: int, clients: int, seconds: float,
    endpoints: tuple[str, ...] = tuple(ENDPOINTS), *, client: str = "wrk",
    wrk_threads: int = 1, profile_to: Path | None = None,
    server_pythonpath: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One server, each endpoint loaded in turn. `client`: "wrk" (the headline) or "httpx"
    (the former asyncio client, for comparison); `profile_to`: the server runs under py-spy
    (raw collapsed stacks there); `server_pythonpath`: the server's code from elsewhere (an
    A/B against another commit; the bench's own code stays this one)."""
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {CLIENTS}")
    if client == "wrk" and not wrk_available():
        raise RuntimeError(WRK_MISSING)
    run = uuid.uuid4().hex[:6]
    registry = f"sqlite:///{work / f'api-{run}.db'}"
    database = f"api_{run}"
    token = _registry(registry, collars)
    _fixes(influx.url, database, collars)
    port = free_port()
    env = {
        **os.environ, "JAYLYM_DATABASE_URL": registry, "JAYLYM_TSDB": "influx",
        "JAYLYM_INFLUX_URL": influx.url, "JAYLYM_INFLUX_DB": database,
        "JAYLYM_TOKEN_PEPPER": PEPPER, "JAYLYM_LOG_LEVEL": "warning",
        "JAYLYM_DATA_DIR": str(work / f"api-{run}"),
        # The API alone: the alert engine runs as its own process (`jaylym alerts`) and is
        # measured by bench/alerts_eval.py. In `serve` it would take its evaluation's CPU
        # (seconds for 2 000 collars, once a minute) from the requests measured here.
        "JAYLYM_ALERTS_IN_SERVE": "false",
    }  # fmt: skip
    if server_pythonpath:
        env["PYTHONPATH"] = server_pythonpath
    argv = [sys.executable, "-m", "jaylym", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if profile_to is not None:
        from bench.ingest_load import _py_spy

        argv = _py_spy(profile_to) + argv
    log = work / f"api-{run}.log"
    # `python -m` puts its working directory first on sys.path, before PYTHONPATH: for an A/B
    # the server starts in the scratch folder, or it would run whatever code is in the cwd
    cwd = work if server_pythonpath else None
    with log.open("wb") as out:
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=out, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    server_pid = server.pid
    try:
        wait_until(lambda: _answers(base) or server.poll() is not None, timeout=60,
                   what="API answering", step=0.2)  # fmt: skip
        if server.poll() is not None:
            raise RuntimeError(f"jaylym serve exited: {log.read_text(errors='replace')[-2000:]}")
        if profile_to is not None:  # the server is py-spy's child
            from bench.ingest_load import _child_pid

            server_pid = _child_pid(server.pid) or server.pid
        figures: dict[str, Any] = {}
        for name in endpoints:
            path = ENDPOINTS[name]
            expect = collars if path == LATEST else PASTURES
            if client == "wrk":
                _check_one(base, token, path, expect)  # also builds the shared body once
                cpu = process_cpu(server_pid)
                loaded = _wrk_loop(work, base, token, path, clients, seconds, wrk_threads)
                cpu = process_cpu(server_pid) - cpu
                _check_one(base, token, path, expect)
                figures |= _wrk_figures(name, loaded, cpu)
                continue
            warm, errors = asyncio.run(_closed_loop(base, token, path, 1, 0.5, expect))
            if errors or not warm:
                raise RuntimeError(f"{path} did not answer {expect} features or items")
            started, cpu = time.monotonic(), process_cpu(server_pid)
            client_cpu = time.process_time()
            lat, errors = asyncio.run(_closed_loop(base, token, path, clients, seconds, expect))
            elapsed = time.monotonic() - started  # longer than `seconds`: the last answers
            cpu = process_cpu(server_pid) - cpu
            client_cpu = time.process_time() - client_cpu
            figures |= {
                f"{name}_requests": len(lat), f"{name}_errors": errors,
                f"{name}_seconds": round(elapsed, 2),
                f"{name}_requests_per_s": len(lat) / elapsed,
                f"{name}_p50_ms": percentile(lat, 50), f"{name}_p99_ms": percentile(lat, 99),
                # CPU the server spent per answer: what the load costs, whatever else runs
                f"{name}_server_cpu_ms": 1000 * cpu / max(len(lat) + errors, 1),
                # ... and the load generator on the same cores: once it costs more per answer
                # than the server, the latencies are mostly its own queueing
                f"{name}_client_cpu_ms": 1000 * client_cpu / max(len(lat) + errors, 1),
            }  # fmt: skip
    finally:
        _stop(server, server_pid)
    errors = sum(figures[f"{name}_errors"] for name in endpoints)
    return {
        "collars": collars,
        "pastures": PASTURES,
        "clients": clients,
        "client": client if client == "httpx" else f"wrk -t{wrk_threads}",
        "errors": errors,
        "lost": errors,  # failed answers, as the report names what a run lost
        "zero_loss": errors == 0,
        # the keys of the latest-positions load as before, for earlier results' readers
        **{key: figures.get(f"latest_{key}") for key in ("requests", "seconds", "requests_per_s")},
        **figures,
    }


def _stop(server: subprocess.Popen[bytes], server_pid: int) -> None:
    """SIGTERM to the server itself: under py-spy (its parent) py-spy then writes the profile
    as its child exits, where a SIGTERM to py-spy would end it without one."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(server_pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description="GET /positions/latest and /pastures/grazing "
                                     "under closed-loop clients, on an InfluxDB of its own; "
                                     "one JSON line per run.")  # fmt: skip
    parser.add_argument("--collars", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint")
    parser.add_argument("--runs", type=int, default=1, help="one server each, in turn")
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        action="append",
        help="load generator; given twice, runs alternate (default wrk)",
    )
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--endpoint", choices=tuple(ENDPOINTS), action="append")
    parser.add_argument(
        "--server-pythonpath",
        action="append",
        default=None,
        help="the server's code from this folder (e.g. a `git archive` of "
        "another commit); given twice, runs alternate between them",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the server under py-spy; raw stacks to this file",
    )
    args = parser.parse_args()
    clients = args.client or ["wrk"]
    paths = args.server_pythonpath or [None]
    endpoints = tuple(args.endpoint or ENDPOINTS)
    with tempfile.TemporaryDirectory(prefix="jaylym-bench-api-") as tmp:
        work = Path(tmp)
        influx = InfluxD(work / "influxd")
        influx.start()
        try:
            for i in range(args.runs):
                for k, (client, path) in enumerate(_pairs(clients, paths)):
                    profile = args.profile if i == 0 and k == 0 else None
                    row = measure(work, influx, args.collars, args.clients, args.seconds,
                                  endpoints, client=client, wrk_threads=args.wrk_threads,
                                  profile_to=profile, server_pythonpath=path)  # fmt: skip
                    row |= {"run": i, "server_pythonpath": path,
                            "load_average": os.getloadavg()}  # fmt: skip
                    print(json.dumps(row, default=str), flush=True)
        finally:
            influx.stop()


def _pairs(clients: list[str], paths: list[str | None]) -> list[tuple[str, str | None]]:
    """Every client with every server code, in a fixed order repeated each run (interleaved)."""
    return [(c, p) for p in paths for c in clients]


if __name__ == "__main__":
    main()

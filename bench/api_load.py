"""API latency under concurrent clients: `jaylym serve` (one uvicorn process, as deployed)
over a migrated SQLite registry of `collars` collars and `PASTURES` pastures under them and
the real InfluxDB holding their fixes; `clients` asyncio clients each send the next request
as soon as the previous answer arrives (a closed loop) for `seconds`; p50/p99 of the request
times, for GET /positions/latest and then GET /pastures/grazing (one page, every pasture).

Every answer is checked: status 200 and, for /positions/latest, one feature per collar; for
/pastures/grazing, one item per pasture (see `_count` for how the client keeps its own cost
small). A small asyncio httpx client rather than locust: one dependency fewer. The client
shares the 2 cores with the server and is measured too (`*_client_cpu_ms`): since the
server reuses each scope's finished answer (~2 ms of server CPU per answer), the client's
own ~5-7 ms per answer (httpx, gunzip, counting) is most of what the latencies measure.

The alert loop runs in its own process here (JAYLYM_ALERTS_IN_SERVE=false): in `serve` its
evaluation of 2 000 collars once a minute takes its CPU from these requests' figures, and it
is measured by itself in alerts_eval.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench import registry_seed
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


def measure(
    work: Path, influx: InfluxD, collars: int, clients: int, seconds: float,
    endpoints: tuple[str, ...] = tuple(ENDPOINTS),
) -> dict[str, Any]:  # fmt: skip
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
    log = work / f"api-{run}.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jaylym", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=out,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base) or server.poll() is not None, timeout=60,
                   what="API answering", step=0.2)  # fmt: skip
        if server.poll() is not None:
            raise RuntimeError(f"jaylym serve exited: {log.read_text(errors='replace')[-2000:]}")
        figures: dict[str, Any] = {}
        for name in endpoints:
            path = ENDPOINTS[name]
            expect = collars if path == LATEST else PASTURES
            warm, errors = asyncio.run(_closed_loop(base, token, path, 1, 0.5, expect))
            if errors or not warm:
                raise RuntimeError(f"{path} did not answer {expect} features or items")
            started, cpu = time.monotonic(), _cpu_s(server.pid)
            client_cpu = time.process_time()
            lat, errors = asyncio.run(_closed_loop(base, token, path, clients, seconds, expect))
            elapsed = time.monotonic() - started  # longer than `seconds`: the last answers
            cpu = _cpu_s(server.pid) - cpu
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
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    errors = sum(figures[f"{name}_errors"] for name in endpoints)
    return {
        "collars": collars,
        "pastures": PASTURES,
        "clients": clients,
        "errors": errors,
        "lost": errors,  # failed answers, as the report names what a run lost
        "zero_loss": errors == 0,
        # the keys of the latest-positions load as before, for earlier results' readers
        **{key: figures.get(f"latest_{key}") for key in ("requests", "seconds", "requests_per_s")},
        **figures,
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code < 500
    except httpx.HTTPError:
        return False

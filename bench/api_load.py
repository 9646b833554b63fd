"""API latency under concurrent clients: `jaylym serve` (one uvicorn process, as deployed)
over a migrated SQLite registry of `collars` collars and the real InfluxDB holding their
fixes; `clients` asyncio clients each send the next request as soon as the previous answer
arrives (a closed loop) for `seconds`; p50/p99 of the request times.

Every answer is checked: status 200 and, for /positions/latest, one feature per collar. A
small asyncio httpx client rather than locust: one dependency fewer, and at 50 clients the
client's own cost per request (~1 ms) is far below what it measures.
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
PEPPER = "bench-pepper-0123456789abcdef"
LATEST = "/api/v1/positions/latest"


def _registry(url: str, collars: int) -> str:
    """Migrated registry: one okrug, `collars` collars, a coordinator token."""
    token = registry_seed.seed(url, OKRUG, [_collar(i) for i in range(collars)], pepper=PEPPER)
    assert token is not None
    return token


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


async def _closed_loop(
    base: str, token: str, path: str, clients: int, seconds: float, expect: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    failures: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=60) as client:  # fmt: skip
        deadline = time.monotonic() + seconds

        async def one_client() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                answer = await client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                ok = answer.status_code == 200 and len(answer.json()["features"]) == expect
                if ok:
                    latencies.append(elapsed)
                else:
                    errors += 1
                    failures[answer.status_code] += 1

        await asyncio.gather(*(one_client() for _ in range(clients)))
    if failures:  # which answers were wrong, for the run's record
        print(f"  {path}: failed answers by status {dict(failures)}", flush=True)
    return sorted(latencies), errors


def measure(
    work: Path, influx: InfluxD, collars: int, clients: int, seconds: float
) -> dict[str, Any]:
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
        warm, errors = asyncio.run(_closed_loop(base, token, LATEST, 1, 0.5, collars))
        if errors or not warm:
            raise RuntimeError(f"{LATEST} did not answer {collars} features")
        started = time.monotonic()
        lat, errors = asyncio.run(_closed_loop(base, token, LATEST, clients, seconds, collars))
        elapsed = time.monotonic() - started  # longer than `seconds`: the last answers
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    return {
        "collars": collars,
        "clients": clients,
        "requests": len(lat),
        "errors": errors,
        "zero_loss": errors == 0,
        "seconds": round(elapsed, 2),
        "requests_per_s": len(lat) / elapsed,
        "latest_p50_ms": percentile(lat, 50),
        "latest_p99_ms": percentile(lat, 99),
    }


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code < 500
    except httpx.HTTPError:
        return False

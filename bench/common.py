"""What every benchmark needs: real servers on loopback, counting what arrived, medians."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from jaylym.services import InfluxD, Mosquitto

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass
class Servers:
    mosquitto: Mosquitto
    influxd: InfluxD


@contextmanager
def servers(workdir: Path) -> Iterator[Servers]:
    """A real Mosquitto (the project's configuration) and a real InfluxDB, stopped after."""
    broker = Mosquitto(workdir / "mosquitto")
    influx = InfluxD(workdir / "influxd")
    broker.start()
    try:
        influx.start()
        try:
            yield Servers(broker, influx)
        finally:
            influx.stop()
    finally:
        broker.stop()


def create_db(influx_url: str, db: str) -> None:
    httpx.post(f"{influx_url}/query", data={"q": f'CREATE DATABASE "{db}"'}, timeout=10)


def count(influx_url: str, db: str, measurement: str = "position", field: str = "seq") -> int:
    """Points stored (InfluxQL count of one field); 0 when the measurement is absent."""
    # Identifiers cannot be bound as InfluxQL parameters: check them instead.
    if not (IDENT.fullmatch(field) and IDENT.fullmatch(measurement)):
        raise ValueError("measurement and field must be plain identifiers")
    query = f'SELECT count("{field}") FROM "{measurement}"'  # noqa: S608 - checked above
    answer = httpx.get(
        f"{influx_url}/query",
        params={"db": db, "q": query},
        timeout=30,
    ).json()
    series = answer["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def wait_for_count(
    influx_url: str, db: str, expected: int, *, timeout: float, measurement: str = "position"
) -> tuple[int, float]:
    """Poll until `expected` points are queryable; returns (count, monotonic time reached)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = count(influx_url, db, measurement)
        if seen >= expected:
            return seen, time.monotonic()
        time.sleep(0.1)
    return seen, time.monotonic()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")

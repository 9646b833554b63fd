"""What every benchmark needs: real servers on loopback, counting what arrived, medians."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.cpu import process_cpu
from jaylym.services import InfluxD, Mosquitto

if TYPE_CHECKING:
    from bench.rawpub import RawLoad

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
    with httpx.Client(timeout=30) as client:
        return _count(client, influx_url, db, _count_query(measurement, field))


def _count_query(measurement: str, field: str, where: str = "") -> str:
    # Identifiers cannot be bound as InfluxQL parameters: check them instead.
    if not (IDENT.fullmatch(field) and IDENT.fullmatch(measurement)):
        raise ValueError("measurement and field must be plain identifiers")
    return f'SELECT count("{field}") FROM "{measurement}"{where}'  # noqa: S608 - checked above


def _count(
    client: httpx.Client, influx_url: str, db: str, query: str, params: dict[str, Any] | None = None
) -> int:
    request = {"db": db, "q": query}
    if params:
        request["params"] = json.dumps(params)
    answer = client.get(f"{influx_url}/query", params=request).json()
    series = answer["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


@dataclass
class EndOfLoad:
    """When the last reading of a load became queryable, and what the wait cost the store."""

    stored: int  # the full count when the wait ended
    reached: float  # monotonic time the full count was complete (or the wait gave up)
    polls: dict[str, int]  # queries per stage
    stalled: bool = False  # the full count stopped moving short of the load
    # Store CPU and wall time spent in the polls (the store also writes meanwhile: an upper
    # bound of what the polls cost it; with no `store_pid`, NaN)
    poll_store_cpu_s: float = float("nan")
    poll_wall_s: float = 0.0


def wait_for_load(
    influx_url: str, db: str, spec: RawLoad, *, timeout: float, stall_s: float = 15.0,
    extra: int = 0, gated: bool = True, store_pid: int | None = None,
) -> EndOfLoad:  # fmt: skip
    """Wait until every reading of `spec` (and `extra` more) is queryable, cheaply for the
    store it polls while the consumer is still writing into it.

    A full `count` over the measurement costs InfluxDB tens of milliseconds of CPU at 100 000
    points (it reads every series), and polling it every 0.1 s took ~0.7 CPU-s of a 4 s
    burst from the consumer being measured. The generator stamps reading n of every device
    start_ts + seq_offset + n, so the wait goes through cheap gates before the exact one:

    1. the last reading of one device (one series, one timestamp: ~0.3 ms);
    2. the last reading of every device (every series, one timestamp: ~5 ms);
    3. the full count (the only exact test): the end time is when it is complete.

    The gates only decide when to pay for the next query; a consumer that writes out of order
    (two processes of a shared subscription) only costs more full counts. Every 0.1 s, the
    same for every consumer. Bounded by `timeout`; a consumer that lost readings (Node-RED
    acks on arrival) is detected by a full count that stays put for `stall_s`, instead of
    waiting out the timeout. `gated=False` polls the full count only (the former way, kept
    to measure what the gates save).
    """
    expected = spec.sent + extra
    _, last = spec.ts_range()
    last_ns = last * 1_000_000_000  # an int: safe to format into the query
    tail_where = f" WHERE time >= {last_ns}"
    device = spec.device_ids()[-1]
    gates = [
        ("one_device_tail", _count_query("position", "seq", f" WHERE device = $d AND time >= "
                                         f"{last_ns}"), {"d": device}, 1),
        ("every_device_tail", _count_query("position", "seq", tail_where), None,
         spec.connections),
        ("full", _count_query("position", "seq"), None, expected),
    ][0 if gated else 2 :]  # fmt: skip
    polls = {name: 0 for name, *_ in gates}
    cost = [0.0, 0.0]  # store CPU s, wall s, in the polls

    def ask(query: str, params: dict[str, Any] | None = None) -> int:
        cpu, wall = process_cpu(store_pid) if store_pid else float("nan"), time.monotonic()
        seen = _count(client, influx_url, db, query, params)
        cost[0] += (process_cpu(store_pid) if store_pid else float("nan")) - cpu
        cost[1] += time.monotonic() - wall
        return seen

    def done(stored: int, at: float, stalled: bool = False) -> EndOfLoad:
        return EndOfLoad(stored, at, polls, stalled, cost[0], round(cost[1], 3))

    deadline = time.monotonic() + timeout
    stored, progress_at, progress_count = 0, time.monotonic(), -1
    with httpx.Client(timeout=30) as client:
        stage = 0
        while time.monotonic() < deadline:
            name, query, params, wanted = gates[stage]
            seen = ask(query, params)
            polls[name] += 1
            if name == "full":
                stored = seen
                if seen >= wanted:
                    return done(seen, time.monotonic())
            elif seen >= wanted:
                stage += 1
                continue  # the next gate at once: it may already hold
            now = time.monotonic()
            if now - progress_at >= stall_s:  # a rare full count: is anything still arriving?
                if name != "full":
                    stored = ask(gates[-1][1])
                    polls["full"] += 1
                if stored == progress_count:
                    return done(stored, now, stalled=True)
                progress_at, progress_count = now, stored
            time.sleep(0.1)
    return done(stored, time.monotonic())


def wait_end(influx_url: str, database: str, spec: RawLoad, *, timeout: float,
             end: str = "gated", store_pid: int | None = None) -> EndOfLoad:  # fmt: skip
    """The end of a burst: `gated` (cheap gates, then the full count) or `full` (the full
    count every 0.1 s, as before: kept to measure what the gates save)."""
    if end not in ("gated", "full"):
        raise ValueError(f"end must be 'gated' or 'full', not {end!r}")
    return wait_for_load(influx_url, database, spec, timeout=timeout, gated=end == "gated",
                         store_pid=store_pid)  # fmt: skip


def shortfall(influx_url: str, db: str, spec: RawLoad, extra: dict[str, int] | None = None
              ) -> dict[str, int]:  # fmt: skip
    """Per device, how many points are missing (negative: doubled), for a run that lost some;
    `extra` adds devices beyond the generator's (the latency probe)."""
    expected = dict.fromkeys(spec.device_ids(), spec.per_connection)
    expected.update(extra or {})
    answer = httpx.get(
        f"{influx_url}/query",
        params={"db": db, "q": 'SELECT count("seq") FROM "position" GROUP BY "device"'},
        timeout=30,
    ).json()
    stored = {
        s["tags"]["device"]: int(s["values"][0][1])
        for s in answer["results"][0].get("series") or []
    }
    missing = {d: n - stored.get(d, 0) for d, n in expected.items() if stored.get(d, 0) != n}
    missing.update({d: -n for d, n in stored.items() if d not in expected})
    return missing


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")

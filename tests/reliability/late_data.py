"""Late, out-of-order and badly-timed collar readings driven end to end: device messages go
over the real broker to a real ingest (decode, validate, quality flags, dedup) into a real
InfluxDB database of their own, and the alert engine's grazing computation (the snapshot
source that writes `pasture_state`) runs every 30 simulated minutes over a registry seeded
with the runtime tests' okrug (tests/api/alerts/runtime/world.py).

The simulated day ends two hours before the real now: the ingest checks `ts` against the real
clock (nothing more than 10 min ahead, nothing older than the retention).
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from api.alerts.engine import inputs as engine_inputs
from api.alerts.runtime.snapshot import RegistrySnapshotSource
from api.grazing import GrazingConfig
from ingest.ledger import MemoryLedger
from jaylym.models import DeviceInfo, PositionReading
from jaylym.registry.db import make_engine, session_factory
from jaylym.registry.migrate import upgrade
from jaylym.settings import Settings, parse_mqtt_url
from jaylym.store import open_store
from jaylym.store.base import TimeSeriesStore
from tests.api.alerts.runtime.world import CELL, HOUR, LAT0, LON0, MIN, seed
from tests.ingest.live import client, running_ingest

LU = {"cattle": 1.0, "horse": 1.25, "sheep": 0.2, "goat": 0.15, "camel": 1.25}
COLLARS = ("collar-a1", "collar-a2", "collar-a3", "collar-b1", "collar-b2")
DEVICES = [
    *(DeviceInfo(c, "collar", "sogety", herd_id=f"herd-{c[7]}") for c in COLLARS),
    DeviceInfo("soil-kt", "soil", "sogety"),
    DeviceInfo("soil-silent", "soil", "sogety"),
]
HERD = {"a": "herd-askar", "b": "herd-aigul"}
STEP = 30 * MIN  # the engine evaluates every 30 simulated minutes
HOURS = 30
RTC_RESET_MS = 946_684_800_000  # 2000-01-01T00:00Z: where an ESP32 RTC restarts


def period_start() -> int:
    """A quarter hour 32 h before now: the simulated 30 h end two hours in the past."""
    now = time.time_ns() // 1_000_000
    return (now - (HOURS + 2) * HOUR) // (15 * MIN) * (15 * MIN)


@dataclass(frozen=True)
class Reading:
    device: str
    seq: int
    ts_ms: int  # what the device puts in `ts`
    lat: float
    lon: float
    due_ms: int  # when it would be sent live (simulated time)

    def json(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts_ms / 1000, "lat": self.lat, "lon": self.lon,
                "hdop": 0.9, "sats": 9, "bat": 3.9}  # fmt: skip


def walk(rng: random.Random, device: str, start: int) -> list[Reading]:
    """A fix every 15 min (a few missed), wandering between the three pastures and the open
    land east of them (column 3), slowly enough that no fix is speed-flagged."""
    out, col, seq = [], rng.choice([0, 1, 2]), 100
    t = start + rng.randrange(0, 60_000)
    while t < start + HOURS * HOUR:
        if rng.random() < 0.08:
            col = max(0, min(3, col + rng.choice([-1, 1])))
        if rng.random() > 0.05:  # a missed fix now and then
            lon = LON0 + (col + 0.5 + rng.uniform(-0.35, 0.35)) * CELL
            lat = LAT0 + (0.5 + rng.uniform(-0.35, 0.35)) * CELL
            out.append(Reading(device, seq, t, round(lat, 7), round(lon, 7), t))
            seq += 1
        t += 15 * MIN + rng.randrange(-20_000, 20_000)
    return out


@dataclass
class Scenario:
    start: int
    good: dict[str, list[Reading]]  # every reading the store should hold, per device
    rtc_reset: list[Reading] = field(default_factory=list)  # taken while the clock was wrong
    future: list[Reading] = field(default_factory=list)

    @classmethod
    def make(cls, seed_: int = 10) -> Scenario:
        rng = random.Random(seed_)
        start = period_start()
        return cls(start, {d: walk(rng, d, start) for d in COLLARS})

    def steps(self) -> list[int]:
        return [self.start + i * STEP for i in range(1, HOURS * HOUR // STEP + 1)]

    @property
    def total(self) -> int:
        return sum(len(rs) for rs in self.good.values())


@dataclass
class Message:
    device: str
    readings: list[dict[str, Any]]
    copies: int = 1  # >1: the same message delivered again (QoS 1 redelivery, a resend)


@dataclass
class Outcome:
    """What one run leaves: the snapshot's grazing at every step and the store's content."""

    grazing: dict[int, dict[str, engine_inputs.PastureGrazing]] = field(default_factory=dict)
    stored: dict[str, list[PositionReading]] = field(default_factory=dict)
    # evaluation time -> (measurement, tags) -> fields
    state_points: dict[int, dict[tuple[str, Any], dict[str, float | str]]] = field(
        default_factory=dict
    )
    messages: int = 0
    published_readings: int = 0
    rejected: dict[str, float] = field(default_factory=dict)
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)  # reason, topic, detail
    duplicates: float = 0.0
    rewinds: int = 0
    seconds: float = 0.0


class Publisher:
    def __init__(self, broker_url: str) -> None:
        broker = parse_mqtt_url(broker_url)
        self.client = client(broker)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.sent = 0

    def send(self, message: Message) -> None:
        topic = f"pasture/v1/sogety/collar/{message.device}/telemetry"
        body = json.dumps({"v": 1, "readings": message.readings}).encode()
        for _ in range(message.copies):
            self.client.publish(topic, body, qos=1).wait_for_publish(timeout=30)
            self.sent += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def platform(
    tmp: Path, broker_url: str, influx_url: str
) -> Iterator[tuple[TimeSeriesStore, RegistrySnapshotSource, Any, MemoryLedger]]:
    """A registry, an InfluxDB database, an ingest on the broker, the engine's snapshot."""
    registry = make_engine(f"sqlite:///{tmp / 'registry.db'}")
    upgrade(registry)
    with Session(registry) as session:
        seed(session, "http://127.0.0.1:9/hook")  # no alert is delivered here
    store = open_store(
        Settings(tsdb="influx", influx_url=influx_url, influx_db=f"late_{uuid.uuid4().hex[:10]}")
    )
    source = RegistrySnapshotSource(
        session_factory(registry), store, GrazingConfig(lu_coefficients=LU)
    )
    ledger = MemoryLedger()
    try:
        with running_ingest(
            broker_url,
            store,
            DEVICES,
            tmp / "spool",
            ledger,
            client_id=f"late-{uuid.uuid4().hex[:8]}",
            flush_interval_s=0.02,
        ) as ingest:
            yield store, source, ingest, ledger
    finally:
        store.close()
        registry.dispose()


def handled(ingest: Any) -> float:
    """Readings the ingest has finished with: stored, refused or dropped as repeats."""
    reg = ingest.service.metrics.registry
    total = 0.0
    for metric in reg.collect():
        if metric.name in (
            "jaylym_ingest_readings_stored",
            "jaylym_ingest_rejected",
            "jaylym_ingest_duplicates",
        ):
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


def run(
    scenario: Scenario,
    schedule: dict[int, list[Message]],
    tmp: Path,
    broker_url: str,
    influx_url: str,
) -> Outcome:
    """Publish each step's messages, wait until the ingest has handled every reading, then
    evaluate at the step's time, as the engine loop would."""
    began = time.monotonic()
    out = Outcome()
    with platform(tmp, broker_url, influx_url) as (store, source, ingest, ledger):
        publisher = Publisher(broker_url)
        expected = 0
        try:
            for now in scenario.steps():
                for message in schedule.get(now, []):
                    publisher.send(message)
                    expected += len(message.readings) * message.copies
                    out.published_readings += len(message.readings) * message.copies
                deadline = time.monotonic() + 30
                while handled(ingest) < expected:
                    assert time.monotonic() < deadline, f"ingest handled {handled(ingest)}"
                    time.sleep(0.005)
                snapshot = source(now)
                assert snapshot.grazing is not None
                out.grazing[now] = snapshot.grazing
        finally:
            publisher.close()
        out.messages = publisher.sent
        out.rewinds = source.totals.rewinds
        reg = ingest.service.metrics.registry
        for metric in reg.collect():
            if metric.name == "jaylym_ingest_rejected":
                for s in metric.samples:
                    if s.name.endswith("_total"):
                        out.rejected[s.labels["reason"]] = s.value
            if metric.name == "jaylym_ingest_duplicates":
                out.duplicates = sum(s.value for s in metric.samples if s.name.endswith("_total"))
        out.dead_letters = [(d.reason, d.topic, d.detail) for d in ledger.dead_letters]
        out.stored = store.positions(0, scenario.start + 2 * HOURS * HOUR)
        # What the engine wrote to the store after each evaluation (Grafana reads these).
        for measurement in ("pasture_state", "pasture_herd"):
            for point in store.query_points(measurement, scenario.start, now + 1):
                key = (measurement, tuple(sorted(point.tags.items())))
                out.state_points.setdefault(point.ts_ms, {})[key] = dict(point.fields)
    out.seconds = time.monotonic() - began
    return out


def live_schedule(
    scenario: Scenario, readings: dict[str, list[Reading]] | None = None
) -> dict[int, list[Message]]:
    """Each device sends what it measured since the previous step, at the step."""
    out: dict[int, list[Message]] = {}
    steps = scenario.steps()
    for device, rows in (readings or scenario.good).items():
        for now in steps:
            batch = [r.json() for r in rows if now - STEP < r.due_ms <= now]
            if batch:
                out.setdefault(now, []).append(Message(device, batch))
    return out


def merge(*schedules: dict[int, list[Message]]) -> dict[int, list[Message]]:
    out: dict[int, list[Message]] = {}
    for schedule in schedules:
        for now, messages in schedule.items():
            out.setdefault(now, []).extend(messages)
    return out


def assert_same_grazing(got: Outcome, want: Outcome, steps: list[int]) -> float:
    """Equal numbers at each of `steps`, as the engine saw them and as it wrote them to the
    store (`pasture_state`, `pasture_herd`); returns the largest relative difference of a
    float (the ledger adds windows in another order after a rewind: rounding only)."""
    worst = 0.0
    for now in steps:
        assert got.grazing[now].keys() == want.grazing[now].keys()
        for pid, w in want.grazing[now].items():
            g = got.grazing[now][pid]
            assert g.herds_present == w.herds_present, (now, pid)
            assert g.herd_time_s.keys() == w.herd_time_s.keys(), (now, pid)
            assert g.current_density_lu_per_ha == w.current_density_lu_per_ha, (now, pid)
            pairs = [(g.utilisation, w.utilisation)]  # U_p = LU-days / area / capacity
            pairs += [(g.herd_time_s[h], w.herd_time_s[h]) for h in w.herd_time_s]
            for a, b in pairs:
                if math.isnan(b):
                    assert math.isnan(a), (now, pid)
                    continue
                diff = abs(a - b) / max(abs(b), 1e-12) if a != b else 0.0
                assert diff <= 1e-9, (now, pid, a, b)
                worst = max(worst, diff)
        assert got.state_points[now].keys() == want.state_points[now].keys(), now
        for key, fields in want.state_points[now].items():
            assert got.state_points[now][key].keys() == fields.keys(), (now, key)
            for name, b in fields.items():
                a = got.state_points[now][key][name]
                assert isinstance(a, float)
                assert isinstance(b, float)
                diff = abs(a - b) / max(abs(b), 1e-12) if a != b else 0.0
                assert diff <= 1e-9, (now, key, name, a, b)
                worst = max(worst, diff)
    return worst


def lu_days_per_ha(out: Outcome, at: int) -> dict[str, float]:
    """The season's LU-days per hectare of each pasture, from its `pasture_state` point."""
    return {
        dict(tags)["pasture"]: float(fields["lu_days_per_ha"])
        for (measurement, tags), fields in out.state_points[at].items()
        if measurement == "pasture_state"
    }


def stored_key(r: PositionReading) -> tuple[int, int, float, float, frozenset[str]]:
    return (r.seq, r.ts_ms, r.lat, r.lon, r.flags)

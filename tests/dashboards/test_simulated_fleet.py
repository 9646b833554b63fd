"""The panel queries on data the simulator produced, end to end (issue 8's "seeded by the
simulator"): `jaylym simulate` runs a short accelerated fleet of collars and soil stations on
the MicroPython unix port, they publish through a real Mosquitto to a real `jaylym ingest`
(devices and a herd registered in a real registry), which writes into a real InfluxDB. The
grazing engine's evaluation loop then runs over what was stored (one pasture around the
simulated home range) and writes `pasture_state` / `pasture_herd`. Every InfluxQL panel
query of every dashboard runs on that, macros substituted as Grafana would, and must return
the series and columns its panel reads; the loss panel's numbers are checked against the
devices' own logs.

Beside the fleet, one more soil station with a failing solar charger runs on the sim board's
clock (as the demo's devices do): its timestamps cover 20 simulated hours in seconds, so the
Battery trend panel (a derivative over 6 h buckets) is proven on a real simulated discharge.

`test_queries.py` proves the same panels on a scripted week written through the store, with
more numbers checked (gaps, distances, hours); a short run cannot fill panels that need
hours of real time (`NEEDS_HOURS`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from api.grazing import Herd as GrazingHerd
from jaylym.demo.clock import SimClock
from jaylym.firmware_sim import SimDevice, read_events
from jaylym.mqtt_passwd import set_password
from jaylym.registry.db import make_engine
from jaylym.registry.models import Device, Herd, Okrug
from jaylym.services import Mosquitto
from jaylym.store.base import Point, TimeSeriesStore
from tests.conftest import InfluxHandle, _start_mosquitto
from tests.dashboards.board_json import committed, influx_targets
from tests.dashboards.macros import Variable, duration_ms, interpolate
from tests.dashboards.test_queries import EXPECTS, _alias_tags, _fields_read
from tests.ingest.live import eventually
from tests.ingest.process import IngestProcess

HOME = (43.5310, 78.5925)  # firmware/boards/sim.py: where the simulated herd lives

pytestmark = [pytest.mark.mqtt, pytest.mark.influx]

INGEST_MEASUREMENTS = {"position", "soil", "device_stats", "dlq"}
ENGINE_MEASUREMENTS = {"pasture_state", "pasture_herd"}  # the grazing engine, on that data
PASTURE = "sim-pasture-1"
OKRUG, HERD, PREFIX = "sogety", "sim-herd-1", "simfleet"
COLLARS, SOILS, CYCLES = 3, 2, 6
SPEED = 900  # simulated seconds per real second: a 30-minute interval lasts 2 s
BOARDS = committed()
# The failing-charger station: a reading an hour (or so: each cycle's real overhead runs
# on the fast clock too), FAILING_SPEED simulated seconds per real second, on a clock that
# starts FAILING_HOURS ago (inside the Devices dashboard's 24 h) and reaches the host's
# clock FAILING_HOURS / FAILING_SPEED real seconds later, about when its cycles end (on a
# slow host the last readings come in real time, a few seconds apart). 25 mA more than its
# solar budget drains about 0.25 V a day.
FAILING = f"{PREFIX}-s900"
FAILING_HOURS, FAILING_SPEED, FAILING_DRAIN_MA, FAILING_CYCLES = 20, 3600.0, 25.0, 12


def _measurements(query: str) -> set[str]:
    """Every measurement a query reads (including inside a subquery)."""
    names: set[str] = set()
    for group in re.findall(r'FROM\s+((?:"\w+"\s*,\s*)*"\w+")', query):
        names |= set(re.findall(r'"(\w+)"', group))
    return names


INGEST_TARGETS = [
    pytest.param(name, panel, target, id=f"{name}:{panel['title']}:{target['refId']}")
    for name, board in BOARDS.items()
    for panel, target in influx_targets(board)
    if _measurements(target["query"]) <= INGEST_MEASUREMENTS | ENGINE_MEASUREMENTS
]


@dataclass
class FleetRun:
    influx_url: str
    db: str
    now_ms: int
    collars: list[str]
    stations: list[str]
    readings: int
    failing: str  # the station whose charger fails (also in `stations`)

    def query(self, text: str) -> dict[str, Any]:
        response = httpx.post(f"{self.influx_url}/query", params={"db": self.db, "epoch": "ms"},
                              data={"q": text}, timeout=30)  # fmt: skip
        assert response.status_code == 200, f"{response.status_code} {response.text}\n{text}"
        result: dict[str, Any] = response.json()["results"][0]
        assert "error" not in result, f"InfluxDB: {result['error']}\nquery: {text}"
        return result


def _register(registry_url: str, collars: list[str], stations: list[str]) -> None:
    """The fleet in the registry: collars on one herd (the `herd` tag), stations not."""
    engine = make_engine(registry_url)
    with Session(engine) as session:
        if session.get(Okrug, OKRUG) is None:
            session.add(Okrug(id=OKRUG, name_kk=OKRUG, name_ru=OKRUG, name_en=OKRUG))
            session.flush()  # the foreign keys are checked row by row
        session.add(Herd(id=HERD, okrug_id=OKRUG, name="Simulated herd", cattle=40))
        session.flush()
        session.add_all(Device(id=d, kind="collar", okrug_id=OKRUG, herd_id=HERD) for d in collars)
        session.add_all(Device(id=d, kind="soil", okrug_id=OKRUG) for d in stations)
        session.commit()
    engine.dispose()


def _simulate(broker: Mosquitto, state: Path) -> subprocess.Popen[bytes]:
    """`jaylym simulate` itself: it adds the devices to the broker's password file."""
    argv = [sys.executable, "-m", "jaylym", "simulate", "--broker", broker.anonymous_url,
            "--collars", str(COLLARS), "--soil", str(SOILS), "--speed", str(SPEED),
            "--cycles", str(CYCLES), "--max-processes", str(COLLARS + SOILS),
            "--passwd-file", str(broker.password_file), "--prefix", PREFIX,
            "--state-dir", str(state), "--okrug", OKRUG]  # fmt: skip
    out = (state.parent / "simulate.log").open("ab")
    try:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def _failing_station(broker: Mosquitto, folder: Path) -> SimDevice:
    """A soil station draining FAILING_DRAIN_MA more than its solar budget (the demo's
    s-kuzeu-01), reading every hour; its clock is set when it starts (`_start_failing`)."""
    password = uuid.uuid4().hex
    set_password(broker.password_file, FAILING, password)
    device = SimDevice(
        device_id=FAILING,
        kind="soil",
        broker_url=f"mqtt://{FAILING}:{password}@127.0.0.1:{broker.port}",
        folder=folder / FAILING,
        okrug=OKRUG,
        speed=FAILING_SPEED,
        sim_options={"battery": 0.75, "drain_ma": FAILING_DRAIN_MA},
    )
    folder.joinpath(FAILING).mkdir(parents=True)
    (folder / FAILING / "config.json").write_text(json.dumps({"interval_s": 3600}))
    return device


def _start_failing(device: SimDevice) -> subprocess.Popen[bytes]:
    """Start it on a clock FAILING_HOURS in the past (set now: the fleet's start-up took
    real time, which the clock must not have spent already)."""
    clock = SimClock.ending_now_plus(FAILING_SPEED, FAILING_HOURS * 3600 / FAILING_SPEED)
    device.sim_options["clock"] = clock.board_options()
    return device.start(cycles=FAILING_CYCLES)


def _sent(state: Path, device_id: str) -> int:
    """Readings a device made (its last cycle's next seq), from its own log."""
    cycles = [e for e in read_events(state / device_id / "device.log") if e["ev"] == "cycle"]
    return int(cycles[-1]["next_seq"]) if cycles else 0


@pytest.fixture(scope="module")
def fleet_run(
    tmp_path_factory: pytest.TempPathFactory, influx_session: InfluxHandle
) -> Iterator[FleetRun]:
    from jaylym.firmware_host import FirmwareHostError, micropython_binary
    from tests.support import unavailable

    try:
        micropython_binary()
    except FirmwareHostError as exc:
        unavailable(str(exc))
    tmp = tmp_path_factory.mktemp("simfleet")
    broker = _start_mosquitto(tmp / "mosquitto")  # our own: the fleet goes in its passwords
    if broker is None:
        unavailable("local `mosquitto` binary")
        raise AssertionError("unreachable")
    collars = [f"{PREFIX}-c{i:03d}" for i in range(1, COLLARS + 1)]
    stations = [f"{PREFIX}-s{i:03d}" for i in range(1, SOILS + 1)] + [FAILING]
    ingest = IngestProcess(broker.url(), influx_session.url, tmp / "ingest",
                           extra_env={"JAYLYM_INGEST_STATS_INTERVAL_S": "1"})  # fmt: skip
    sim: subprocess.Popen[bytes] | None = None
    failing: subprocess.Popen[bytes] | None = None
    try:
        _register(ingest.registry_url, collars, stations)
        ingest.start()
        state = tmp / "sim"
        state.mkdir()
        start_ms = int(time.time() * 1000)
        station = _failing_station(broker, tmp / "failing")
        sim = _simulate(broker, state)
        # The devices retry until the broker has re-read its password file (they queue).
        eventually(lambda: all(d in broker.password_file.read_text() for d in collars),
                   30, "the fleet in the password file")  # fmt: skip
        broker.reload()
        failing = _start_failing(station)
        assert sim.wait(timeout=180) == 0, (state.parent / "simulate.log").read_text()[-2000:]
        assert failing.wait(timeout=180) == 0, (station.folder / "device.log").read_text()[-2000:]
        sent = {d: _sent(state, d) for d in collars + stations if d != FAILING}
        sent[FAILING] = _sent(station.folder.parent, FAILING)
        assert all(n >= 2 for n in sent.values()), sent

        def stored() -> bool:
            end = int(time.time() * 1000) + 3_600_000
            return all(
                len({r.seq for r in ingest.store.device_readings(d, 0, end)}) == n
                for d, n in sent.items()
            )

        eventually(stored, 60, "every simulated reading in InfluxDB")
        ingest.terminate()  # a clean stop writes the last device_stats / dlq increments
        _run_engine(ingest.store, collars, stations, start_ms)
        yield FleetRun(influx_session.url, ingest.database, int(time.time() * 1000), collars,
                       stations, sum(sent.values()), FAILING)  # fmt: skip
    finally:
        for proc in (sim, failing):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
        ingest.stop()
        broker.stop()


def _run_engine(
    store: TimeSeriesStore, collars: list[str], stations: list[str], start_ms: int
) -> None:
    """The grazing engine's evaluation loop over what the ingest stored (as `seed.py` runs
    it on the scripted week): one pasture around the simulated home range, the collars'
    herd on it, the stations for moisture; `pasture_state` and `pasture_herd` written
    through the store's point write."""
    from shapely import box

    from api.grazing import (
        GrazingConfig,
        GrazingModel,
        Pasture,
        SeasonLedger,
        SoilStation,
        pasture_herd_points,
        pasture_state_points,
    )  # fmt: skip
    from jaylym.models import ms_to_datetime

    lat, lon = HOME
    day = 86_400_000
    season = ms_to_datetime(start_ms - day)
    config = GrazingConfig(
        season_starts={**GrazingConfig().season_starts, "year_round": f"{season:%m-%d}"}
    )
    pasture = Pasture.from_geometry(PASTURE, OKRUG, box(lon - 0.05, lat - 0.04, lon + 0.05,
                                    lat + 0.04), productivity_kg_dm_ha=1400.0)  # fmt: skip
    herd = GrazingHerd(HERD, {"cattle": 40}, tuple(collars), OKRUG)
    soil_stations = [SoilStation(d, lon, lat + 0.001 * i) for i, d in enumerate(stations)]
    ledger = SeasonLedger(GrazingModel([pasture], [herd], soil_stations, config))
    now = int(time.time() * 1000)
    fixes = store.positions(start_ms - day, now + 1)
    soil = store.soil_readings(start_ms - day, now + 1)
    points = []
    for tick in range(start_ms + 5_000, now + 1, 5_000):
        since = ledger.fetch_from_ms(tick)
        window = {d: [r for r in rs if since <= r.ts_ms < tick] for d, rs in fixes.items()}
        result = ledger.advance(window, tick, soil=soil)
        for p in [*pasture_state_points(result, tick), *pasture_herd_points(result, tick)]:
            points.append(Point(p.measurement, dict(p.tags), dict(p.fields), p.ts_ms))
    assert points, "the engine wrote nothing"
    store.write_points(points)


def _variables(board: dict[str, Any], run: FleetRun) -> dict[str, Variable]:
    """Variables as Grafana resolves them on load; a query variable over the grazing
    engine's measurements finds nothing on this data and stays empty."""
    resolved: dict[str, Variable] = {}
    for var in board["templating"]["list"]:
        name, kind = var["name"], var["type"]
        multi = bool(var.get("multi") or var.get("includeAll"))
        if kind == "constant":
            resolved[name] = Variable((var["query"],), multi=False)
        elif kind == "custom":
            current = var.get("current", {}).get("value")
            values = current if isinstance(current, list) else var["query"].split(",")
            resolved[name] = Variable(tuple(values), multi=multi)
        elif name == "station":  # from the API in Grafana: the simulated stations stand in
            resolved[name] = Variable(tuple(run.stations), multi=True)
        else:
            text = interpolate(var["query"], resolved, from_ms=run.now_ms - 86_400_000,
                               to_ms=run.now_ms)  # fmt: skip
            series = run.query(text).get("series", [])
            values = sorted({row[1] for s in series for row in s["values"]}, key=str.lower)
            resolved[name] = Variable(tuple(values) if multi else tuple(values[:1]), multi=multi)
    return resolved


def test_the_variables_find_the_simulated_fleet(fleet_run: FleetRun) -> None:
    variables = _variables(BOARDS["devices"], fleet_run)
    assert variables["okrug"].values == (OKRUG,)
    assert variables["herd"].values == (HERD,)
    assert set(variables["device"].values) == set(fleet_run.collars + fleet_run.stations)


@pytest.mark.parametrize(("name", "panel", "target"), INGEST_TARGETS)
def test_panel_query_on_simulated_data(
    fleet_run: FleetRun, name: str, panel: dict[str, Any], target: dict[str, Any]
) -> None:
    board = BOARDS[name]
    expect = EXPECTS[(name, panel["title"], target["refId"])]
    relative = panel.get("timeFrom") or board["time"]["from"]
    start, end = fleet_run.now_ms - duration_ms(relative), fleet_run.now_ms
    text = interpolate(target["query"], _variables(board, fleet_run), from_ms=start, to_ms=end)

    series = fleet_run.query(text).get("series", [])

    assert series, f"no series for {panel['title']}:\n{text}"
    for one in series:
        missing = set(expect.columns) - set(one["columns"])
        assert not missing, f"columns {missing} missing from {one['columns']}"
        assert one["columns"][0] == "time"
        assert set(expect.tags) <= set(one.get("tags", {})), one.get("tags")
    for column in expect.columns:
        values = [row[one["columns"].index(column)] for one in series for row in one["values"]]
        assert any(v is not None for v in values), f"column {column} is all null:\n{text}"
    assert _fields_read(panel, target["refId"]) <= set(expect.columns) | set(expect.tags)
    assert _alias_tags(target) <= set(expect.tags)


def test_loss_panel_counts_every_simulated_reading(fleet_run: FleetRun) -> None:
    """The numbers, not only the shape: the fleet lost nothing, so received = sent."""
    board = BOARDS["devices"]
    panel, target = next(
        (p, t) for p, t in influx_targets(board) if p["title"] == "Readings received and missing"
    )
    text = interpolate(target["query"], _variables(board, fleet_run),
                       from_ms=fleet_run.now_ms - 86_400_000, to_ms=fleet_run.now_ms)  # fmt: skip
    rows = {
        s["tags"]["device"]: dict(zip(s["columns"], s["values"][0], strict=True))
        for s in fleet_run.query(text).get("series", [])
    }
    assert set(rows) == set(fleet_run.collars + fleet_run.stations)
    assert sum(r["received"] for r in rows.values()) == fleet_run.readings
    assert all(r["missing"] == 0 for r in rows.values()), rows
    assert all(r["loss_pct"] == 0 for r in rows.values()), (panel["title"], rows)


def test_battery_trend_shows_the_failing_charger(fleet_run: FleetRun) -> None:
    """The Battery trend panel on a real simulated discharge: the failing-charger station's
    6-hourly derivative is negative in every bucket and matches the slope of its raw
    readings; the fleet's healthy devices show no such fall."""
    board = BOARDS["devices"]
    panel, target = next((p, t) for p, t in influx_targets(board) if p["title"] == "Battery trend")
    now = fleet_run.now_ms
    text = interpolate(target["query"], _variables(board, fleet_run),
                       from_ms=now - duration_ms(board["time"]["from"]), to_ms=now)  # fmt: skip
    trend = {
        s["tags"]["device"]: [row[1] for row in s["values"] if row[1] is not None]
        for s in fleet_run.query(text).get("series", [])
    }
    failing = trend[fleet_run.failing]
    assert len(failing) >= 2, (panel["title"], trend)
    assert all(v < 0 for v in failing), failing
    raw = next(
        series["values"]
        for series in fleet_run.query(
            'SELECT "bat" FROM "soil" WHERE "depth" = \'10\' GROUP BY "device"'
        )["series"]
        if series["tags"]["device"] == fleet_run.failing
    )
    (t0, v0), (t1, v1) = raw[0], raw[-1]
    assert t1 - t0 >= 10 * 3_600_000, raw  # hours of simulated time
    per_day = (v1 - v0) / ((t1 - t0) / 86_400_000)
    assert -1.0 < per_day < -0.1, raw  # the 25 mA drain, volts per day
    # The panel's mean trend is the readings' own, within what bucketing (6 h means) and
    # a compressed tail on a slow host change.
    assert 0.5 * per_day > sum(failing) / len(failing) > 1.5 * per_day, (failing, per_day)
    healthy = [v for d, vs in trend.items() if d != fleet_run.failing for v in vs]
    assert all(abs(v) < abs(per_day) / 3 for v in healthy), trend

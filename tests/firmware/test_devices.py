"""Device behaviour with the simulated board, on CPython (the same code as on MicroPython):
the simulated world, the collar's quality gate and adaptive interval, soil calibration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jaylym.firmware_host import firmware_module
from jaylym.firmware_sim import SimDevice
from tests.support import shared_path

NO_BROKER = "mqtt://127.0.0.1:9"  # nothing listens: every wake is out of coverage
DAY_MS = 86_400_000


def _board(tmp_path: Path, kind: str, **sim: Any) -> Any:
    sim_mod = firmware_module("boards.sim")
    dev = {"id": "sim-test", "kind": kind, "sim": {"speed": 1e6, "seed": 3, **sim}}
    return sim_mod.Board(dev, str(tmp_path))


def _run(
    tmp_path: Path,
    kind: str,
    cycles: int,
    capsys: pytest.CaptureFixture[str],
    config: dict[str, Any] | None = None,
    **kw: Any,
) -> list[dict[str, Any]]:
    device = SimDevice(
        device_id=f"t-{kind}",
        kind="collar" if kind == "collar" else "soil",
        broker_url=NO_BROKER,
        folder=tmp_path / kind,
        speed=1e6,
        seed=5,
        **kw,
    )
    if config is not None:
        device.folder.mkdir(parents=True, exist_ok=True)
        (device.folder / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    device.run_cpython(cycles)
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _queued(folder: Path) -> list[dict[str, Any]]:
    rows = []
    for seg in sorted((folder / "q").glob("*.seg")):
        rows += [json.loads(line) for line in seg.read_text().splitlines()]
    return rows


def test_soil_dries_and_rain_wets_the_top_first(tmp_path: Path) -> None:
    board = _board(tmp_path, "soil")
    board.s["rain_in_ms"] = 10**12  # no rain for now
    start = list(board.s["theta"])
    board._advance(5 * DAY_MS)
    dried = list(board.s["theta"])
    assert all(d < s for d, s in zip(dried, start, strict=True))
    # the surface dries fastest, relative to its distance from the wilting point
    losses = [(s - d) / (s - 8.0) for s, d in zip(start, dried, strict=True)]
    assert losses[0] > losses[1] > losses[2]
    board.s["rain_in_ms"] = 1
    board._advance(60_000)
    wet = board.s["theta"]
    gains = [w - d for w, d in zip(wet, dried, strict=True)]
    assert gains[0] > gains[1] > gains[2] > 0


def test_battery_drains(tmp_path: Path) -> None:
    board = _board(tmp_path, "soil")
    first = board.battery_v()
    for _ in range(4000):  # 83 days of half-hourly wakes
        board._drain(25.0, 4000)
        board._advance(1_800_000)
    assert board.s["soc"] < 0.95 - 0.05
    assert board.battery_v() < first - 0.02
    assert 3.0 <= board.battery_v() <= 4.25


def test_probe_millivolts_read_back_through_the_default_calibration(tmp_path: Path) -> None:
    board = _board(tmp_path, "soil")
    config = firmware_module("common.config")
    sensors = firmware_module("common.sensors")
    cal = config.DEFAULTS["soil"]["probes"][0]["cal"]
    mv = sensors.trimmed_mean([board.probe_mv(0) for _ in range(32)])
    assert abs(sensors.vwc_percent(cal, mv) - board.s["theta"][0]) < 1.0


def test_sim_gnss_speaks_nmea_our_parser_reads(tmp_path: Path) -> None:
    nmea = firmware_module("common.nmea")
    board = _board(tmp_path, "collar", nofix_p=0.0)
    board.gnss_power(True)
    parser = nmea.Parser()
    fixes = [f for f in (parser.feed(board.gnss_readline(5000)) for _ in range(60)) if f]
    assert parser.counts.get("bad_checksum", 0) == 0
    assert fixes, parser.counts
    assert abs(fixes[-1].lat - board.s["lat"]) < 1e-5
    assert fixes[-1].mode == 3


def test_random_walk_stays_on_the_pasture(tmp_path: Path) -> None:
    board = _board(tmp_path, "collar")
    sim = firmware_module("boards.sim")
    for _ in range(2000):
        board._advance(900_000)
    assert abs(board.s["lat"] - sim.HOME[0]) < 0.05
    assert abs(board.s["lon"] - sim.HOME[1]) < 0.07


def test_collar_quality_gate_rejects_poor_fixes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _run(tmp_path, "collar", 3, capsys, config={"max_hdop": 0.5}, nofix_p=0.0)
    assert len([e for e in events if e["ev"] == "no_fix"]) == 3  # sim hdop is 0.7..1.8
    assert _queued(tmp_path / "collar") == []
    cycles = [e for e in events if e["ev"] == "cycle"]
    assert all(c["sleep_s"] == 1800 for c in cycles)
    assert all(c["next_seq"] == 0 for c in cycles), "no seq spent on a no-fix"


def test_collar_interval_adapts_to_movement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    track = tmp_path / "track.csv"
    # rest, rest, walk 200 m, rest, (a 0,0 row a real collar logs without a fix), walk
    track.write_text(
        "Latitude,Longitude,Altitude\n"
        "43.5000,78.6000,1500\n43.5000,78.6000,1500\n43.5018,78.6000,1500\n"
        "43.5018,78.6000,1500\n0,0,0\n43.5040,78.6000,1500\n"
    )
    events = _run(tmp_path, "collar", 5, capsys, track=track, nofix_p=0.0)
    sleeps = [e["sleep_s"] for e in events if e["ev"] == "cycle"]
    assert sleeps == [1800, 1800, 300, 1800, 300]
    rows = _queued(tmp_path / "collar")
    assert [r["seq"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["lat"] for r in rows] == [43.5, 43.5, 43.5018, 43.5018, 43.504]


def test_collar_replays_a_real_cattle_track(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    track = shared_path("data", "cattle-gps-animaltracker", "Bannock_2017_101_1149.csv")
    _run(tmp_path, "collar", 3, capsys, track=track, nofix_p=0.0)
    rows = _queued(tmp_path / "collar")
    assert [(r["lat"], r["lon"]) for r in rows][:2] == [
        (43.600395, -116.204964),
        (43.600353, -116.205093),
    ]


def test_soil_station_applies_polynomial_calibration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probes = [
        {"depth": 20, "cal": {"type": "poly", "coef": [100.0]}},  # constant: 100 %
        {"depth": 40, "cal": {"type": "poly", "coef": [0.0, 10.0]}},  # 10 % per volt
    ]
    events = _run(tmp_path, "soil", 2, capsys, config={"probes": probes, "samples": 4})
    assert [e for e in events if e["ev"] == "cycle_failed"] == []
    rows = _queued(tmp_path / "soil")
    assert len(rows) == 2
    for r in rows:
        assert r["depths"] == [20, 40]
        assert r["vwc"][0] == 100
        assert 12.0 <= r["vwc"][1] <= 28.5  # 1.2..2.8 V from the probe
        assert len(r["tsoil"]) == 2
        assert 3.0 <= r["bat"] <= 4.25


def test_soil_station_replays_a_real_moisture_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ISMN's COSMOS ARM-1 record, hourly: 0.1410 m³/m³ at 2017-08-10 00:00, and the value
    the record holds 30 minutes of simulated time later per wake."""
    record = shared_path("data", "soil-ismn", "COSMOS_ARM-1_sm_0.00_0.19.stm")
    lines = record.read_text().splitlines()[1:]
    values = [float(line.split()[2]) * 100 for line in lines if len(line.split()) >= 3]
    _run(tmp_path, "soil", 6, capsys, track=record)
    rows = _queued(tmp_path / "soil")
    assert len(rows) == 6
    for i, r in enumerate(rows):
        # wake i is i * 30 min into the record: hour i // 2
        assert abs(r["vwc"][0] - values[i // 2]) < 1.5, (i, r["vwc"], values[: i // 2 + 2])

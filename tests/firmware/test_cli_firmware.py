"""`jaylym firmware bundle`, `jaylym firmware sim` and `jaylym simulate` against real Mosquitto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaylym.firmware_host import micropython_binary
from jaylym.mqtt_passwd import set_password
from tests.firmware.fleet import Fleet, MqttSink, wait_for
from tests.support import shared_path

pytestmark = pytest.mark.mqtt

JAYLYM = [str(Path(sys.executable).parent / "jaylym")]


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*JAYLYM, *args], capture_output=True, text=True, timeout=timeout)


def test_bundle_runs_as_flashed(fleet: Fleet, tmp_path: Path) -> None:
    """The bundle's exact layout (root = the device's filesystem) runs and reports."""
    set_password(fleet.broker.password_file, "st-flash", "pw-flash")
    fleet.broker.reload()
    out = tmp_path / "flash"
    res = _cli(
        "firmware",
        "bundle",
        "soil",
        str(out),
        "--device-id",
        "st-flash",
        "--board",
        "sim",
        "--broker",
        f"mqtt://st-flash:pw-flash@127.0.0.1:{fleet.broker.port}",
    )
    assert res.returncode == 0, res.stderr
    assert "mpremote cp -r common boards" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["boards", "common", "device.json", "main.py"]
    assert oct((out / "device.json").stat().st_mode & 0o777) == "0o600"
    proc = subprocess.run(
        [micropython_binary(), "main.py", "", "1"],
        cwd=out,
        env=dict(os.environ, MICROPYPATH=f"{out}:.frozen"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sink = MqttSink(fleet.collector)
    wait_for(lambda: len(sink.readings("st-flash")) == 1, 10, "the reading")
    assert (out / "q").is_dir()


def test_bundle_refuses_bad_identity(tmp_path: Path) -> None:
    res = _cli(
        "firmware",
        "bundle",
        "collar",
        str(tmp_path / "x"),
        "--device-id",
        "Bad_Id",
        "--broker",
        "mqtt://h:1883",
    )
    assert res.returncode != 0
    res = _cli(
        "firmware",
        "bundle",
        "collar",
        str(tmp_path / "x"),
        "--device-id",
        "col-1",
        "--broker",
        "mqtt://someone-else:pw@h:1883",
    )
    assert res.returncode != 0
    assert "device id" in res.stderr


def test_firmware_sim_collar_on_a_track(fleet: Fleet, tmp_path: Path) -> None:
    track = shared_path("data", "cattle-gps-animaltracker", "Bannock_2017_102_2253.csv")
    set_password(fleet.broker.password_file, "col-track", "pw-track")
    fleet.broker.reload()
    res = _cli(
        "firmware",
        "sim",
        "collar",
        "--device-id",
        "col-track",
        "--broker",
        f"mqtt://col-track:pw-track@127.0.0.1:{fleet.broker.port}",
        "--track",
        str(track),
        "--speed",
        "5000",
        "--cycles",
        "3",
        "--seed",
        "1",
        "--state-dir",
        str(tmp_path / "col-track"),
    )
    assert res.returncode == 0, res.stdout + res.stderr
    events = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert [e["ev"] for e in events if e["ev"] in ("boot", "cycle")] == ["boot"] + ["cycle"] * 3
    sink = MqttSink(fleet.collector)
    wait_for(lambda: len(sink.readings("col-track")) >= 2, 10, "track readings")
    lats = [
        r["lat"]
        for m in fleet.collector.snapshot()
        if m.topic.endswith("/col-track/telemetry")
        for r in json.loads(m.payload)["readings"]
    ]
    assert all(43.55 < lat < 43.65 for lat in lats), lats  # the Idaho pasture of the file


def test_simulate_fleet_micropython_and_cpython(fleet: Fleet, tmp_path: Path) -> None:
    state = tmp_path / "fleet"
    common = [
        "--collars",
        "2",
        "--soil",
        "1",
        "--max-processes",
        "2",
        "--speed",
        "5000",
        "--state-dir",
        str(state),
    ]
    # Out of coverage first: devices are provisioned, readings queue.
    res = _cli(
        "simulate",
        "--broker",
        "mqtt://127.0.0.1:9",
        "--cycles",
        "1",
        "--passwd-file",
        str(fleet.broker.password_file),
        *common,
    )
    assert res.returncode == 0, res.stderr
    assert "2 on MicroPython, 1 on CPython" in res.stderr
    fleet.broker.reload()
    res = _cli(
        "simulate", "--broker", f"mqtt://127.0.0.1:{fleet.broker.port}", "--cycles", "2", *common
    )
    assert res.returncode == 0, res.stderr
    sink = MqttSink(fleet.collector)
    ids = ["sim-c001", "sim-c002", "sim-s001"]
    wait_for(lambda: all(len(sink.readings(d)) >= 2 for d in ids), 20, "every device's readings")
    for d in ids:
        seqs = sorted({s for s, _, _ in sink.readings(d)})
        assert seqs == list(range(len(seqs))), (d, seqs)

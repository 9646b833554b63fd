"""`jaylym nmea` against gpsd's own decoding of ten real receivers' logs.

For each `NAME.log` in ../shared/data/nmea-gpsd/, `NAME.log.chk` holds gpsd's TPV reports.
Every TPV that is a fix (mode 2 or 3, with a time and a position) must be one of our fixes
at the same time of day (gpsd's regression dates are shifted) and agree to 1e-6 degrees.
Every fix of ours must be one of gpsd's, except the last epoch before the log ends or the
receiver's clock jumps: gpsd reports a cycle when the *next* one begins or its learned
end-of-cycle sentence arrives, and a cut-short cycle gets neither.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jaylym.cli import app
from jaylym.firmware_host import firmware_module
from tests.support import SHARED, shared_path

LOGS = sorted((SHARED / "data" / "nmea-gpsd").glob("*.log"))
TOLERANCE_DEG = 1e-6
# A jump this long between epochs means the log was cut and spliced (or the receiver reset).
JUMP_MS = 60_000


def tod_ms(iso: str) -> int:
    hh, mm, rest = iso[11:].rstrip("Z").split(":")
    return round((int(hh) * 3600 + int(mm) * 60 + float(rest)) * 1000)


def gpsd_fixes(chk: Path) -> dict[int, dict[str, float]]:
    """time of day (ms) -> the last TPV fix gpsd reported for it."""
    out: dict[int, dict[str, float]] = {}
    for line in chk.read_text(errors="replace").splitlines():
        if '"class":"TPV"' not in line:
            continue
        tpv = json.loads(line)
        if tpv.get("mode", 0) >= 2 and "time" in tpv and "lat" in tpv:
            out[tod_ms(tpv["time"])] = tpv
    return out


def our_fixes(log: Path) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["nmea", str(log)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_shared_logs_are_there() -> None:
    shared_path("data", "nmea-gpsd")
    assert len(LOGS) >= 10


@pytest.mark.parametrize("log", LOGS, ids=[p.name for p in LOGS])
def test_fixes_agree_with_gpsd(log: Path) -> None:
    expected = gpsd_fixes(log.with_name(log.name + ".chk"))
    fixes = our_fixes(log)
    assert expected, "gpsd reported no fix: the log is not a useful test"
    ours = {tod_ms(str(f["time"])): f for f in fixes}
    assert len(ours) == len(fixes), "two fixes for one epoch"

    missing = sorted(set(expected) - set(ours))
    assert not missing, f"gpsd fixes we did not produce (time of day, ms): {missing[:5]}"
    for tod, tpv in expected.items():
        fix = ours[tod]
        assert abs(float(str(fix["lat"])) - tpv["lat"]) <= TOLERANCE_DEG, (tod, fix, tpv)
        assert abs(float(str(fix["lon"])) - tpv["lon"]) <= TOLERANCE_DEG, (tod, fix, tpv)
        assert fix["mode"] in (2, 3)

    times = [tod_ms(str(f["time"])) for f in fixes]
    for i, tod in enumerate(times):
        if tod in expected:
            continue
        last = i == len(times) - 1
        jump = not last and abs(times[i + 1] - tod) > JUMP_MS
        assert last or jump, f"fix at {fixes[i]['time']} that gpsd did not report"


def test_modes_mostly_agree_with_gpsd() -> None:
    """2D/3D: gpsd calls a fix 3D when GGA carries an altitude, even where the receiver's
    GSA says 2D (Garmin 25LP with three satellites). We follow the last statement in the
    epoch, which is the receiver's own GSA there; elsewhere we must agree."""
    shared_path("data", "nmea-gpsd")
    agree = total = 0
    for log in LOGS:
        expected = gpsd_fixes(log.with_name(log.name + ".chk"))
        for fix in our_fixes(log):
            tpv = expected.get(tod_ms(str(fix["time"])))
            if tpv is not None:
                total += 1
                agree += fix["mode"] == tpv["mode"]
    assert total > 400
    assert agree / total >= 0.97, f"{agree}/{total}"


def test_dates_are_real_dates_with_iso_utc() -> None:
    fixes = our_fixes(shared_path("data", "nmea-gpsd", "neo-m8n.log"))
    # The log's RMC says 18 March 2015 (two-digit year 15); gpsd's .chk shifts it to 2034.
    assert fixes[0]["time"] == "2015-03-18T17:19:26.000Z"


MP_SCRIPT = """
import sys
from common import nmea
p = nmea.Parser()
out = []
def emit(f):
    if f is not None:
        print('%s %d %d %d' % (f.iso_time(), f.lat_e9, f.lon_e9, f.mode))
for line in open(sys.argv[1], 'rb'):
    if not line.startswith(b'#'):
        emit(p.feed(line))
emit(p.flush())
"""


@pytest.mark.parametrize("log", LOGS, ids=[p.name for p in LOGS])
def test_micropython_parser_gives_the_same_fixes(
    log: Path, micropython: str, tmp_path: Path
) -> None:
    """The parser on the device's interpreter decodes the real logs exactly as on CPython."""
    import os
    import subprocess

    from jaylym.firmware_host import FIRMWARE_DIR

    script = tmp_path / "decode.py"
    script.write_text(MP_SCRIPT)
    proc = subprocess.run(
        [micropython, str(script), str(log)],
        env=dict(os.environ, MICROPYPATH=f"{FIRMWARE_DIR}:.frozen"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    nmea = firmware_module("common.nmea")
    parser = nmea.Parser()
    lines = [x for x in log.read_bytes().splitlines(keepends=True) if not x.startswith(b"#")]
    ours = [f"{f.iso_time()} {f.lat_e9} {f.lon_e9} {f.mode}" for f in parser.feed_many(lines)]
    assert ours, "no fixes: nothing compared"
    assert proc.stdout.splitlines() == ours

"""Every firmware file compiles with mpy-cross, as it must to be flashed as bytecode."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jaylym.firmware_host import FIRMWARE_DIR, firmware_sources, mpy_cross_binary

SOURCES = firmware_sources()


def test_there_is_firmware() -> None:
    names = {p.relative_to(FIRMWARE_DIR).as_posix() for p in SOURCES}
    for required in (
        "common/nmea.py",
        "common/mqtt.py",
        "common/queue.py",
        "boards/esp32.py",
        "boards/sim.py",
        "collar/main.py",
        "soil_station/main.py",
    ):
        assert required in names


@pytest.mark.parametrize(
    "src", SOURCES, ids=[p.relative_to(FIRMWARE_DIR).as_posix() for p in SOURCES]
)
def test_compiles_with_mpy_cross(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mpy"
    proc = subprocess.run(
        [mpy_cross_binary(), "-o", str(out), str(src)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:1] == b"M", "not an .mpy file"

"""firmware/common's unit tests (tests/firmware/fw_cases.py) under CPython and MicroPython."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jaylym.firmware_host import FIRMWARE_DIR

HERE = Path(__file__).resolve().parent
sys.path.append(str(FIRMWARE_DIR))
sys.path.append(str(HERE))
import fw_cases  # noqa: E402

CASES = sorted(name for name in dir(fw_cases) if name.startswith("test_"))


@pytest.mark.parametrize("name", CASES)
def test_cpython(name: str, tmp_path: Path) -> None:
    getattr(fw_cases, name)(str(tmp_path))


@pytest.fixture(scope="module")
def micropython_results(micropython: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("mp")
    env = dict(os.environ, MICROPYPATH=f"{FIRMWARE_DIR}:{HERE}:.frozen")
    proc = subprocess.run(
        [micropython, str(HERE / "fw_cases.py"), str(tmp)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    results: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASS", "FAIL"):
            name, _, error = rest.partition(": ")
            results[name] = status + (": " + error if error else "")
    return results, proc


@pytest.mark.parametrize("name", CASES)
def test_micropython(name: str, micropython_results: Any) -> None:
    results, proc = micropython_results
    assert name in results, f"did not run under MicroPython:\n{proc.stdout}\n{proc.stderr}"
    assert results[name] == "PASS", f"{results[name]}\n{proc.stdout}\n{proc.stderr}"


def test_micropython_is_really_micropython(micropython: str) -> None:
    out = subprocess.run(
        [micropython, "-c", "import sys; print(sys.implementation.name)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stdout.strip() == "micropython"

"""Shared helpers for firmware tests: the MicroPython binary and the firmware on CPython."""

from __future__ import annotations

import pytest

from jaylym.firmware_host import FIRMWARE_DIR, FirmwareHostError, micropython_binary
from tests.support import unavailable


@pytest.fixture(scope="session")
def micropython() -> str:
    try:
        return micropython_binary()
    except FirmwareHostError as exc:
        unavailable(str(exc))
        raise


@pytest.fixture(scope="session", autouse=True)
def _firmware_on_path() -> None:
    import sys

    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.append(str(FIRMWARE_DIR))

"""Shared helpers for firmware tests: the MicroPython binary and the firmware on CPython."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jaylym.firmware_host import FIRMWARE_DIR, FirmwareHostError, micropython_binary
from jaylym.services import Mosquitto
from tests.conftest import InfluxHandle
from tests.firmware.fleet import SINKS, Collector, Fleet, IngestSink, MqttSink, Sink
from tests.ingest.process import IngestProcess
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


@pytest.fixture
def fleet(own_mosquitto: Mosquitto, tmp_path: Path, micropython: str) -> Iterator[Fleet]:
    collector = Collector(own_mosquitto.url())
    collector.start()
    f = Fleet(own_mosquitto, collector, tmp_path / "devices")
    yield f
    f.stop_all()
    collector.stop()


@pytest.fixture(
    params=[pytest.param(s, marks=[pytest.mark.influx] if s == "ingest" else []) for s in SINKS]
)
def sink(request: pytest.FixtureRequest, fleet: Fleet, tmp_path: Path) -> Iterator[Sink]:
    if request.param == "mqtt":
        yield MqttSink(fleet.collector)
        return
    if request.param != "ingest":
        raise AssertionError(request.param)
    influx: InfluxHandle = request.getfixturevalue("influx")
    ingest = IngestProcess(fleet.broker.url(), influx.url, tmp_path / "ingest")
    ingest.start()
    store_sink = IngestSink(ingest)
    fleet.on_add.append(store_sink.register)
    try:
        yield store_sink
    finally:
        fleet.stop_all()  # the devices first, while the ingest still drains
        store_sink.close()
        ingest.stop()

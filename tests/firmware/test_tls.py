"""Devices over TLS (the field listener): the broker is verified against the device's CA."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jaylym.firmware_sim import SimDevice, read_events
from jaylym.mqtt_passwd import set_password
from jaylym.services import Mosquitto, free_port
from tests.firmware.fleet import Collector, MqttSink, wait_for
from tests.support import unavailable

pytestmark = pytest.mark.mqtt


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca_and_server(folder: Path, name: str = "localhost") -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=jaylym test CA",
        cwd=folder,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        f"/CN={name}",
        cwd=folder,
    )
    (folder / "san.ext").write_text(f"subjectAltName=DNS:{name}\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        cwd=folder,
    )
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, int, Path]]:
    if not shutil.which("openssl"):
        unavailable("openssl to make test certificates")
    ca, cert, key = make_ca_and_server(tmp_path / "pki")
    tls_port = free_port()
    server = Mosquitto(
        tmp_path / "mosquitto",
        overrides={"listener": f"{tls_port} 127.0.0.1", "certfile": str(cert), "keyfile": str(key)},
    )
    server.start()
    yield server, tls_port, ca
    server.stop()


@pytest.mark.parametrize("runner", ["micropython", "cpython"])
def test_soil_station_over_tls(
    tls_broker: tuple[Mosquitto, int, Path], tmp_path: Path, runner: str, micropython: str
) -> None:
    server, tls_port, ca = tls_broker
    set_password(server.password_file, "st-tls", "pw-tls")
    server.reload()
    collector = Collector(server.url())
    collector.start()
    try:
        device = SimDevice(
            device_id="st-tls",
            kind="soil",
            broker_url=f"mqtts://st-tls:pw-tls@localhost:{tls_port}",
            folder=tmp_path / "st-tls",
            speed=20000,
            ca=ca,
        )
        if runner == "micropython":
            assert device.start(2).wait(timeout=60) == 0
        else:
            device.run_cpython(2)
        wait_for(lambda: len(MqttSink(collector).readings("st-tls")) == 2, 10, "readings over TLS")
    finally:
        collector.stop()


def test_wrong_ca_is_refused_and_readings_stay_queued(
    tls_broker: tuple[Mosquitto, int, Path], tmp_path: Path, micropython: str
) -> None:
    server, tls_port, _ = tls_broker
    set_password(server.password_file, "st-mitm", "pw")
    server.reload()
    other_ca, _, _ = make_ca_and_server(tmp_path / "other-pki")
    device = SimDevice(
        device_id="st-mitm",
        kind="soil",
        broker_url=f"mqtts://st-mitm:pw@localhost:{tls_port}",
        folder=tmp_path / "st-mitm",
        speed=20000,
        ca=other_ca,
    )
    assert device.start(2).wait(timeout=60) == 0
    cycles = [e for e in read_events(device.folder / "device.log") if e["ev"] == "cycle"]
    assert len(cycles) == 2
    assert all(c["error"] and c["sent"] == 0 for c in cycles), cycles
    assert cycles[-1]["next_seq"] == 2

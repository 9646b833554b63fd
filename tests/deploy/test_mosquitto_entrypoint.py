"""deploy/mosquitto/entrypoint.sh, run for real: the docker-compose reload path. The
registry writes device entries to a shared file; the entrypoint merges them with the
service accounts and sends the real Mosquitto SIGHUP, without any signal from outside."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jaylym.registry.broker import PasswordFileAccounts, new_password
from jaylym.services import DEPLOY_MOSQUITTO_ACL, REPO_ROOT, Mosquitto, port_open
from tests.api.routes.test_devices import (
    connect_when_accepted,
    refused_when_reloaded,
    wait_for,
)
from tests.support import unavailable

pytestmark = pytest.mark.mqtt
ENTRYPOINT = REPO_ROOT / "deploy" / "mosquitto" / "entrypoint.sh"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        unavailable("mosquitto")
    if not shutil.which("mosquitto_passwd"):
        unavailable("mosquitto_passwd (Debian mosquitto package)")
    conf = tmp_path / "conf"
    server = Mosquitto(conf)  # only for its rendered production config and passwords
    (conf / "mosquitto.conf").write_text(server.render_conf())
    shutil.copyfile(DEPLOY_MOSQUITTO_ACL, conf / "acl")
    devices = tmp_path / "shared" / "passwd"
    env = {
        **os.environ,
        "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin",
        "JAYLYM_BROKER_CONF_DIR": str(conf),
        "JAYLYM_DEVICES_PASSWD": str(devices),
        "JAYLYM_PASSWD_POLL_S": "0.2",
        "MQTT_INGEST_PASSWORD": server.passwords["jaylym-ingest"],
        "MQTT_API_PASSWORD": server.passwords["jaylym-api"],
    }
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: port_open(server.port), "the broker to listen", timeout=15)
        yield server, devices
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_registry_changes_reach_the_broker_without_a_signal(
    broker: tuple[Mosquitto, Path],
) -> None:
    server, devices = broker
    connect_when_accepted(server.port, "jaylym-ingest", server.passwords["jaylym-ingest"]).close()

    accounts = PasswordFileAccounts(devices, pid_file=None)  # as in docker-compose
    password, hashed = new_password()
    assert accounts.set_device("collar-z1", hashed) is True
    device = connect_when_accepted(server.port, "collar-z1", password)
    try:
        accounts.remove_device("collar-z1")
        wait_for(device.disconnected.is_set, "the broker to drop the removed device")
        refused_when_reloaded(server.port, "collar-z1", password)
    finally:
        device.close()
    # The service accounts come from the environment, whatever the shared file holds.
    devices.write_text("jaylym-api:$7$101$AAAA$BBBB\n")
    time.sleep(1.0)
    connect_when_accepted(server.port, "jaylym-api", server.passwords["jaylym-api"]).close()

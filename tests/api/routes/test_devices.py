"""Device provisioning against the real Mosquitto: the broker accepts the credentials the API
returns once, the pattern ACL confines the device to its own topics, and revoking or
deleting the device removes its access, live connections included."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from jaylym.mqtt_passwd import read_entries, verify_password
from jaylym.registry.broker import PasswordFileAccounts
from jaylym.services import SERVICE_USER, Mosquitto
from tests.api.conftest import Api, make_api

pytestmark = pytest.mark.mqtt
# Bounded waits, generous because the machine is shared: the broker handles SIGHUP in its
# main loop, which can lag under load.
WAIT_S = 15.0


class Peer:
    """A paho MQTT v5 client that records what happens to it."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"t-{username}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(username, password)
        self.port = port
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_rc: ReasonCode | None = None
        self.messages: list[tuple[str, bytes]] = []
        self.acks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: ReasonCode, p: Any) -> None:
        self.connect_rc = rc
        if not rc.is_failure:
            self.connected.set()
        else:
            self.disconnected.set()

    def _on_publish(self, c: Any, u: Any, mid: int, rc: ReasonCode, p: Any) -> None:
        self.acks[mid] = rc.value

    def _on_subscribe(self, c: Any, u: Any, mid: int, rcs: list[ReasonCode], p: Any) -> None:
        self.subacks[mid] = [rc.value for rc in rcs]

    def connect(self, timeout: float = WAIT_S) -> bool:
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected.is_set():
                return True
            if self.disconnected.is_set():
                return False
            time.sleep(0.02)
        return False

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        info = self.client.publish(topic, payload, qos=1)
        wait_for(lambda: info.mid in self.acks, "PUBACK")
        return self.acks[info.mid]

    def subscribe(self, topic: str) -> int:
        _, mid = self.client.subscribe(topic, qos=1)
        wait_for(lambda: mid in self.subacks, "SUBACK")
        return self.subacks[mid][0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(check: Any, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def refused_when_reloaded(port: int, user: str, password: str) -> None:
    """The broker refuses these credentials once it has handled the SIGHUP."""

    def refused() -> bool:
        peer = Peer(port, user, password)
        try:
            return not peer.connect()
        finally:
            peer.close()

    wait_for(refused, f"the broker to refuse {user}")


def connect_when_accepted(port: int, user: str, password: str) -> Peer:
    """SIGHUP is handled asynchronously by the broker: retry briefly."""
    deadline = time.monotonic() + WAIT_S
    while True:
        peer = Peer(port, user, password)
        if peer.connect():
            return peer
        peer.close()
        if time.monotonic() > deadline:
            raise AssertionError(f"broker refused {user}: {peer.connect_rc}")
        time.sleep(0.1)


@pytest.fixture
def provisioned(own_mosquitto: Mosquitto, tmp_path: Path) -> Iterator[tuple[Api, Mosquitto]]:
    assert own_mosquitto.proc is not None
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(f"{own_mosquitto.proc.pid}\n")
    broker = PasswordFileAccounts(own_mosquitto.password_file, pid_file)
    api = make_api(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, broker=broker)
    yield api, own_mosquitto
    api.client.close()


def create(api: Api, device_id: str, **extra: Any) -> dict[str, Any]:
    body = {"id": device_id, "kind": "collar", "okrug_id": "sogety", "herd_id": "herd-a", **extra}
    r = api.client.post("/api/v1/devices", json=body, headers=api.as_("coordinator"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_device_gets_credentials_once_and_only_its_own_topics(
    provisioned: tuple[Api, Mosquitto],
) -> None:
    api, broker = provisioned
    created = create(api, "collar-x1")
    creds = created["mqtt"]
    assert creds["username"] == "collar-x1"
    assert creds["topic_prefix"] == "pasture/v1/+/+/collar-x1/"
    # Shown once: the registry keeps only the hash, the broker file only the hash.
    again = api.client.get("/api/v1/devices/collar-x1", headers=api.as_("coordinator")).json()
    assert "mqtt" not in again
    assert creds["password"] not in again.values()
    assert again["broker_registered"] is True
    entry = read_entries(broker.password_file)["collar-x1"]
    assert verify_password(creds["password"], entry)
    assert creds["password"] not in broker.password_file.read_text()

    observer = connect_when_accepted(broker.port, SERVICE_USER, broker.passwords[SERVICE_USER])
    assert observer.subscribe("pasture/v1/#") < 0x80
    device = connect_when_accepted(broker.port, "collar-x1", creds["password"])
    try:
        # The issued credentials reach the device's own topics. What they cannot reach (other
        # devices' topics and commands, the alerts, both MQTT versions) is proven in
        # tests/security/test_mqtt_access.py.
        assert device.subscribe("pasture/v1/+/+/collar-x1/cmd/#") < 0x80
        assert device.subscribe("pasture/v1/sogety/gps/+/up") < 0x80
        # 0 success, 16 "no matching subscribers": both accepted.
        assert device.publish("pasture/v1/sogety/gps/collar-x1/up", b"mine") in (0, 16)
        wait_for(
            lambda: ("pasture/v1/sogety/gps/collar-x1/up", b"mine") in observer.messages,
            "the device's own message at the ingest",
        )
        observer.publish("pasture/v1/sogety/gps/collar-x1/cmd/config", b"cfg")
        observer.publish("pasture/v1/sogety/gps/collar-a/cmd/config", b"not yours")
        observer.publish("pasture/v1/sogety/gps/collar-a/up", b"not yours either")
        wait_for(lambda: len(device.messages) >= 1, "own command")
        time.sleep(0.3)
        assert device.messages == [("pasture/v1/sogety/gps/collar-x1/cmd/config", b"cfg")]

        # A wrong password is refused.
        wrong = Peer(broker.port, "collar-x1", creds["password"] + "x")
        assert not wrong.connect()
        wrong.close()

        # Revoke: the live connection is dropped and the credentials stop working.
        r = api.client.post("/api/v1/devices/collar-x1/revoke", headers=api.as_("coordinator"))
        assert r.status_code == 200, r.text
        assert r.json()["active"] is False
        assert r.json()["broker_registered"] is False
        wait_for(device.disconnected.is_set, "the broker to drop the revoked device")
        assert "collar-x1" not in read_entries(broker.password_file)
        after = Peer(broker.port, "collar-x1", creds["password"])
        assert not after.connect()
        assert after.connect_rc is not None
        assert after.connect_rc.is_failure
        after.close()
    finally:
        device.close()
        observer.close()


def test_delete_removes_access_and_service_accounts_survive(
    provisioned: tuple[Api, Mosquitto],
) -> None:
    api, broker = provisioned
    creds = create(api, "collar-x2")["mqtt"]
    connect_when_accepted(broker.port, "collar-x2", creds["password"]).close()
    r = api.client.delete("/api/v1/devices/collar-x2", headers=api.as_("admin"))
    assert r.status_code == 204
    assert api.client.get("/api/v1/devices/collar-x2", headers=api.as_("admin")).status_code == 404
    entries = read_entries(broker.password_file)
    assert "collar-x2" not in entries
    assert {SERVICE_USER, "jaylym-api"} <= set(entries)
    refused_when_reloaded(broker.port, "collar-x2", creds["password"])
    connect_when_accepted(broker.port, SERVICE_USER, broker.passwords[SERVICE_USER]).close()


def test_duplicate_and_invalid_ids_are_refused(provisioned: tuple[Api, Mosquitto]) -> None:
    api, broker = provisioned
    create(api, "collar-x3")
    r = api.client.post(
        "/api/v1/devices",
        json={"id": "collar-x3", "kind": "collar", "okrug_id": "sogety"},
        headers=api.as_("admin"),
    )
    assert r.status_code == 409
    for bad in ("Collar-X", "ab", "collar/#", "jaylym-ingest!", "c" * 33):
        r = api.client.post(
            "/api/v1/devices",
            json={"id": bad, "kind": "collar", "okrug_id": "sogety"},
            headers=api.as_("admin"),
        )
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["field"] == "body.id"
    # The service accounts can never be taken over as device ids.
    r = api.client.post(
        "/api/v1/devices",
        json={"id": "jaylym-ingest", "kind": "collar", "okrug_id": "sogety"},
        headers=api.as_("admin"),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.id"
    assert verify_password(
        broker.passwords[SERVICE_USER], read_entries(broker.password_file)[SERVICE_USER]
    )


def test_device_read_model_carries_ingest_counters(provisioned: tuple[Api, Mosquitto]) -> None:
    from sqlalchemy.orm import Session

    from jaylym.registry.models import DeviceStats

    api, _ = provisioned
    with Session(api.app.state.engine) as s:
        s.add(
            DeviceStats(device_id="collar-a", received=120, missing=4, duplicates=2, last_seq=123)
        )
        s.commit()
    got = api.client.get("/api/v1/devices/collar-a", headers=api.as_("herder")).json()
    assert (got["received"], got["missing"]) == (120, 4)
    assert got["last_seen"] is None  # no store configured: null, not an error


def test_soil_station_fields_and_kind_rules(provisioned: tuple[Api, Mosquitto]) -> None:
    api, _ = provisioned
    ok = create(
        api,
        "soil-x1",
        kind="soil",
        herd_id=None,
        lat=43.56,
        lon=77.31,
        depths_cm=[10, 30, 60],
        calibration={"a": 1.07, "b": -2.1},
    )
    assert ok["depths_cm"] == [10, 30, 60]
    bad = api.client.post(
        "/api/v1/devices",
        json={"id": "soil-x2", "kind": "soil", "okrug_id": "sogety", "herd_id": "herd-a"},
        headers=api.as_("admin"),
    )
    assert bad.status_code == 422
    assert "herd_id is for collars" in bad.text


def test_new_credentials_replace_the_old_and_readmit_a_revoked_device(
    provisioned: tuple[Api, Mosquitto],
) -> None:
    api, broker = provisioned
    old = create(api, "collar-x4")["mqtt"]["password"]
    connect_when_accepted(broker.port, "collar-x4", old).close()
    assert (
        api.client.post("/api/v1/devices/collar-x4/revoke", headers=api.as_("admin")).status_code
        == 200
    )
    r = api.client.post("/api/v1/devices/collar-x4/credentials", headers=api.as_("coordinator"))
    assert r.status_code == 201, r.text
    new = r.json()["password"]
    assert new != old
    connect_when_accepted(broker.port, "collar-x4", new).close()
    refused = Peer(broker.port, "collar-x4", old)
    assert not refused.connect()
    refused.close()
    got = api.client.get("/api/v1/devices/collar-x4", headers=api.as_("admin")).json()
    assert got["active"] is True
    assert got["revoked_at"] is None

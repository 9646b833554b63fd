"""The firmware's MQTT client (CPython side) against the real broker: login, last will,
QoS 1 with PUBACK tracking, PINGREQ, SUBSCRIBE and the ACL, bounded waits."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jaylym.firmware_host import firmware_module
from jaylym.mqtt_passwd import set_password
from jaylym.services import Mosquitto
from tests.firmware.fleet import Collector, wait_for

pytestmark = pytest.mark.mqtt


@pytest.fixture
def mqtt_mod() -> Any:
    return firmware_module("common.mqtt")


def _device(own_mosquitto: Mosquitto, device_id: str = "cl-test") -> tuple[str, str]:
    set_password(own_mosquitto.password_file, device_id, "pw-" + device_id)
    own_mosquitto.reload()
    time.sleep(0.2)
    return device_id, "pw-" + device_id


def test_client_round_trip_ping_and_will(own_mosquitto: Mosquitto, mqtt_mod: Any) -> None:
    mqtt = mqtt_mod
    device_id, password = _device(own_mosquitto)
    base = f"pasture/v1/sogety/soil/{device_id}/"
    collector = Collector(own_mosquitto.url())
    collector.start()
    try:
        got: list[tuple[str, bytes, bool]] = []
        client = mqtt.MQTTClient(
            device_id, "127.0.0.1", own_mosquitto.port, device_id, password, timeout_ms=5000
        )
        client.on_message = lambda t, m, r: got.append((t, m, r))
        client.connect(will=(base + "status", b"offline", 1, True))
        collector.publish(base + "cmd/config", '{"interval_s": 600}', retain=True)
        client.subscribe(base + "cmd/#", 1)
        pids = [client.publish(base + "telemetry", b'{"n":%d}' % i, qos=1) for i in range(5)]
        assert client.wait_acked(pids, 5000)
        assert client.inflight == {}
        assert client.publish(base + "telemetry", b"qos0", qos=0) == 0  # nothing to track
        client.ping()
        client.poll(300)
        assert (base + "cmd/config", b'{"interval_s": 600}', True) in got
        wait_for(
            lambda: sum(m.topic == base + "telemetry" for m in collector.snapshot()) == 6,
            5,
            "five QoS 1 messages and one QoS 0",
        )
        client.close()  # the connection drops without DISCONNECT: the broker sends the will
        wait_for(
            lambda: any(
                m.topic == base + "status" and m.payload == b"offline" for m in collector.snapshot()
            ),
            5,
            "the last will",
        )
        assert client.tx_bytes > 0
        assert client.rx_bytes > 0
    finally:
        collector.stop()


def test_client_refused_and_bounded(own_mosquitto: Mosquitto, mqtt_mod: Any) -> None:
    mqtt = mqtt_mod
    device_id, _ = _device(own_mosquitto, "cl-bad")
    client = mqtt.MQTTClient(device_id, "127.0.0.1", own_mosquitto.port, device_id, "wrong")
    with pytest.raises(mqtt.MQTTError, match=r"bad user name or password|not authorised"):
        client.connect()
    assert not client.connected
    # Nothing listening: an error at once, not a hang.
    dead = mqtt.MQTTClient(device_id, "127.0.0.1", 9, device_id, "x", timeout_ms=2000)
    started = time.monotonic()
    with pytest.raises(mqtt.MQTTError):
        dead.connect()
    assert time.monotonic() - started < 3


def test_acl_keeps_a_device_to_its_own_topics(own_mosquitto: Mosquitto, mqtt_mod: Any) -> None:
    """Publishing under another id is dropped by the broker; another device's commands
    never reach this one."""
    mqtt = mqtt_mod
    device_id, password = _device(own_mosquitto, "cl-acl")
    collector = Collector(own_mosquitto.url())
    collector.start()
    try:
        client = mqtt.MQTTClient(device_id, "127.0.0.1", own_mosquitto.port, device_id, password)
        client.connect()
        pid = client.publish("pasture/v1/sogety/soil/someone-else/telemetry", b"x", qos=1)
        client.wait_acked([pid], 2000)
        # Mosquitto 2.0 acknowledges, drops, and may then close the connection: reconnect.
        client.connect()
        own = client.publish(f"pasture/v1/sogety/soil/{device_id}/telemetry", b"y", qos=1)
        assert client.wait_acked([own], 5000)
        wait_for(lambda: any(m.payload == b"y" for m in collector.snapshot()), 5, "own message")
        assert not any(m.payload == b"x" for m in collector.snapshot())
        got: list[str] = []
        client.on_message = lambda t, m, r: got.append(t)
        # Mosquitto grants the subscription but delivers nothing the ACL does not allow.
        client.subscribe("pasture/v1/sogety/soil/someone-else/cmd/#", 1)
        collector.publish("pasture/v1/sogety/soil/someone-else/cmd/config", "{}", retain=False)
        client.poll(500)
        assert got == []
        client.disconnect()
    finally:
        collector.stop()

"""MQTT access against the real Mosquitto with the project's own configuration
(deploy/mosquitto/mosquitto.conf and acl, loaded by `jaylym.services.Mosquitto` as the
`mosquitto` fixture does): who may connect, and what a device's credentials may publish and
read.

Absence is proven with a marker, not a sleep: after each forbidden publish a permitted
message follows on the same path; once the marker arrives, anything the broker had routed
before it would have arrived too. Both protocol versions devices use are covered: MQTT 3.1.1
(the firmware; the broker acknowledges and drops) and MQTT 5 (PUBACK 0x87, not authorized).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from api.alerts.channels.mqtt import topic_for
from ingest.consumer import DLQ_TOPIC
from jaylym.services import API_USER, SERVICE_USER, Mosquitto
from jaylym.settings import parse_mqtt_url

pytestmark = pytest.mark.mqtt
WAIT_S = 15.0  # generous: the machine is shared; every wait below is bounded by it
DEV_A, DEV_B = "sec-collar-a", "sec-collar-b"
OWN_A = f"pasture/v1/sogety/collar/{DEV_A}"
OWN_B = f"pasture/v1/sogety/collar/{DEV_B}"
PROTOCOLS = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Peer:
    """A paho client recording what it receives and the broker's answers."""

    def __init__(self, port: int, user: str | None, password: str | None, protocol: int) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sec-{user}-{uuid.uuid4().hex[:8]}",
            protocol=protocol,  # type: ignore[arg-type]
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        # The broker drops a client after a refused publish; paho's loop thread then sleeps
        # its reconnect delay (1 s by default) before `loop_stop` can join it.
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.05)  # type: ignore[arg-type]
        self.port = port
        self.rc: Any = None
        self.done = threading.Event()
        self.messages: list[tuple[str, bytes]] = []
        self.acks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc.value)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.__setitem__(
            mid, [rc.value for rc in rcs]
        )

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: Any, p: Any) -> None:
        self.rc = rc
        self.done.set()

    def connect(self) -> bool:
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        assert self.done.wait(WAIT_S), "no CONNACK"
        return not self.rc.is_failure

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        wait_for(lambda: info.mid in self.acks, f"PUBACK for {topic}")
        return self.acks[info.mid]

    def subscribe(self, topic: str) -> list[int]:
        _, mid = self.client.subscribe(topic, qos=1)
        wait_for(lambda: mid in self.subacks, f"SUBACK for {topic}")
        return self.subacks[mid]

    def received(self, payload: bytes) -> bool:
        return any(p == payload for _t, p in self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A broker of this module's own, with two devices in its password file from the start
    (no SIGHUP into the shared broker); everything else is the deploy configuration."""
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto-sec"))
    server.passwords[DEV_A] = uuid.uuid4().hex
    server.passwords[DEV_B] = uuid.uuid4().hex
    try:
        server.start()
    except Exception as exc:  # no local mosquitto binary: the same rule as tests/conftest.py
        from tests.support import unavailable

        unavailable(f"local mosquitto ({exc})")
    yield server
    server.stop()


def peer(broker: Mosquitto, user: str, protocol: int = mqtt.MQTTv5) -> Peer:
    p = Peer(broker.port, user, broker.passwords[user], protocol)
    assert p.connect(), f"{user} refused: {p.rc}"
    return p


# -- who may connect -------------------------------------------------------------------------


def test_anonymous_connect_is_refused(mosquitto: Any) -> None:
    """Against the shared session broker (the `mosquitto` fixture) and for both protocols."""
    if mosquitto.server is None:
        pytest.skip("broker from JAYLYM_TEST_MQTT_URL: its auth is not ours to check")
    cfg = parse_mqtt_url(mosquitto.anonymous_url)
    for protocol in PROTOCOLS.values():
        anon = Peer(cfg.port, None, None, protocol)
        try:
            assert not anon.connect(), "the project's mosquitto.conf must refuse anonymous"
        finally:
            anon.close()


def test_wrong_password_and_unknown_user_are_refused(broker: Mosquitto) -> None:
    for user, password in ((DEV_A, broker.passwords[DEV_B]), ("sec-nobody", "x"),
                           (DEV_A, ""), (SERVICE_USER, broker.passwords[DEV_A])):  # fmt: skip
        p = Peer(broker.port, user, password, mqtt.MQTTv5)
        try:
            assert not p.connect(), user
        finally:
            p.close()


# -- what a device may publish ----------------------------------------------------------------

FORBIDDEN_PUBLISH = [
    f"{OWN_B}/telemetry",  # another device's telemetry
    f"{OWN_B}/status",
    f"{OWN_B}/cmd/config",  # commands to another device
    f"pasture/v1/sogety/collar/{DEV_A}x/telemetry",  # an id sharing A's prefix
    f"pasture/v1/other-okrug/soil/{DEV_B}/telemetry",
    topic_for("herder-1"),  # a forged alert to a herder
    DLQ_TOPIC.format(reason="bad_schema"),  # a forged dead letter
    "pasture/v1/sogety/collar",
    f"other/{DEV_A}",
    "$SYS/broker/forged",
]


@pytest.mark.parametrize("version", sorted(PROTOCOLS))
def test_a_device_cannot_publish_under_another_topic(broker: Mosquitto, version: str) -> None:
    protocol = PROTOCOLS[version]
    observer = peer(broker, SERVICE_USER)
    try:
        assert observer.subscribe("#") == [1]
        for n, topic in enumerate(FORBIDDEN_PUBLISH):
            spoof = f"spoof-{version}-{n}".encode()
            marker = f"own-{version}-{n}".encode()
            device = peer(broker, DEV_A, protocol)
            try:
                rc = device.publish(topic, spoof)
                # 3.1.1 has no negative PUBACK: the broker acknowledges and drops.
                assert rc == (0x87 if protocol == mqtt.MQTTv5 else 0), topic
            finally:
                device.close()
            device = peer(broker, DEV_A, protocol)  # 5: the broker drops the connection
            try:
                assert device.publish(f"{OWN_A}/telemetry", marker) in (0, 16)
            finally:
                device.close()
            wait_for(lambda m=marker: observer.received(m), f"marker after {topic}")
            assert not observer.received(spoof), f"{DEV_A} published to {topic}"
    finally:
        observer.close()


# -- what a device may read -------------------------------------------------------------------

FORBIDDEN_READ = [
    # (what the device subscribes to, where the service publishes)
    (f"{OWN_B}/cmd/#", f"{OWN_B}/cmd/config"),
    ("pasture/v1/+/+/+/cmd/#", f"{OWN_B}/cmd/reboot"),
    (f"{OWN_B}/telemetry", f"{OWN_B}/telemetry"),  # another device's positions
    ("pasture/v1/alerts/#", topic_for("herder-1")),
    (topic_for("herder-1"), topic_for("herder-1")),
    ("pasture/v1/+/+", topic_for("herder-2")),
    ("pasture/v1/_dlq/#", DLQ_TOPIC.format(reason="unknown_device")),
    ("#", topic_for("herder-3")),
]


@pytest.mark.parametrize("version", sorted(PROTOCOLS))
def test_a_device_cannot_read_other_commands_nor_the_alerts(
    broker: Mosquitto, version: str
) -> None:
    """Mosquitto 2.0 grants a SUBSCRIBE and applies read rights at delivery: the proof is
    that nothing arrives, retained messages included, while its own commands do."""
    service = peer(broker, API_USER)
    device = peer(broker, DEV_A, PROTOCOLS[version])
    try:
        for _filter, topic in FORBIDDEN_READ:
            if "/cmd/" in topic:  # retained config waits for whoever subscribes later
                service.publish(topic, f"retained-{version}".encode(), retain=True)
        for topic_filter, _topic in FORBIDDEN_READ:
            rcs = device.subscribe(topic_filter)
            assert all(rc < 0x80 for rc in rcs) or rcs == [0x87], (topic_filter, rcs)
        assert device.subscribe(f"{OWN_A}/cmd/#")[0] < 0x80
        for n, (_filter, topic) in enumerate(FORBIDDEN_READ):
            service.publish(topic, f"secret-{version}-{n}".encode())
        marker = f"own-cmd-{version}".encode()
        service.publish(f"{OWN_A}/cmd/config", marker)
        wait_for(lambda: device.received(marker), "the device's own command")
        leaked = [(t, p) for t, p in device.messages if p != marker]
        assert leaked == [], f"{DEV_A} read what is not its own"
    finally:
        for _filter, topic in FORBIDDEN_READ:
            if "/cmd/" in topic:
                service.publish(topic, b"", retain=True)  # clear the retained message
        device.close()
        service.close()


def test_the_alerts_topic_is_where_the_acl_assumes() -> None:
    """The cases above name the alert topics through the channel's own `topic_for`; this pins
    that the tree stays outside every device pattern of the ACL (`+/+/%u/...` needs a device
    level after okrug and kind), so a change to either shows up here."""
    from jaylym.services import DEPLOY_MOSQUITTO_ACL

    topic = topic_for("herder-1")
    assert topic == "pasture/v1/alerts/herder-1"
    patterns = [
        line.split(None, 2)[2]
        for line in DEPLOY_MOSQUITTO_ACL.read_text().splitlines()
        if line.startswith("pattern ")
    ]
    assert patterns
    for pattern in patterns:
        assert _matches(pattern.replace("%u", "herder-1"), topic) is False, pattern
        assert _matches(pattern.replace("%u", "alerts"), topic) is False, pattern


def _matches(topic_filter: str, topic: str) -> bool:
    return bool(mqtt.topic_matches_sub(topic_filter, topic))


def test_a_device_cannot_take_over_another_devices_session(broker: Mosquitto) -> None:
    """B keeps a persistent session with commands queued while it is away; A connecting with
    B's client id gets a fresh session (Mosquitto 2.0 does not hand a session to another
    username), so B's queued commands are never delivered to A. (It does end B's session:
    B loses what was queued; an availability matter, not a leak.)"""
    client_id = f"{DEV_B}-{uuid.uuid4().hex[:6]}"

    def session(user: str) -> tuple[mqtt.Client, list[bytes], threading.Event]:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                        protocol=mqtt.MQTTv311)  # fmt: skip
        c.username_pw_set(user, broker.passwords[user])
        got: list[bytes] = []
        up = threading.Event()
        c.on_message = lambda cl, u, m: got.append(m.payload)
        c.on_connect = lambda cl, u, f, rc, p: up.set() if not rc.is_failure else None
        c.connect("127.0.0.1", broker.port, keepalive=10)
        c.loop_start()
        assert up.wait(WAIT_S), f"{user} not connected"
        return c, got, up

    b, _, _ = session(DEV_B)
    subscribed = threading.Event()
    b.on_subscribe = lambda *a: subscribed.set()
    b.subscribe(f"{OWN_B}/cmd/#", qos=1)
    assert subscribed.wait(WAIT_S)
    b.disconnect()
    b.loop_stop()
    service = peer(broker, API_USER)
    try:
        # The control: B's own reconnection does get what was queued for it.
        service.publish(f"{OWN_B}/cmd/config", b"queued-for-b-1")
        b, got_b, _ = session(DEV_B)
        wait_for(lambda: b"queued-for-b-1" in got_b, "B's queued command")
        b.disconnect()
        b.loop_stop()
        service.publish(f"{OWN_B}/cmd/config", b"queued-for-b")
        a, got, _ = session(DEV_A)
        try:
            a.subscribe(f"{OWN_A}/cmd/#", qos=1)
            marker = b"own-cmd-after-takeover"
            wait_for(lambda: service.publish(f"{OWN_A}/cmd/config", marker) < 0x80
                     and marker in got, "A's own command")  # fmt: skip
            assert b"queued-for-b" not in got
        finally:
            a.disconnect()
            a.loop_stop()
    finally:
        service.close()

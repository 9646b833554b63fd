"""MQTT channel against a real Mosquitto: QoS 1 to pasture/v1/alerts/{herder_id}."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from api.alerts.channels.mqtt import MqttChannel, topic_for
from api.alerts.delivery import Deliverer, RetryPolicy
from api.alerts.delivery_log import SqlDeliveryLog
from api.alerts.recipients import Endpoint, Recipient
from jaylym.services import API_USER, Mosquitto
from jaylym.settings import parse_mqtt_url
from tests.api.alerts.samples import alert
from tests.conftest import BrokerHandle

pytestmark = pytest.mark.mqtt


def publisher_url(broker: BrokerHandle) -> str:
    # The API's own service account when the broker is ours; the fixture's otherwise.
    return broker.server.url(API_USER) if broker.server is not None else broker.url


@contextmanager
def subscribed(url: str, topic: str) -> Iterator[queue.Queue[mqtt.MQTTMessage]]:
    cfg = parse_mqtt_url(url)
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    ready = queue.Queue[int]()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:6]}")
    if cfg.username:
        client.username_pw_set(
            cfg.username, cfg.password.get_secret_value() if cfg.password else None
        )
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda c, u, mid, rcs, p: ready.put(mid)
    client.on_message = lambda c, u, msg: received.put(msg)
    client.connect(cfg.host, cfg.port)
    client.loop_start()
    try:
        ready.get(timeout=10)
        yield received
    finally:
        client.disconnect()
        client.loop_stop()


def herder(rid: str) -> Recipient:
    return Recipient(
        id=rid,
        role="herder",
        name="Асқар",
        language="kk",
        endpoints=(Endpoint("mqtt"),),
        herd_ids=frozenset({"h-askar"}),
    )


def test_alert_is_published_qos1_to_the_herders_topic(
    mosquitto: BrokerHandle, delivery_log: SqlDeliveryLog
) -> None:
    rid = f"herder-{uuid.uuid4().hex[:8]}"
    channel = MqttChannel(parse_mqtt_url(publisher_url(mosquitto)), timeout_s=5)
    deliverer = Deliverer(delivery_log, {"mqtt": channel}, policy=RetryPolicy(base_s=0.1))
    try:
        with subscribed(mosquitto.url, f"pasture/v1/alerts/{rid}") as received:
            (key,) = deliverer.submit(alert("device_offline"), [herder(rid)])
            assert deliverer.run_until_idle(10).sent == 1
            message = received.get(timeout=10)
    finally:
        deliverer.close()
    assert message.topic == f"pasture/v1/alerts/{rid}"
    assert message.qos == 1
    assert not message.retain
    doc = json.loads(message.payload)
    assert doc["key"] == key
    assert doc["alert"]["rule"] == "device_offline"
    assert doc["language"] == "kk"
    assert "Құрылғы байланыста жоқ" in doc["text"]
    assert "14:05" in doc["sms"]  # local time
    assert [a.status for a in delivery_log.attempts_of(key)] == ["sent"]


def test_broker_down_then_back_retries_and_sends_once(
    own_mosquitto: Mosquitto, delivery_log: SqlDeliveryLog
) -> None:
    rid = f"herder-{uuid.uuid4().hex[:8]}"
    url = own_mosquitto.url(API_USER)
    own_mosquitto.stop()
    channel = MqttChannel(parse_mqtt_url(url), timeout_s=0.5)
    deliverer = Deliverer(
        delivery_log,
        {"mqtt": channel},
        policy=RetryPolicy(max_attempts=20, base_s=0.2, max_backoff_s=1),
    )
    try:
        (key,) = deliverer.submit(alert("low_battery"), [herder(rid)])
        first = deliverer.run_due()
        assert (first.attempted, first.retrying) == (1, 1)
        own_mosquitto.start()
        with subscribed(url, f"pasture/v1/alerts/{rid}") as received:
            assert deliverer.run_until_idle(20).sent == 1
            message = received.get(timeout=10)
            assert json.loads(message.payload)["key"] == key
            with pytest.raises(queue.Empty):
                received.get(timeout=0.5)  # exactly one
    finally:
        deliverer.close()
    statuses = [a.status for a in delivery_log.attempts_of(key)]
    assert statuses[0] == "retry"
    assert statuses[-1] == "sent"
    assert statuses.count("sent") == 1


def test_topic_levels_cannot_be_injected() -> None:
    assert topic_for("herder-1") == "pasture/v1/alerts/herder-1"
    for bad in ("a/b", "#", "+", "Herder", ""):
        with pytest.raises(ValueError, match="topic"):
            topic_for(bad)

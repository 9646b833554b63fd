"""The demo's embedded broker relays QoS 1 over MQTT 3.1.1 and stops cleanly."""

from __future__ import annotations

import queue

import paho.mqtt.client as mqtt

from jaylym.demo.broker import EmbeddedBroker
from jaylym.services import port_open


def test_embedded_broker_relays_qos1_over_311() -> None:
    with EmbeddedBroker() as broker:
        got: queue.Queue[tuple[str, bytes, int]] = queue.Queue()
        ready: queue.Queue[bool] = queue.Queue()
        sub = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="demo-sub", protocol=mqtt.MQTTv311
        )
        sub.on_connect = lambda c, u, f, rc, p: c.subscribe("pasture/v1/#", qos=1)
        sub.on_subscribe = lambda *a: ready.put(True)
        sub.on_message = lambda c, u, m: got.put((m.topic, m.payload, m.qos))
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        ready.get(timeout=10)

        pub = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="demo-pub", protocol=mqtt.MQTTv311
        )
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        topic = "pasture/v1/sogety/soil/st-01/telemetry"
        pub.publish(topic, b'{"v":1}', qos=1).wait_for_publish(timeout=10)
        assert got.get(timeout=10) == (topic, b'{"v":1}', 1)
        for client in (pub, sub):
            client.disconnect()
            client.loop_stop()
        port = broker.port
    assert not port_open(port), "the broker must not outlive the demo"

"""MQTT channel: a QoS 1 publish of the alert JSON to `pasture/v1/alerts/{herder_id}`.

A thin paho-mqtt 2.x wrapper: one long-lived connection, started lazily, with paho's own
reconnect. A publish counts as sent when the broker's PUBACK arrives within the timeout.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from api.alerts.channels import Outbound, Outcome
from api.alerts.recipients import RECIPIENT_ID_PATTERN, ChannelName
from jaylym.settings import MqttConfig

TOPIC = "pasture/v1/alerts/{herder_id}"


def topic_for(herder_id: str) -> str:
    if not RECIPIENT_ID_PATTERN.fullmatch(herder_id):
        raise ValueError(f"herder id {herder_id!r} cannot name a topic level")
    return TOPIC.format(herder_id=herder_id)


class MqttChannel:
    name: ChannelName = "mqtt"
    text_form: Literal["sms", "full"] = "full"
    # QoS 1 is at-least-once anyway; the payload carries the delivery key for the app to dedupe.
    receiver_dedupes = True

    def __init__(
        self, config: MqttConfig, *, client_id: str | None = None, timeout_s: float = 10.0
    ) -> None:
        self._config = config
        self._timeout_s = timeout_s
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"jaylym-alerts-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        if config.username:
            password = config.password.get_secret_value() if config.password else None
            self._client.username_pw_set(config.username, password)
        if config.tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        if not getattr(reason, "is_failure", False):
            self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        self._connected.clear()

    def _ensure_started(self) -> None:
        with self._lock:
            if not self._started:
                self._client.connect_async(self._config.host, self._config.port, keepalive=30)
                self._client.loop_start()
                self._started = True

    def check_address(self, address: str, recipient_id: str) -> None:
        topic_for(recipient_id)

    def send(self, message: Outbound) -> Outcome:
        topic = topic_for(message.recipient_id)
        self._ensure_started()
        if not self._connected.wait(self._timeout_s):
            # Not queued inside paho: a message paho kept for later could go out twice.
            return Outcome.retry("broker not connected")
        body = json.dumps(message.payload, ensure_ascii=False)
        info = self._client.publish(topic, body.encode(), qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return Outcome.retry(f"publish refused: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(self._timeout_s)
        except (RuntimeError, ValueError) as exc:
            return Outcome.retry(f"publish failed: {exc}")
        if not info.is_published():
            return Outcome.retry(f"no PUBACK within {self._timeout_s:g} s")
        return Outcome.sent(provider_id=str(info.mid))

    def close(self) -> None:
        with self._lock:
            if self._started:
                self._client.disconnect()
                self._client.loop_stop()
                self._started = False

"""A thin paho-mqtt 2.x wrapper behind a small interface (the consumer never sees paho).

- QoS 1 subscription on a persistent session with a stable client id: MQTT 5 with
  `clean_start=False` and a session expiry (paho's default, MQTT_CLEAN_START_FIRST_ONLY, would
  throw the session away at every process start), or 3.1.1 with `clean_session=False`.
- Manual acknowledgement: PUBACK goes out only when the consumer calls `ack()`.
- Every connection has a generation number. A message from an earlier connection is never
  acknowledged on a later one (its packet id may by then name another message); the broker
  redelivers it instead and the repeat window drops it.
- A retained status topic with a last will, `online` / `offline`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from jaylym.settings import MqttConfig

log = structlog.get_logger("jaylym.ingest.mqtt")


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: float


class Transport(Protocol):
    @property
    def connected(self) -> bool: ...

    def start(self) -> None: ...

    def ack(self, message: Inbound) -> bool:
        """PUBACK the message; False when it came on an earlier connection (not acked)."""
        ...

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class SessionOptions:
    client_id: str
    protocol: str  # "3.1.1" or "5"
    session_expiry_s: int
    subscriptions: tuple[str, ...]
    receive_maximum: int
    status_topic: str | None = None
    keepalive_s: int = 30


class PahoTransport:
    def __init__(
        self,
        broker: MqttConfig,
        options: SessionOptions,
        on_message: Callable[[Inbound], None],
    ) -> None:
        self.broker = broker
        self.options = options
        self._on_message = on_message
        self._generation = 0
        self._connected = threading.Event()
        v5 = options.protocol == "5"
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if broker.username:
            password = broker.password.get_secret_value() if broker.password else None
            self.client.username_pw_set(broker.username, password)
        if broker.tls:
            self.client.tls_set()
        if options.status_topic:
            self.client.will_set(options.status_topic, b"offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        self.client.on_message = self._handle_message

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def generation(self) -> int:
        return self._generation

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.options.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.options.session_expiry_s
            if self.options.receive_maximum:
                # Our in-flight window: without it paho announces none and the broker may
                # keep up to 65 535 messages in flight, the whole packet-id space.
                props.ReceiveMaximum = self.options.receive_maximum
            kwargs = {"clean_start": False, "properties": props}
        self.client.connect_async(
            self.broker.host, self.broker.port, keepalive=self.options.keepalive_s, **kwargs
        )
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _handle_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("mqtt connect refused", reason=str(reason))
            return
        self._generation += 1
        log.info(
            "mqtt connected",
            session_present=bool(getattr(flags, "session_present", False)),
            generation=self._generation,
            protocol=self.options.protocol,
        )
        client.subscribe([(topic, 1) for topic in self.options.subscriptions])
        if self.options.status_topic:
            client.publish(self.options.status_topic, b"online", qos=1, retain=True)
        self._connected.set()

    def _handle_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()
        log.warning("mqtt disconnected", reason=str(reason))

    def _handle_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # paho decodes lazily; an exception here would kill its loop
            topic = msg._topic.decode("utf-8", "replace")
        self._on_message(
            Inbound(
                topic=topic,
                payload=bytes(msg.payload),
                mid=msg.mid,
                qos=msg.qos,
                generation=self._generation,
                received_at=time.time(),
            )
        )

    def ack(self, message: Inbound) -> bool:
        if message.qos == 0:
            return True
        if message.generation != self._generation or not self.connected:
            return False
        self.client.ack(message.mid, message.qos)
        return True

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def stop(self) -> None:
        if self.options.status_topic and self.connected:
            info = self.client.publish(self.options.status_topic, b"offline", qos=1, retain=True)
            with contextlib.suppress(ValueError, RuntimeError):
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

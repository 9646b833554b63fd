"""A thin paho-mqtt 2.x wrapper behind a small interface (the consumer never sees paho).

- QoS 1 subscription on a persistent session with a stable client id: MQTT 5 with
  `clean_start=False` and a session expiry (paho's default, MQTT_CLEAN_START_FIRST_ONLY, would
  throw the session away at every process start), or 3.1.1 with `clean_session=False`.
- Manual acknowledgement: PUBACK goes out only when the consumer calls `ack()`.
- Every connection has a generation number. A message from an earlier connection is never
  acknowledged on a later one (its packet id may by then name another message); the broker
  redelivers it instead and the repeat window drops it.
- A retained status topic with a last will, `online` / `offline`.
- Two costs taken out of paho's per-message path (`_FastClient`): reads are buffered, and a
  batch's PUBACKs leave in one write.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from jaylym.settings import MqttConfig

log = structlog.get_logger("jaylym.ingest.mqtt")


class Inbound(NamedTuple):
    """One message as the network thread hands it over (a tuple: built once per message on
    the busiest thread, it must be cheap; a frozen dataclass costs several times more)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: float


_tuple_new = tuple.__new__


def _topic_text(topic: bytes) -> str:
    try:
        return topic.decode()
    except UnicodeDecodeError:  # refused later as a bad topic, never a crash of the loop
        return topic.decode("utf-8", "replace")


class Transport(Protocol):
    @property
    def connected(self) -> bool: ...

    def start(self) -> None: ...

    def ack(self, message: Inbound) -> bool:
        """PUBACK the message; False when it came on an earlier connection (not acked)."""
        ...

    def ack_many(self, messages: Sequence[Inbound]) -> int:
        """PUBACK a batch (in order, as `ack` would one by one); returns how many were."""
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


RECV_CHUNK = 256 * 1024
_TOPIC_CACHE = 16384  # topics kept as text: a device sends the same topic with every message
_PUBACK = struct.Struct("!BBH")
_PUBACK_BYTE = 0x40
# The paho internals `_FastClient` builds on; with another paho it falls back to plain paho.
# (Its attributes `_in_packet`, `_msgtime_mutex` and `_rbuf`'s socket `_sock` are set per
# instance: tests/ingest/test_mqtt_reads.py drives them against the installed paho.)
_PAHO_HOOKS = ("_sock_recv", "_packet_read", "_packet_queue", "_loop_rc_handle", "_handle_publish")


class _FastClient(paho.Client):
    """paho's client, minus three per-message costs that dominate at thousands of messages a
    second (measured with py-spy, bench/results/ingest-profile.txt):

    - paho reads each packet with three `recv` calls (command byte, length byte(s), body) and
      goes back to `select` after every packet. Here `recv` fills a buffer in large chunks and
      `loop_read` handles every whole packet the buffer holds before paho selects again
      (PUBLISHes parsed in place, `_take_publishes`; the rest through paho's reader).
    - `ack()` queues one 4-byte PUBACK and wakes the network thread through its socket pair,
      per message. `ack_many` queues a batch's PUBACKs as one write and wakes it once.
    - For an MQTT 3.1.1 PUBLISH at QoS 0 or 1, paho builds a message object, formats a debug
      line, takes two locks and walks its topic-callback tree before calling `on_message`.
      With `on_publish_raw` set, the packet's three fields go straight to it instead (MQTT 5,
      QoS 2 and anything malformed still take paho's path).

    Both hook private methods of paho 2.x (checked at import, `_PAHO_HOOKS`; tests/ingest
    exercise them against the installed paho). Packet parsing, keepalive, reconnects, TLS and
    MQTT 5 stay paho's.
    """

    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: object = None
    on_publish_raw: Callable[[bytes, bytes, int, int], None] | None = None
    # Takes every PUBLISH of one read at once, as `Inbound`s of the connection generation
    # that `generation()` names (asked once per read).
    on_publishes: Callable[[list[Inbound]], None] | None = None
    generation: Callable[[], int] = staticmethod(lambda: 0)
    _topics: dict[bytes, str] | None = None

    def _handle_publish(self) -> MQTTErrorCode:
        handler = self.on_publish_raw
        command: int = self._in_packet["command"]
        packet: bytearray = self._in_packet["packet"]
        qos = (command & 0x06) >> 1
        if handler is None or self._protocol != paho.MQTTv311 or qos > 1 or len(packet) < 2:
            return super()._handle_publish()
        end = 2 + int.from_bytes(packet[:2], "big")
        if end == 2 or end + 2 * qos > len(packet):
            return super()._handle_publish()  # malformed: paho says so in its own way
        mid = int.from_bytes(packet[end : end + 2], "big") if qos else 0
        handler(bytes(packet[2:end]), bytes(packet[end + 2 * qos :]), mid, qos)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: nothing of the old one is kept
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        if self._rpos >= len(self._rbuf):
            chunk = super()._sock_recv(max(bufsize, RECV_CHUNK))
            if len(chunk) <= bufsize:
                return chunk  # includes b"" (closed), which paho must see as it is
            self._rbuf, self._rpos = chunk, 0
        start = self._rpos
        self._rpos = end = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:end]

    def _buffered(self) -> bool:
        return self._rsock is self._sock and self._rpos < len(self._rbuf)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        # `select` cannot see what is already in the buffer: handle it all now. Each round
        # consumes at least one buffered byte, so this ends.
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self._buffered():
            if self._in_packet["command"] == 0 and self._take_publishes():
                continue
            rc = self._packet_read()  # anything else, or a packet paho is half-way through
            if rc > 0:
                return self._loop_rc_handle(rc)
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        return rc

    def _take_publishes(self) -> bool:
        """Hand over the whole QoS 0/1 PUBLISH packets at the front of the buffer, parsed in
        place (paho's `_packet_read` costs a fresh packet dict and two lock round trips per
        packet), in one call for the lot: one hand-over per read instead of one per message.
        Stops at the first packet that is anything else, incomplete or malformed, which
        paho's own code then reads. True when it handed over at least one."""
        handler = self.on_publishes
        if handler is None or self._protocol != paho.MQTTv311:
            return False
        buf, pos, end = self._rbuf, self._rpos, len(self._rbuf)
        topics = self._topics
        if topics is None or len(topics) > _TOPIC_CACHE:  # bounded: made-up topics only evict
            topics = self._topics = {}
        generation = self.generation()
        now = time.time()  # they all arrived in this one read
        out: list[Inbound] = []
        while pos + 2 <= end:
            command = buf[pos]
            qos = (command >> 1) & 3
            if command & 0xF0 != 0x30 or qos > 1:
                break
            length = buf[pos + 1]
            if length < 0x80:  # one or two length bytes: every telemetry message
                i = pos + 2
            elif pos + 2 < end and buf[pos + 2] < 0x80:
                length = (length & 0x7F) | buf[pos + 2] << 7
                i = pos + 3
            else:
                length = shift = 0
                i = pos + 1
                while i < end and i <= pos + 4:
                    byte = buf[i]
                    i += 1
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                else:
                    break  # the length is not all here (or too long: paho refuses it)
                if buf[i - 1] & 0x80:
                    break
            if i + length > end or length < 2:
                break
            topic_end = i + 2 + (buf[i] << 8 | buf[i + 1])
            if topic_end == i + 2 or topic_end + 2 * qos > i + length:
                break  # malformed: paho says so in its own way
            mid = buf[topic_end] << 8 | buf[topic_end + 1] if qos else 0
            raw = buf[i + 2 : topic_end]
            topic = topics.get(raw)
            if topic is None:
                topic = topics[raw] = _topic_text(raw)
            pos = i + length
            out.append(_tuple_new(Inbound, (topic, buf[topic_end + 2 * qos : pos], mid, qos,
                                            generation, now)))  # fmt: skip
        if not out:
            return False
        self._rpos = pos
        handler(out)
        with self._msgtime_mutex:
            self._last_bytes_received = paho.time_func()
        return True

    def ack_many(self, mids: Sequence[int]) -> None:
        if mids:
            packet = b"".join([_PUBACK.pack(_PUBACK_BYTE, 2, mid) for mid in mids])
            self._packet_queue(_PUBACK_BYTE, packet, 0, 0)


_FAST = all(hasattr(paho.Client, name) for name in _PAHO_HOOKS) and hasattr(paho, "time_func")


class PahoTransport:
    def __init__(
        self,
        broker: MqttConfig,
        options: SessionOptions,
        on_message: Callable[[Inbound], None],
        on_messages: Callable[[list[Inbound]], None] | None = None,
    ) -> None:
        """`on_message` takes one message; `on_messages`, when given, the several that
        arrived in one read (in order), so the network thread hands them over in one call."""
        self.broker = broker
        self.options = options
        self._on_message = on_message
        self._on_messages = on_messages
        self._generation = 0
        self._connected = threading.Event()
        v5 = options.protocol == "5"
        self.client = (_FastClient if _FAST else paho.Client)(
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
        if isinstance(self.client, _FastClient):
            self.client.on_publish_raw = self._handle_raw
            self.client.on_publishes = self._handle_many
            self.client.generation = lambda: self._generation

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
            Inbound(topic, bytes(msg.payload), msg.mid, msg.qos, self._generation, time.time())
        )

    def _handle_raw(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        # tuple.__new__ straight: a NamedTuple's own __new__ is a Python-level lambda around it.
        self._on_message(_tuple_new(Inbound, (_topic_text(topic), payload, mid, qos,
                                              self._generation, time.time())))  # fmt: skip

    def _handle_many(self, messages: list[Inbound]) -> None:
        if self._on_messages is not None:
            self._on_messages(messages)
        else:
            for message in messages:
                self._on_message(message)

    def ack(self, message: Inbound) -> bool:
        if message.qos == 0:
            return True
        if message.generation != self._generation or not self.connected:
            return False
        self.client.ack(message.mid, message.qos)
        return True

    def ack_many(self, messages: Sequence[Inbound]) -> int:
        if not self.connected:
            return 0
        generation = self._generation
        mids = [m.mid for m in messages if m.qos == 1 and m.generation == generation]
        if isinstance(self.client, _FastClient):
            self.client.ack_many(mids)
        else:
            for mid in mids:
                self.client.ack(mid, 1)
        done = len(mids)
        for message in messages:
            if message.qos != 1:  # QoS 0 needs none; QoS 2 (not subscribed to) its own
                done += self.ack(message)
        return done

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def stop(self) -> None:
        if self.options.status_topic and self.connected:
            info = self.client.publish(self.options.status_topic, b"offline", qos=1, retain=True)
            with contextlib.suppress(ValueError, RuntimeError):
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

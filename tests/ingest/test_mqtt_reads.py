"""The ingest's paho client reads in large chunks and hands PUBLISH packets over without
paho's message objects (ingest/mqtt.py `_FastClient`): packets split anywhere across reads,
several in one read, other packets among them, a topic that is not UTF-8, and PUBACKs
batched into one write. No broker:
a socket pair stands in for the connection, so every split is exact."""

from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import paho.mqtt.client as paho
import pytest

from ingest.mqtt import _FAST, Inbound, PahoTransport, SessionOptions, _FastClient
from jaylym.settings import MqttConfig

pytestmark = pytest.mark.skipif(not _FAST, reason="this paho lacks the hooks: plain paho runs")


def publish(topic: bytes, mid: int, payload: bytes, qos: int = 1) -> bytes:
    body = struct.pack("!H", len(topic)) + topic
    body += struct.pack("!H", mid) if qos else b""
    body += payload
    assert len(body) < 128 * 128
    length = (
        bytes([len(body) & 0x7F | 0x80, len(body) >> 7]) if len(body) > 127 else bytes([len(body)])
    )
    return bytes([0x30 | qos << 1]) + length + body


@contextmanager
def _socket_wired(
    on_message: Callable[[Inbound], None],
    on_messages: Callable[[list[Inbound]], None] | None = None,
    generation: int = 1,
) -> Iterator[tuple[PahoTransport, socket.socket]]:
    """A transport whose client reads from a socket pair (our end, the broker's end)."""
    transport = PahoTransport(
        MqttConfig(host="127.0.0.1", port=1),
        SessionOptions("t", "3.1.1", 60, ("pasture/#",), 1000),
        on_message,
        on_messages,
    )
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client = transport.client
    assert isinstance(client, _FastClient)
    client._sock = ours
    transport._generation = generation
    transport._connected.set()
    try:
        yield transport, broker
    finally:
        client._sock = None
        ours.close()
        broker.close()


@pytest.fixture
def wired() -> Iterator[tuple[PahoTransport, socket.socket, list[Inbound]]]:
    got: list[Inbound] = []
    with _socket_wired(got.append) as (transport, broker):
        yield transport, broker, got


def test_packets_split_anywhere_and_batched_arrive_whole_and_in_order(
    wired: tuple[PahoTransport, socket.socket, list[Inbound]],
) -> None:
    transport, broker, got = wired
    big = b"x" * 300  # a two-byte remaining length
    packets = [
        publish(f"pasture/v1/o/collar/c-{i:03d}/telemetry".encode(), i + 1, b'{"n":%d}' % i + (
            big if i % 3 == 0 else b""), qos=1 if i % 4 else 0)
        for i in range(40)
    ]  # fmt: skip
    packets.insert(20, b"\xd0\x00")  # a PINGRESP among them: paho's own reader takes it
    stream = b"".join(packets)
    cuts = [0, 1, 2, 3, 7, 50, 51, 400, 401, 402, 1500, len(stream)]
    for start, end in itertools.pairwise(cuts):
        broker.sendall(stream[start:end])
        assert transport.client.loop_read() == paho.MQTT_ERR_SUCCESS
    assert [m.topic for m in got] == [f"pasture/v1/o/collar/c-{i:03d}/telemetry" for i in range(40)]
    assert [m.qos for m in got] == [1 if i % 4 else 0 for i in range(40)]
    assert [m.mid for m in got if m.qos] == [i + 1 for i in range(40) if i % 4]
    assert got[3].payload == b'{"n":3}' + big
    assert got[1].payload == b'{"n":1}'


def test_a_topic_that_is_not_utf8_is_handed_over_not_fatal(
    wired: tuple[PahoTransport, socket.socket, list[Inbound]],
) -> None:
    transport, broker, got = wired
    broker.sendall(publish(b"pasture/\xff\xfe/x", 9, b"{}") + publish(b"ok/topic", 10, b"{}"))
    transport.client.loop_read()
    assert [m.topic for m in got] == ["pasture/\ufffd\ufffd/x", "ok/topic"]


def test_a_batch_of_pubacks_leaves_in_one_write_for_this_connection_only(
    wired: tuple[PahoTransport, socket.socket, list[Inbound]],
) -> None:
    transport, broker, _got = wired
    messages = [Inbound("t", b"", mid, 1, 1, 0.0) for mid in (5, 6, 700)]
    stale = Inbound("t", b"", 8, 1, 0, 0.0)  # an earlier connection's: never acknowledged
    assert transport.ack_many([*messages, stale]) == 3
    transport.client.loop_write()
    assert broker.recv(100) == b"".join(struct.pack("!BBH", 0x40, 2, m) for m in (5, 6, 700))


def test_the_publishes_of_one_read_arrive_in_one_call_with_the_connection_generation() -> None:
    calls: list[list[Inbound]] = []  # one entry per hand-over, singles as lists of one
    with _socket_wired(lambda m: calls.append([m]), calls.append, generation=3) as wired_:
        transport, broker = wired_
        client = transport.client
        topic = b"pasture/v1/o/collar/c-001/telemetry"
        stream = b"".join(publish(topic, mid, b"{}") for mid in range(1, 6))
        broker.sendall(stream + b"\xd0\x00" + publish(topic, 6, b"{}") + publish(topic, 7, b"{}"))
        assert client.loop_read() == paho.MQTT_ERR_SUCCESS
        # paho's reader takes the first packet of a read; the rest of the run of PUBLISHes
        # goes over in one call, up to the PINGRESP, and the run after it in another.
        assert [[m.mid for m in call] for call in calls] == [[1], [2, 3, 4, 5], [6, 7]]
        assert {m.generation for call in calls for m in call} == {3}
        assert {m.topic for call in calls for m in call} == {topic.decode()}
        transport._generation = 4  # a reconnect: the next read's messages carry the new one
        broker.sendall(publish(topic, 8, b"{}") + publish(topic, 9, b"{}"))
        client.loop_read()
        assert [(m.mid, m.generation) for call in calls[-2:] for m in call] == [(8, 4), (9, 4)]

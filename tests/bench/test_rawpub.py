"""The load generator's burst path sends what its paced path sends, and counts as acknowledged
only what the broker acknowledged: a cheaper generator must not change the load it offers nor
the guarantee the bench's zero-loss checks stand on."""

from __future__ import annotations

import queue
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from bench import rawpub
from jaylym.settings import parse_mqtt_url
from tests.conftest import BrokerHandle


def _subscriber(url: str, okrug: str) -> tuple[mqtt.Client, queue.Queue[tuple[str, bytes, int]]]:
    cfg = parse_mqtt_url(url)
    got: queue.Queue[tuple[str, bytes, int]] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rawpub-test-{okrug}",
                      protocol=mqtt.MQTTv311)  # fmt: skip
    if cfg.username:
        sub.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
    topic = f"pasture/v1/{okrug}/+/+/telemetry"
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    sub.on_subscribe = lambda *a: subscribed.put(True)
    sub.on_message = lambda c, u, m: got.put((m.topic, m.payload, m.qos))
    sub.connect(cfg.host, cfg.port)
    sub.loop_start()
    subscribed.get(timeout=10)
    return sub, got


def _received(got: queue.Queue[tuple[str, bytes, int]], n: int) -> dict[str, list[bytes]]:
    """Payloads per topic in arrival order (one connection's order is its publish order)."""
    out: dict[str, list[bytes]] = defaultdict(list)
    for _ in range(n):
        topic, payload, qos = got.get(timeout=30)
        assert qos == 1
        out[topic].append(payload)
    with pytest.raises(queue.Empty):  # nothing more: no message sent twice
        got.get(timeout=0.5)
    return dict(out)


@pytest.mark.mqtt
def test_a_burst_sends_what_the_paced_path_sends(mosquitto: BrokerHandle) -> None:
    okrug = f"t{uuid.uuid4().hex[:8]}"
    # 600 per connection: beyond one window, so the window is refilled, and not a multiple of
    # the refill batch, so the last PUBACKs arrive in a smaller one.
    spec = rawpub.RawLoad(url=mosquitto.url, messages=1800, connections=3, processes=2,
                          okrug=okrug, prefix=okrug)  # fmt: skip
    sub, got = _subscriber(mosquitto.url, okrug)
    try:
        starts: list[float] = []
        burst = rawpub.run(spec, ready=lambda: starts.append(time.monotonic()))
        by_burst = _received(got, spec.sent)
        paced = rawpub.run(rawpub.RawLoad(**{**vars(spec), "rate": 6000.0}))
        by_paced = _received(got, spec.sent)
    finally:
        sub.disconnect()
        sub.loop_stop()
    assert (burst["sent"], burst["acked"], paced["acked"]) == (1800, 1800, 1800)
    assert len(starts) == 1  # the caller's clock started once, before the first PUBLISH
    assert starts[0] <= burst["started"]
    assert burst["build_seconds"] > 0
    expected = {
        f"pasture/v1/{okrug}/collar/{rawpub.device_id(spec, i)}/telemetry": [
            rawpub.reading(n, spec.start_ts + n, i) for n in range(600)
        ]
        for i in range(3)
    }
    assert by_burst == expected
    assert by_paced == expected


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """Two ends of a loopback TCP connection: the generator's and the broker's."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        ours = socket.create_connection(server.getsockname(), timeout=5)
        theirs, _ = server.accept()
    theirs.settimeout(5)
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


def _burst(sock: socket.socket, count: int) -> rawpub._Burst:
    spec = rawpub.RawLoad(url="mqtt://x", messages=count, connections=1)
    packets, ends, hi, lo = rawpub._build(spec, 0, count)
    burst = rawpub._Burst(sock, memoryview(packets), ends, hi, lo)
    burst.wake_at()
    return burst


def _arrive(theirs: socket.socket, data: bytes) -> None:
    theirs.sendall(data)
    time.sleep(0.05)  # loopback delivers at once; a margin for a busy machine


def puback(packet_id: int) -> bytes:
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


def test_pubacks_are_counted_in_order_across_split_reads(
    tcp_pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = tcp_pair
    burst = _burst(ours, 3)
    assert not burst.send()  # all three fit the window and the socket
    assert theirs.recv(len(burst.packets), socket.MSG_WAITALL) == bytes(burst.packets)
    acks = puback(1) + puback(2) + puback(3)
    _arrive(theirs, acks[:6])  # one and a half
    burst.receive()
    assert burst.acked == 1
    _arrive(theirs, acks[6:])
    burst.receive()
    assert burst.acked == 3


@pytest.mark.parametrize(
    "reply",
    [
        puback(2),  # not the next packet id
        b"\x50\x02\x00\x01",  # a PUBREC, not a PUBACK
        b"\x40\x03\x00\x01\x00",  # a PUBACK of the wrong length
        puback(1) + puback(2),  # an acknowledgement of a PUBLISH never sent
    ],
)
def test_anything_but_the_next_pubacks_is_an_error_never_a_count(
    tcp_pair: tuple[socket.socket, socket.socket], reply: bytes
) -> None:
    ours, theirs = tcp_pair
    burst = _burst(ours, 1)
    burst.send()
    _arrive(theirs, reply)
    with pytest.raises(RuntimeError, match="expected PUBACKs"):
        burst.receive()
    assert burst.acked == 0


def test_a_closed_connection_is_an_error(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = tcp_pair
    burst = _burst(ours, 1)
    burst.send()
    theirs.close()
    time.sleep(0.05)
    with pytest.raises(ConnectionError):
        burst.receive()

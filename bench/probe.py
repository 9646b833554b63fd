"""Publish-to-queryable latency: a probe device publishes a reading every `period` seconds
while the load runs, and a poller asks InfluxDB which of them are queryable yet.

The probe speaks MQTT on a raw socket like `rawpub` (one CONNECT, QoS 1 PUBLISHes, PUBACKs
drained by a thread): a client library would add its own queueing to the figure. The poller
asks for the probe's `seq` values newer than the last one seen, so each poll is one small
indexed query (one series, a short time range) whatever the load's volume.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field

import httpx

from bench.rawpub import connect_packet, publish_packet
from jaylym.settings import parse_mqtt_url

PROBE_DEVICE = "probe-000"


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("broker closed the probe's connection")
        data += chunk
    return data


def _read_packet(sock: socket.socket) -> tuple[int, bytes]:
    kind = _read_exact(sock, 1)[0] & 0xF0
    length, shift = 0, 0
    while True:
        byte = _read_exact(sock, 1)[0]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return kind, _read_exact(sock, length)


@dataclass
class Probe:
    mqtt_url: str
    influx_url: str
    database: str
    okrug: str
    period: float = 0.05
    poll_every: float = 0.02
    sent: dict[int, float] = field(default_factory=dict)
    seen: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        cfg = parse_mqtt_url(self.mqtt_url)
        self._sock = socket.create_connection((cfg.host, cfg.port), timeout=10)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        password = cfg.password.get_secret_value() if cfg.password else None
        self._sock.sendall(connect_packet("bench-probe", cfg.username, password))
        kind, body = _read_packet(self._sock)
        if kind != 0x20 or body[-1] != 0:
            raise RuntimeError(f"probe CONNACK refused: {body!r}")
        self._topic = f"pasture/v1/{self.okrug}/collar/{PROBE_DEVICE}/telemetry".encode()

    def start(self) -> None:
        for target in (self._publish, self._drain_acks, self._poll):
            thread = threading.Thread(target=target, daemon=True, name=f"probe{target.__name__}")
            thread.start()
            self._threads.append(thread)

    def stop(self, settle_s: float = 30.0) -> None:
        """Stop publishing, then wait (bounded) for the last probes to become queryable."""
        self._stop.set()
        deadline = time.monotonic() + settle_s
        while len(self.seen) < len(self.sent) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._done = True
        for thread in self._threads:
            thread.join(timeout=5)
        self._sock.close()

    _done = False

    def _publish(self) -> None:
        seq = 0
        next_at = time.monotonic()
        last_ms = 0
        while not self._stop.is_set():
            now = time.time()
            # A distinct millisecond per probe: the store keys a point by device and time, so
            # two probes sent in one millisecond (catching up after a stall) would be one.
            ts_ms = last_ms = max(round(now * 1000), last_ms + 1)
            body = json.dumps(
                {
                    "v": 1,
                    "readings": [{"seq": seq, "ts": ts_ms / 1000, "lat": 43.5, "lon": 78.3}],
                }
            ).encode()
            self.sent[seq] = now
            self._sock.sendall(publish_packet(self._topic, seq % 65535 + 1, body))
            seq += 1
            next_at += self.period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _drain_acks(self) -> None:
        self._sock.settimeout(1.0)
        while not self._done:
            try:
                _read_packet(self._sock)
            except TimeoutError:
                continue
            except OSError:
                return

    def _poll(self) -> None:
        # From the lowest probe not yet seen: with a shared subscription two processes write
        # the probes, so a later one can be queryable before an earlier one.
        low = 0
        with httpx.Client(base_url=self.influx_url, timeout=10) as client:
            while not self._done:
                answer = client.get(
                    "/query",
                    params={
                        "db": self.database,
                        "epoch": "ms",
                        "q": "SELECT seq FROM position WHERE device = $d AND time > now() - 1h "
                        "AND seq >= $low",
                        "params": json.dumps({"d": PROBE_DEVICE, "low": low}),
                    },
                )
                now = time.time()
                series = answer.json()["results"][0].get("series") or []
                for row in series[0]["values"] if series else []:
                    seq = int(row[1])
                    self.seen.setdefault(seq, now)
                while low in self.seen:
                    low += 1
                time.sleep(self.poll_every)

    def latencies_ms(self) -> list[float]:
        return sorted((self.seen[s] - self.sent[s]) * 1000 for s in self.seen if s in self.sent)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (inclusive method); NaN when there is nothing to rank."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]

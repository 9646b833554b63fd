"""A fast QoS 1 publisher for load generation: MQTT 3.1.1 spoken on raw sockets.

Hand-written on purpose, for the benchmark only: a client library spends tens of microseconds
per message in Python (paho's threaded client tops out at a few thousand QoS 1 messages per
second), and the load generator must never be the bottleneck it measures, nor take much of the
CPU the consumer it measures needs (on a small machine they share the cores). Many connections
run in several processes, each connection pipelining its PUBLISHes within a window of
unacknowledged packet ids.

A burst (`rate=None`) builds every PUBLISH of every connection before the clock starts, then
writes them from one buffer per connection in large slices and counts PUBACKs from bulk reads
(a 3.1.1 PUBACK is exactly 4 bytes, checked a chunk at a time, packet ids included): what is
left per message while the consumer is measured is a share of a few system calls. A paced run
(`rate` set, for latency) keeps a schedule per message on asyncio streams, written and acknowledged
one message at a time as a burst used to be, at the lower rates it runs at.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import resource
import selectors
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from typing import Any

from jaylym.settings import IngestConfig, parse_mqtt_url

WINDOW = 500  # unacknowledged PUBLISHes per connection
TIMEOUT = 300.0  # seconds a burst or paced run may take before it is called stuck
# A burst's connection is woken when this many PUBACKs wait (SO_RCVLOWAT), and refills its
# window by as many: Mosquitto writes one PUBACK per connection per turn of its loop, so
# reading as they come costs a recv and a send per one or two messages. The window stays at
# least WINDOW - BATCH full, far more than the broker takes from a connection at once.
BATCH = WINDOW // 5


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


async def _read_packet_header(reader: asyncio.StreamReader) -> tuple[int, int]:
    """(packet type byte, remaining length) of the next packet from the broker."""
    kind = (await reader.readexactly(1))[0] & 0xF0
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return kind, length
        shift += 7


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    flags = 0x02  # clean session: a load generator keeps no state
    payload = _utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += _utf8(username)
    if password is not None:
        flags |= 0x40
        payload += _utf8(password)
    variable = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", 60)
    body = variable + payload
    return b"\x10" + _remaining_length(len(body)) + body


def publish_packet(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", packet_id) + payload
    return b"\x32" + _remaining_length(len(body)) + body


def reading(seq: int, ts: int, index: int) -> bytes:
    lat = 43.5 + (index % 100) * 0.001
    lon = 78.3 + (seq % 100) * 0.0001
    return (
        f'{{"v":1,"readings":[{{"seq":{seq},"ts":{ts},"lat":{lat:.6f},'
        f'"lon":{lon:.6f},"hdop":0.9}}]}}'
    ).encode()


@dataclass(frozen=True)
class RawLoad:
    url: str
    messages: int
    connections: int = 50
    processes: int = 2
    okrug: str = "bench"
    prefix: str = "bench"
    # Reading n of every device is stamped start_ts + seq_offset + n seconds: a day ago by
    # default, well inside what the ingest accepts (see `check_times`).
    start_ts: int = field(default_factory=lambda: int(time.time()) - 86_400)
    seq_offset: int = 0
    rate: float | None = None  # messages per second over all connections; None: flat out

    @property
    def per_connection(self) -> int:
        """Messages each connection (device) publishes: `messages` rounded down."""
        return max(1, self.messages // self.connections)

    @property
    def sent(self) -> int:
        return self.per_connection * self.connections

    def device_ids(self) -> list[str]:
        """The devices of the load, one per connection (what a registry must know)."""
        return [device_id(self, i) for i in range(self.connections)]

    def ts_range(self) -> tuple[int, int]:
        """First and last reading time, Unix seconds (the same for every device)."""
        first = self.start_ts + self.seq_offset
        return first, first + self.per_connection - 1

    def check_times(self, now: float | None = None) -> None:
        """Refuse a load whose readings the ingest would reject as too far in the future or
        too old (its default limits): a bench that measures rejections measures nothing."""
        now = time.time() if now is None else now
        limits = IngestConfig()
        first, last = self.ts_range()
        if last > now + limits.max_future_s:
            raise ValueError(f"readings up to {last - now:.0f} s in the future: the ingest "
                             f"rejects more than {limits.max_future_s} s")  # fmt: skip
        if first < now - limits.max_age_days * 86_400:
            raise ValueError(f"readings from {(now - first) / 86_400:.0f} days ago: the ingest "
                             f"rejects more than {limits.max_age_days} days")  # fmt: skip


def device_id(spec: RawLoad, index: int) -> str:
    return f"{spec.prefix}-{index:05d}"


async def _one_connection(spec: RawLoad, index: int, count: int) -> tuple[int, int]:
    cfg = parse_mqtt_url(spec.url)
    reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
    password = cfg.password.get_secret_value() if cfg.password else None
    writer.write(connect_packet(f"{spec.prefix}-{index:05d}-raw", cfg.username, password))
    kind, length = await asyncio.wait_for(_read_packet_header(reader), timeout=10)
    connack = await reader.readexactly(length)
    if kind != 0x20 or connack[-1] != 0:
        raise RuntimeError(f"CONNACK refused: {connack!r}")
    topic = f"pasture/v1/{spec.okrug}/collar/{device_id(spec, index)}/telemetry".encode()
    window = asyncio.Semaphore(WINDOW)
    acked = 0

    async def read_acks() -> None:
        nonlocal acked
        while acked < count:
            kind, length = await _read_packet_header(reader)
            await reader.readexactly(length)
            if kind == 0x40:  # PUBACK
                acked += 1
                window.release()

    acks = asyncio.create_task(read_acks())
    # Paced mode: each connection keeps its share of the rate on a fixed schedule (no drift),
    # offset by its index so the connections do not publish in lockstep.
    interval = spec.connections / spec.rate if spec.rate else 0.0
    started = time.monotonic() + interval * index / spec.connections
    for n in range(count):
        if interval:
            delay = started + n * interval - time.monotonic()
            if delay > 0:
                await writer.drain()
                await asyncio.sleep(delay)
        await window.acquire()
        seq = spec.seq_offset + n
        writer.write(publish_packet(topic, packet_id(n), reading(seq, spec.start_ts + seq, index)))
        if n % 64 == 0:
            await writer.drain()
    await writer.drain()
    await asyncio.wait_for(acks, timeout=300)
    writer.write(b"\xe0\x00")  # DISCONNECT
    await writer.drain()
    writer.close()
    return count, acked


def packet_id(n: int) -> int:
    """The packet id of a connection's n-th PUBLISH: 1..65535 in turn, unique in any window."""
    return n % 65535 + 1


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class _Burst:
    """One connection's burst: all its PUBLISHes in one buffer, sent in slices bounded by the
    window, and the packet ids each PUBACK must carry, in order (MQTT 3.1.1, 4.6: a server
    acknowledges QoS 1 PUBLISHes in the order it received them)."""

    sock: socket.socket
    packets: memoryview
    ends: list[int]  # ends[k]: bytes of the first k PUBLISHes
    ids_hi: bytes
    ids_lo: bytes
    written: int = 0  # bytes sent
    acked: int = 0
    partial: bytes = b""  # the start of a PUBACK split across reads
    lowat: int = 1  # bytes the kernel waits for before it calls the socket readable

    @property
    def count(self) -> int:
        return len(self.ends) - 1

    def send(self) -> bool:
        """Send what the window allows; True when some of it is left for when the socket
        takes more."""
        limit = self.ends[min(self.acked + WINDOW, self.count)]
        if self.written < limit:
            # the kernel's buffer is full: the selector says when it takes more
            with contextlib.suppress(BlockingIOError):
                self.written += self.sock.send(self.packets[self.written : limit])
        return self.written < limit

    def receive(self) -> None:
        """Count the PUBACKs that arrived. Anything but PUBACKs for the next packet ids in
        order is an error, never counted: `acked` is what the broker acknowledged."""
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError(f"broker closed the connection after {self.acked} PUBACKs")
        if self.partial:
            data = self.partial + data
        whole = len(data) - len(data) % 4
        self.partial = data[whole:]
        n = whole // 4
        first = self.acked
        if (
            data[0:whole:4] != _PUBACK_TYPES[:n]
            or data[1:whole:4] != _PUBACK_LENGTHS[:n]
            or data[2:whole:4] != self.ids_hi[first : first + n]
            or data[3:whole:4] != self.ids_lo[first : first + n]
            or self.ends[first + n] > self.written
        ):
            raise RuntimeError(f"expected PUBACKs for PUBLISH {first}..{first + n - 1}, got "
                               f"{data[:64].hex(' ')}")  # fmt: skip
        self.acked += n
        self.wake_at()

    def wake_at(self) -> None:
        """Have the socket called readable when the next batch of PUBACKs is there (or the
        last ones, at the end; the socket also turns readable on a close or an error)."""
        lowat = max(1, 4 * min(BATCH, self.count - self.acked) - len(self.partial))
        if lowat != self.lowat:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, lowat)
            self.lowat = lowat


# A window's worth of what each PUBACK's first and second byte must be (type, length 2).
_PUBACK_TYPES = b"\x40" * WINDOW
_PUBACK_LENGTHS = b"\x02" * WINDOW


def _build(spec: RawLoad, index: int, count: int) -> tuple[bytes, list[int], bytes, bytes]:
    """One connection's PUBLISHes, packed end to end, made by the same functions as the
    paced path's so the bytes on the wire are the same."""
    topic = f"pasture/v1/{spec.okrug}/collar/{device_id(spec, index)}/telemetry".encode()
    parts, ends, end = [], [0], 0
    for n in range(count):
        seq = spec.seq_offset + n
        packet = publish_packet(topic, packet_id(n), reading(seq, spec.start_ts + seq, index))
        parts.append(packet)
        end += len(packet)
        ends.append(end)
    ids = [packet_id(n) for n in range(count)]
    return b"".join(parts), ends, bytes(i >> 8 for i in ids), bytes(i & 0xFF for i in ids)


def _connect(spec: RawLoad, index: int) -> socket.socket:
    """A connected MQTT session (CONNECT, CONNACK read), blocking with a timeout."""
    cfg = parse_mqtt_url(spec.url)
    sock = socket.create_connection((cfg.host, cfg.port), timeout=10)
    # the window's tail can be a few small packets: Nagle would hold them for the peer's ACK
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    password = cfg.password.get_secret_value() if cfg.password else None
    sock.sendall(connect_packet(f"{spec.prefix}-{index:05d}-raw", cfg.username, password))
    connack = b""
    while len(connack) < 4:  # 20 02 flags code; each recv bounded by the socket timeout
        chunk = sock.recv(4 - len(connack))
        if not chunk:
            raise ConnectionError("broker closed the connection before CONNACK")
        connack += chunk
    if connack[0] & 0xF0 != 0x20 or connack[1] != 2 or connack[3] != 0:
        raise RuntimeError(f"CONNACK refused: {connack!r}")
    return sock


def _prepare_burst(spec: RawLoad, indices: list[int], count: int) -> list[_Burst]:
    bursts = []
    for index in indices:
        packets, ends, hi, lo = _build(spec, index, count)
        sock = _connect(spec, index)
        sock.setblocking(False)
        burst = _Burst(sock, memoryview(packets), ends, hi, lo)
        burst.wake_at()
        bursts.append(burst)
    return bursts


def _run_burst(bursts: list[_Burst]) -> tuple[int, int]:
    """Every connection at once, flat out, in one thread: the window of each is refilled by
    as many PUBLISHes as PUBACKs came, and a connection waits for the socket to be writable
    only when the kernel took less than the window allowed."""
    sel = selectors.DefaultSelector()
    for burst in bursts:
        sel.register(burst.sock, selectors.EVENT_READ, burst)
    for burst in bursts:
        if burst.send():
            sel.modify(burst.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, burst)
    pending = len(bursts)
    deadline = time.monotonic() + TIMEOUT
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            acked = sum(b.acked for b in bursts)
            raise TimeoutError(f"burst stuck: {acked} of {sum(b.count for b in bursts)} acked")
        for key, mask in sel.select(timeout=min(left, 10.0)):
            burst = key.data
            if mask & selectors.EVENT_READ:
                burst.receive()
                if burst.acked == burst.count:
                    pending -= 1
                    sel.unregister(burst.sock)
                    continue
            wants = selectors.EVENT_READ | (selectors.EVENT_WRITE if burst.send() else 0)
            if wants != key.events:
                sel.modify(burst.sock, wants, burst)
    sel.close()
    for burst in bursts:
        burst.sock.setblocking(True)
        burst.sock.settimeout(10)
        burst.sock.sendall(b"\xe0\x00")  # DISCONNECT
        burst.sock.close()
    return sum(b.count for b in bursts), sum(b.acked for b in bursts)


async def _process_main(spec: RawLoad, indices: list[int], per_conn: int) -> tuple[int, int]:
    results = await asyncio.gather(*(_one_connection(spec, i, per_conn) for i in indices))
    return sum(r[0] for r in results), sum(r[1] for r in results)


def _worker(spec: RawLoad, indices: list[int], per_conn: int, out: mp.Queue, go: Event  # type: ignore[type-arg]
            ) -> None:  # fmt: skip
    """Prepare (a burst: build and connect), say so, wait for the go, run, report. Failures
    are reported too, so the parent raises at once instead of waiting out its timeout."""
    try:
        started, cpu = time.perf_counter(), _cpu_s()
        bursts = _prepare_burst(spec, indices, per_conn) if spec.rate is None else None
        out.put(("ready", time.perf_counter() - started, _cpu_s() - cpu))
        if not go.wait(timeout=TIMEOUT):
            raise TimeoutError("no go from the parent")
        started, cpu = time.perf_counter(), _cpu_s()
        if bursts is not None:
            sent, acked = _run_burst(bursts)
        else:
            sent, acked = asyncio.run(_process_main(spec, indices, per_conn))
        out.put(("done", sent, acked, time.perf_counter() - started, _cpu_s() - cpu))
    except BaseException as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


def _take(out: mp.Queue, kind: str, timeout: float) -> tuple[Any, ...]:  # type: ignore[type-arg]
    row: tuple[Any, ...] = out.get(timeout=timeout)
    if row[0] == "error":
        raise RuntimeError(f"generator worker failed: {row[1]}")
    if row[0] != kind:
        raise RuntimeError(f"generator worker sent {row!r}, expected {kind}")
    return row[1:]


def run(spec: RawLoad, ready: Callable[[], object] | None = None) -> dict[str, float]:
    """Publish `spec.messages` (rounded down to a multiple of connections); wait for PUBACKs.

    The workers prepare first (a burst builds its packets and connects), then `ready` is
    called and they start together: a caller starts its meters in `ready` and its clock at
    `started` (`time.monotonic()` at the go), so what it measures begins with the first
    PUBLISH, not with the preparation. `publish_seconds` and `cpu_s` (the CPU of the generator's
    worker processes, user + system) cover the same span, from the start to the last PUBACK;
    `build_seconds` (the slowest worker) and `build_cpu_s` the preparation before it."""
    spec.check_times()
    per_conn = spec.per_connection
    groups: list[list[int]] = [[] for _ in range(spec.processes)]
    for index in range(spec.connections):
        groups[index % spec.processes].append(index)
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    go = mp.Event()
    procs = [mp.Process(target=_worker, args=(spec, g, per_conn, out, go)) for g in groups if g]
    for proc in procs:
        proc.start()
    finished = False
    try:
        prepared = [_take(out, "ready", 120) for _ in procs]
        if ready is not None:
            ready()
        started = time.monotonic()
        go.set()
        rows = [_take(out, "done", TIMEOUT + 60) for _ in procs]
        finished = True
    finally:
        for proc in procs:
            if not finished:  # one failed: the others' load would measure nothing
                proc.kill()
            proc.join(timeout=30)
    sent = sum(r[0] for r in rows)
    seconds = max(r[2] for r in rows)
    return {
        "sent": sent,
        "acked": sum(r[1] for r in rows),
        "publish_seconds": seconds,
        "publish_rate": sent / seconds if seconds else 0.0,
        "cpu_s": sum(r[3] for r in rows),
        "build_seconds": max(p[0] for p in prepared),
        "build_cpu_s": sum(p[1] for p in prepared),
        "started": started,
    }

"""A fast QoS 1 publisher for load generation: MQTT 3.1.1 spoken on raw asyncio sockets.

Hand-written on purpose, for the benchmark only: a client library spends tens of microseconds
per message in Python (paho's threaded client tops out at a few thousand QoS 1 messages per
second), and the load generator must never be the bottleneck it measures. Here each PUBLISH is
a few bytes formatted into a buffer, pipelined within a window of unacknowledged packet ids,
and PUBACKs are only counted. Many connections run in several processes.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import resource
import struct
import time
from dataclasses import dataclass, field

from jaylym.settings import IngestConfig, parse_mqtt_url

WINDOW = 500  # unacknowledged PUBLISHes per connection


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
        packet_id = n % 65535 + 1
        writer.write(publish_packet(topic, packet_id, reading(seq, spec.start_ts + seq, index)))
        if n % 64 == 0:
            await writer.drain()
    await writer.drain()
    await asyncio.wait_for(acks, timeout=300)
    writer.write(b"\xe0\x00")  # DISCONNECT
    await writer.drain()
    writer.close()
    return count, acked


async def _process_main(spec: RawLoad, indices: list[int], per_conn: int) -> tuple[int, int]:
    results = await asyncio.gather(*(_one_connection(spec, i, per_conn) for i in indices))
    return sum(r[0] for r in results), sum(r[1] for r in results)


def _worker(spec: RawLoad, indices: list[int], per_conn: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    started = time.perf_counter()
    sent, acked = asyncio.run(_process_main(spec, indices, per_conn))
    # A forked child's usage starts at zero: this is the worker's whole CPU, start-up included.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((sent, acked, time.perf_counter() - started, usage.ru_utime + usage.ru_stime))


def run(spec: RawLoad) -> dict[str, float]:
    """Publish `spec.messages` (rounded down to a multiple of connections); wait for PUBACKs.
    `cpu_s` is the CPU the generator's worker processes used (user + system)."""
    spec.check_times()
    per_conn = spec.per_connection
    groups: list[list[int]] = [[] for _ in range(spec.processes)]
    for index in range(spec.connections):
        groups[index % spec.processes].append(index)
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=_worker, args=(spec, g, per_conn, out)) for g in groups if g]
    for proc in procs:
        proc.start()
    rows = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    sent = sum(r[0] for r in rows)
    seconds = max(r[2] for r in rows)
    return {
        "sent": sent,
        "acked": sum(r[1] for r in rows),
        "publish_seconds": seconds,
        "publish_rate": sent / seconds if seconds else 0.0,
        "cpu_s": sum(r[3] for r in rows),
    }

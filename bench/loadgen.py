"""A QoS 1 load generator that is not the bottleneck: many paho connections spread over
several processes, each publishing without waiting per message and then waiting for every
PUBACK. Messages follow docs/protocol.md (one collar reading each)."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from jaylym.settings import parse_mqtt_url


@dataclass(frozen=True)
class LoadSpec:
    url: str
    messages: int
    connections: int = 50
    processes: int = 4
    okrug: str = "bench"
    prefix: str = "bench"
    start_ts: int = 1_760_000_000
    protocol: int = mqtt.MQTTv311


def device_id(spec: LoadSpec, index: int) -> str:
    return f"{spec.prefix}-{index:05d}"


def payload(seq: int, ts: int, index: int) -> bytes:
    lat = 43.5 + (index % 100) * 0.001
    lon = 78.3 + (seq % 100) * 0.0001
    reading = {"seq": seq, "ts": ts, "lat": round(lat, 6), "lon": round(lon, 6), "hdop": 0.9}
    return json.dumps({"v": 1, "readings": [reading]}, separators=(",", ":")).encode()


def _worker(spec: LoadSpec, conn_indices: list[int], per_conn: int, result: mp.Queue) -> None:  # type: ignore[type-arg]
    cfg = parse_mqtt_url(spec.url)
    clients = []
    for index in conn_indices:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{device_id(spec, index)}-load",
            protocol=spec.protocol,
        )
        if cfg.username:
            client.username_pw_set(
                cfg.username, cfg.password.get_secret_value() if cfg.password else None
            )
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect(cfg.host, cfg.port, keepalive=60)
        client.loop_start()
        clients.append((index, client))
    time.sleep(0.2)
    started = time.perf_counter()
    infos = []
    for seq in range(per_conn):
        for index, client in clients:
            topic = f"pasture/v1/{spec.okrug}/collar/{device_id(spec, index)}/telemetry"
            infos.append(client.publish(topic, payload(seq, spec.start_ts + seq, index), qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    elapsed = time.perf_counter() - started
    unacked = sum(1 for info in infos if not info.is_published())
    for _, client in clients:
        client.disconnect()
        client.loop_stop()
    result.put((len(infos), unacked, started, elapsed))


def run(spec: LoadSpec) -> dict[str, float]:
    """Publish `spec.messages` messages; returns sent count, unacked and rate (msg/s)."""
    per_conn = max(1, spec.messages // spec.connections)
    groups: list[list[int]] = [[] for _ in range(spec.processes)]
    for index in range(spec.connections):
        groups[index % spec.processes].append(index)
    result: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [
        mp.Process(target=_worker, args=(spec, group, per_conn, result))
        for group in groups
        if group
    ]
    wall = time.perf_counter()
    for proc in procs:
        proc.start()
    rows = [result.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    wall = time.perf_counter() - wall
    sent = sum(r[0] for r in rows)
    slowest = max(r[3] for r in rows)
    return {
        "sent": sent,
        "unacked": sum(r[1] for r in rows),
        "publish_seconds": slowest,
        "publish_rate": sent / slowest if slowest else 0.0,
        "wall_seconds": wall,
    }

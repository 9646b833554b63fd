"""kill -9 of a real `jaylym ingest` process at three random points of a 20 000-message
stream from 200 device connections, restarted each time. With a real Mosquitto and a real
InfluxDB, every reading is stored exactly once, counted per device and seq over the raw
rows in InfluxDB.

The kill points are moments of the paced stream, one drawn in each third of its middle 80 %
by a seeded generator and printed (set `JAYLYM_RELIABILITY_SEED` to draw the same points).
A kill waits, if need be, until the restarted process is storing again, so each one lands
in a process that is busy with the stream, and before the stream is all stored."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from bench.rawpub import RawLoad
from bench.rawpub import run as raw_publish
from jaylym.models import DeviceInfo
from tests.conftest import BrokerHandle, InfluxHandle
from tests.ingest.live import eventually
from tests.ingest.process import IngestProcess
from tests.ingest.registry_db import provision, read_stats
from tests.reliability.exactly_once import stored_count, tally

pytestmark = [pytest.mark.mqtt, pytest.mark.influx, pytest.mark.slow]

CONNECTIONS = 200  # one per device, each its own MQTT connection
PER_DEVICE = 100
TOTAL = CONNECTIONS * PER_DEVICE
KILLS = 3
RATE = 1000.0  # messages per second over all connections: a 20 s stream
STREAM_S = TOTAL / RATE
BATCH_MAX = 500
OKRUG = "sogety"


def test_kill_9_at_three_random_points_then_restart_every_reading_once(
    mosquitto: BrokerHandle, influx: InfluxHandle, tmp_path: Path
) -> None:
    seed = int(os.environ.get("JAYLYM_RELIABILITY_SEED") or random.SystemRandom().getrandbits(32))
    rng = random.Random(seed)
    third = 0.8 * STREAM_S / KILLS
    points = [round((0.1 * STREAM_S + k * third + rng.uniform(0, third)), 2) for k in range(KILLS)]
    print(f"ingest kill: seed={seed} kill points (s into the stream)={points}")
    prefix = f"k{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{i:05d}" for i in range(CONNECTIONS)]  # bench/rawpub.py's device ids
    ingest = IngestProcess(
        mosquitto.url, influx.url, tmp_path / "ingest",
        extra_env={"JAYLYM_INGEST_BATCH_MAX": str(BATCH_MAX)},
    )  # fmt: skip
    provision(ingest.registry_url, [DeviceInfo(d, "collar", OKRUG) for d in ids])
    load = RawLoad(
        url=mosquitto.url, messages=TOTAL, connections=CONNECTIONS, processes=2, okrug=OKRUG,
        prefix=prefix, start_ts=int(time.time()) - 7200, rate=RATE,
    )  # fmt: skip
    published: dict[str, float] = {}
    failures: list[BaseException] = []

    def publish() -> None:
        try:
            published.update(raw_publish(load))
        except BaseException as exc:
            failures.append(exc)

    publisher = threading.Thread(target=publish, daemon=True)
    at_kill: list[int] = []
    kill_s: list[float] = []
    mid_publish: list[bool] = []
    try:
        ingest.start()
        publisher.start()
        started = time.monotonic()
        for point in points:
            storing_from = stored_count(influx.url, ingest.database)
            time.sleep(max(0.0, started + point - time.monotonic()))
            eventually(lambda n=storing_from: stored_count(influx.url, ingest.database) > n,
                       120, "the restarted ingest storing")  # fmt: skip
            assert ingest.proc is not None
            os.killpg(ingest.proc.pid, signal.SIGKILL)  # mid-batch, no goodbye
            ingest.proc.wait(timeout=10)
            kill_s.append(round(time.monotonic() - started, 1))
            at_kill.append(stored_count(influx.url, ingest.database))
            mid_publish.append(publisher.is_alive())
            ingest.start()  # same client id: the broker kept the session's messages
        publisher.join(timeout=300)
        assert not failures, failures
        assert not publisher.is_alive(), "the publishers did not finish in 300 s"
        assert published["sent"] == published["acked"] == TOTAL, published
        eventually(lambda: stored_count(influx.url, ingest.database) >= TOTAL, 180,
                   "every reading after the last restart")  # fmt: skip
        time.sleep(1.0)  # a late double would show by now
    finally:
        ingest.stop()
    result = tally(influx.url, ingest.database, {d: range(PER_DEVICE) for d in ids})
    stats = read_stats(ingest.registry_url)
    surplus = sum(stats[d].received for d in ids) - TOTAL
    print(result.line("ingest_kill_9", KILLS, connections=CONNECTIONS, seed=seed,
                      killed_at_s="/".join(map(str, kill_s)),
                      stored_at_kills="/".join(map(str, at_kill)),
                      kills_while_publishing=sum(mid_publish),
                      ledger_recounted=surplus))  # fmt: skip
    assert all(n < TOTAL for n in at_kill), f"a kill came after the stream: {at_kill}"
    assert result.exact, result
    assert result.stored == TOTAL
    for device_id in ids:
        assert stats[device_id].missing == 0, device_id
        # A kill between the ledger commit and the PUBACK can count that batch again as
        # received (ingest/README.md); the stored points are exact regardless.
        assert PER_DEVICE <= stats[device_id].received <= PER_DEVICE + KILLS * BATCH_MAX

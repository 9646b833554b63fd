"""kill -9 of a real `jaylym ingest` process at three random points of a 20 000-message
stream from 200 device connections, restarted each time. With a real Mosquitto and a real
InfluxDB, every reading is stored exactly once, counted per device and seq over the raw
rows in InfluxDB.

The stream goes out in four paced segments of 5 000 (25 readings per device each, seqs
continuing). During each of the first three, the process is killed when the readings stored
reach a point drawn by a seeded generator within that segment, and printed (set
`JAYLYM_RELIABILITY_SEED` to draw the same points). Segments keep every kill inside the
stream however slow a restart is on a loaded machine: the next segment only starts once the
restarted process is subscribed, and the last one runs without a kill."""

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
SEGMENT = TOTAL // (KILLS + 1)
RATE = 1000.0  # messages per second over all connections: 5 s per segment
BATCH_MAX = 500
OKRUG = "sogety"


def test_kill_9_at_three_random_points_then_restart_every_reading_once(
    mosquitto: BrokerHandle, influx: InfluxHandle, tmp_path: Path
) -> None:
    seed = int(os.environ.get("JAYLYM_RELIABILITY_SEED") or random.SystemRandom().getrandbits(32))
    rng = random.Random(seed)
    points = [k * SEGMENT + rng.randrange(SEGMENT // 10, SEGMENT * 9 // 10) for k in range(KILLS)]
    print(f"ingest kill: seed={seed} kill points (readings stored)={points}")
    prefix = f"k{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{i:05d}" for i in range(CONNECTIONS)]  # bench/rawpub.py's device ids
    ingest = IngestProcess(
        mosquitto.url, influx.url, tmp_path / "ingest",
        extra_env={"JAYLYM_INGEST_BATCH_MAX": str(BATCH_MAX)},
    )  # fmt: skip
    provision(ingest.registry_url, [DeviceInfo(d, "collar", OKRUG) for d in ids])
    start_ts = int(time.time()) - 7200
    results: list[dict[str, float]] = []
    failures: list[BaseException] = []

    def publish(segment: int) -> None:
        load = RawLoad(
            url=mosquitto.url, messages=SEGMENT, connections=CONNECTIONS, processes=2,
            okrug=OKRUG, prefix=prefix, start_ts=start_ts,
            seq_offset=segment * SEGMENT // CONNECTIONS, rate=RATE,
        )  # fmt: skip
        try:
            results.append(raw_publish(load))
        except BaseException as exc:
            failures.append(exc)

    at_kill: list[int] = []
    mid_publish: list[bool] = []
    try:
        ingest.start()
        for segment in range(KILLS + 1):
            publisher = threading.Thread(target=publish, args=(segment,), daemon=True)
            publisher.start()
            if segment < KILLS:
                point = points[segment]
                eventually(lambda p=point: stored_count(influx.url, ingest.database) >= p,
                           180, f"{point} readings stored")  # fmt: skip
                assert ingest.proc is not None
                os.killpg(ingest.proc.pid, signal.SIGKILL)  # mid-batch, no goodbye
                ingest.proc.wait(timeout=10)
                at_kill.append(stored_count(influx.url, ingest.database))
                mid_publish.append(publisher.is_alive())
                ingest.start()  # same client id: the broker kept the session's messages
            publisher.join(timeout=300)
            assert not publisher.is_alive(), "a segment's publishers did not finish in 300 s"
        assert not failures, failures
        assert sum(r["sent"] for r in results) == sum(r["acked"] for r in results) == TOTAL
        eventually(lambda: stored_count(influx.url, ingest.database) >= TOTAL, 180,
                   "every reading after the last restart")  # fmt: skip
        time.sleep(1.0)  # a late double would show by now
    finally:
        ingest.stop()
    result = tally(influx.url, ingest.database, {d: range(PER_DEVICE) for d in ids})
    stats = read_stats(ingest.registry_url)
    surplus = sum(stats[d].received for d in ids) - TOTAL
    print(result.line("ingest_kill_9", KILLS, connections=CONNECTIONS, seed=seed,
                      stored_at_kills="/".join(map(str, at_kill)),
                      kills_while_publishing=sum(mid_publish),
                      ledger_recounted=surplus))  # fmt: skip
    assert all(n < TOTAL for n in at_kill), f"a kill came after the stream: {at_kill}"
    assert result.exact, result
    assert result.stored == TOTAL
    for device_id in ids:
        assert stats[device_id].missing == 0, device_id
        assert stats[device_id].received >= PER_DEVICE, device_id
    # A kill between the ledger commit and the PUBACK can count that batch again as received
    # (ingest/README.md): at most one batch per kill. The stored points are exact regardless.
    assert 0 <= surplus <= KILLS * BATCH_MAX, surplus

"""The store (a real influxd) stopped for 30 s in the middle of a stream, then restarted: the
ingest keeps acknowledging from its on-disk spool, replays it when the store answers again,
and every reading is in InfluxDB exactly once, counted per device and seq over raw rows.
(Moved here from tests/ingest/test_influx_faults.py, where it was a 20 s outage.)"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from bench.rawpub import RawLoad
from bench.rawpub import run as raw_publish
from jaylym.models import DeviceInfo
from jaylym.services import InfluxD
from jaylym.settings import Settings
from jaylym.store import open_store
from tests.conftest import BrokerHandle
from tests.ingest.live import eventually, running_ingest
from tests.reliability.exactly_once import stored_count, tally

pytestmark = [pytest.mark.mqtt, pytest.mark.influx, pytest.mark.slow]

DEVICES = 20
PER_DEVICE = 100
TOTAL = DEVICES * PER_DEVICE
OUTAGE_S = 30.0
BEFORE_S = 4.0  # stream time before the store stops
STREAM_S = BEFORE_S + OUTAGE_S + 4.0  # and goes on after it is back


def test_store_stopped_for_30_s_mid_stream(
    mosquitto: BrokerHandle, own_influxd: InfluxD, tmp_path: Path
) -> None:
    db = f"outage_{uuid.uuid4().hex[:10]}"
    store = open_store(Settings(tsdb="influx", influx_url=own_influxd.url, influx_db=db))
    prefix = f"o{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{i:05d}" for i in range(DEVICES)]  # bench/rawpub.py's device ids
    devices = [DeviceInfo(d, "collar", "sogety") for d in ids]
    load = RawLoad(
        url=mosquitto.url, messages=TOTAL, connections=DEVICES, processes=1, okrug="sogety",
        prefix=prefix, start_ts=int(time.time()) - 7200, rate=TOTAL / STREAM_S,
    )  # fmt: skip
    published: dict[str, float] = {}
    publisher = threading.Thread(target=lambda: published.update(raw_publish(load)))
    client_id = f"outage-{uuid.uuid4().hex[:8]}"
    with running_ingest(mosquitto.url, store, devices, tmp_path, client_id=client_id) as ingest:
        publisher.start()
        eventually(lambda: stored_count(own_influxd.url, db) > 0, 30, "the stream flowing")
        time.sleep(BEFORE_S)
        own_influxd.stop()
        time.sleep(OUTAGE_S)
        spooled = ingest.metric("jaylym_ingest_readings_spooled_total")
        assert spooled > 0, "nothing went to the spool during a 30 s outage"
        assert ingest.metric("jaylym_ingest_store_up") == 0
        assert ingest.service.spool.depth_bytes > 0
        # The spool took the outage's readings: the ingest kept acknowledging.
        assert ingest.service.health()["acks_held"] is False
        own_influxd.start()
        publisher.join(timeout=120)
        assert not publisher.is_alive(), "the publishers did not finish in 120 s"
        assert published.get("acked") == TOTAL, published
        eventually(lambda: stored_count(own_influxd.url, db) >= TOTAL, 90, "every reading")
        eventually(lambda: ingest.service.spool.empty, 30, "spool drained")
        assert ingest.metric("jaylym_ingest_spool_bytes") == 0
        time.sleep(1.0)  # a late double would show by now
    result = tally(own_influxd.url, db, {d: range(PER_DEVICE) for d in ids})
    print(result.line("store_outage_30s", 1, outage_s=OUTAGE_S, spooled=int(spooled)))
    assert result.exact, result
    assert result.stored == TOTAL
    store.close()

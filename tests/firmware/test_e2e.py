"""Collar and soil station firmware on the MicroPython unix port against real Mosquitto.

What arrives is read through a `sink`, and every test runs once per sink: `mqtt`, a
service-account subscriber on the broker, and `ingest`, the real `jaylym ingest` process
(devices registered in a real registry) writing into the real InfluxDB, read back from the
store. With the ingest sink the outage test also checks the ingest's own ledger.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.firmware.fleet import Fleet, IngestSink, Sink, check_message, wait_for
from tests.ingest.registry_db import read_stats

pytestmark = pytest.mark.mqtt


def assert_no_seq_missing(rows: list[tuple[int, float, float]]) -> None:
    seqs = {seq for seq, _, _ in rows}
    assert seqs, "nothing arrived"
    assert seqs == set(range(max(seqs) + 1)), (
        f"missing seq: {sorted(set(range(max(seqs) + 1)) - seqs)}"
    )
    by_seq: dict[int, set[float]] = {}
    for seq, ts, _ in rows:
        by_seq.setdefault(seq, set()).add(ts)
    reused = {s: t for s, t in by_seq.items() if len(t) > 1}
    assert not reused, f"one seq, two readings (seq reused after a restart?): {reused}"


def test_devices_report_per_protocol_and_take_remote_config(fleet: Fleet, sink: Sink) -> None:
    collar = fleet.add("e2e-collar-1", "collar")
    soil = fleet.add("e2e-soil-1", "soil")
    # Retained configs waiting before the devices first connect: one good, one bad.
    fleet.collector.publish(
        fleet.topic(soil.device_id, "cmd/config"), json.dumps({"interval_s": 600})
    )
    fleet.collector.publish(
        fleet.topic(collar.device_id, "cmd/config"), json.dumps({"interval_moving_s": 5})
    )
    fleet.start(collar.device_id, cycles=4)
    fleet.start(soil.device_id, cycles=4)
    for proc in fleet.procs.values():
        assert proc.wait(timeout=90) == 0

    for device in (collar, soil):
        cycles = fleet.events(device.device_id, "cycle")
        assert len(cycles) == 4, fleet.events(device.device_id)
        assert all(c["error"] is None for c in cycles), cycles
        rows = sink.readings(device.device_id)
        assert_no_seq_missing(rows)
        assert max(seq for seq, _, _ in rows) == cycles[-1]["next_seq"] - 1
    collar_cycles = fleet.events(collar.device_id, "cycle")
    # Every collar cycle either sent a fix or counted a no-fix: never a position-less reading.
    assert len(sink.readings(collar.device_id)) + len(fleet.events(collar.device_id, "no_fix")) >= 4
    assert collar_cycles

    # Good config: accepted, persisted, applied from the *next* cycle.
    soil_cycles = fleet.events(soil.device_id, "cycle")
    assert soil_cycles[0]["sleep_s"] == 1800
    assert [c["sleep_s"] for c in soil_cycles[1:]] == [600, 600, 600]
    assert json.loads((soil.folder / "config.json").read_text())["interval_s"] == 600
    assert len(fleet.events(soil.device_id, "config_accepted")) == 1  # re-delivery: no rewrite

    # Bad config: rejected, not persisted, reported on the retained status.
    assert not (collar.folder / "config.json").exists()
    statuses = [
        m for m in fleet.collector.snapshot() if m.topic == fleet.topic(collar.device_id, "status")
    ]
    for m in statuses:
        check_message(m.topic, m.payload, True)
    last = json.loads(statuses[-1].payload)
    assert last["state"] == "online"
    assert "interval_moving_s" in last["config_error"]
    soil_status = [
        m for m in fleet.collector.snapshot() if m.topic == fleet.topic(soil.device_id, "status")
    ]
    assert soil_status[-1].payload == b"online"


def test_broker_outage_queues_and_replays_with_original_timestamps(
    fleet: Fleet, sink: Sink
) -> None:
    collar = fleet.add("e2e-collar-2", "collar")
    soil = fleet.add("e2e-soil-2", "soil")
    ids = (collar.device_id, soil.device_id)
    for device_id in ids:
        fleet.start(device_id)
    wait_for(lambda: all(len(sink.readings(d)) >= 2 for d in ids), 60, "readings before the outage")

    fleet.broker.stop()
    stopped_at = time.time()
    offline_before = {d: len(fleet.events(d, "cycle")) for d in ids}

    def queued_enough() -> bool:
        return all(
            sum(1 for c in fleet.events(d, "cycle")[offline_before[d] :] if c["error"]) >= 3
            for d in ids
        )

    wait_for(queued_enough, 60, "three offline cycles on each device")
    fleet.broker.start()
    restarted_at = time.time()

    # The soil station also loses power meanwhile: seq must go on from flash, not restart.
    fleet.procs[soil.device_id].kill()
    fleet.procs[soil.device_id].wait(timeout=10)
    fleet.start(soil.device_id)

    def replayed() -> bool:
        for d in ids:
            cycles = fleet.events(d, "cycle")
            if not cycles or cycles[-1]["error"] is not None:
                return False
            rows = sink.readings(d)
            if not rows or len({s for s, _, _ in rows}) < max(s for s, _, _ in rows) + 1:
                return False
            if not any(stopped_at <= ts <= restarted_at for _, ts, _ in rows):
                return False
        return True

    wait_for(replayed, 90, "the queued readings to arrive after the outage")
    fleet.stop_all()

    for d in ids:
        rows = sink.readings(d)
        assert_no_seq_missing(rows)
        offline = [(seq, ts, at) for seq, ts, at in rows if stopped_at <= ts <= restarted_at]
        assert len(offline) >= 2, f"{d}: readings measured during the outage: {offline}"
        # Measured while the broker was down, delivered after it came back, time unchanged.
        assert all(at >= restarted_at for _, _, at in offline), offline
    boots = fleet.events(soil.device_id, "boot")
    assert len(boots) == 2
    assert boots[1]["next_seq"] > 0, "seq restarted after a power loss"
    if isinstance(sink, IngestSink):
        # The ingest counted what the store shows: no gap, every reading received (a batch
        # cut by the power loss may come twice: a repeat, never a gap).
        stats = read_stats(sink.ingest.registry_url)
        for d in ids:
            distinct = len({seq for seq, _, _ in sink.readings(d)})
            assert stats[d].missing == 0, (d, stats[d])
            assert stats[d].received >= distinct, (d, stats[d], distinct)

"""Hypothesis fuzzing: no exception escapes a decoder, and every refusal reaches the DLQ."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decoders import decode
from ingest.reasons import Rejected
from ingest.validate import build_items, resolve_device
from tests.ingest.golden import GOLDEN_NOW_MS, LIMITS, golden_directory
from tests.ingest.harness import Harness

TOPICS = st.sampled_from(
    [
        "pasture/v1/sogety/collar/c-001/telemetry",
        "pasture/v1/sogety/soil/s-001/telemetry",
        "pasture/v1/sogety/collar/c-404/telemetry",
        "application/app/device/70b3d57ed0000001/event/up",
        "application/app/device/70b3d57ed0000002/event/up",
        "v3/app@ttn/devices/cow/up",
    ]
) | st.text(max_size=80)

NOW_S = GOLDEN_NOW_MS // 1000
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
reading_like = st.fixed_dictionaries(
    {},
    optional={
        "seq": st.integers(-5, 2**70) | json_values,
        "ts": st.floats() | st.integers(NOW_S - 10**8, NOW_S + 10**4),
        "lat": st.floats(), "lon": st.floats(), "hdop": st.floats(), "sats": st.integers(),
        "bat": st.floats(), "depths": st.lists(st.integers(-10, 600), max_size=4),
        "vwc": st.lists(st.floats(), max_size=4),
        "tsoil": st.lists(st.floats(), max_size=4) | st.none(),
    },
)  # fmt: skip
native = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 2, "1"]), "readings": st.lists(reading_like, max_size=4)}
)
lns = st.fixed_dictionaries(
    {
        "deviceInfo": st.fixed_dictionaries(
            {"devEui": st.sampled_from(["70b3d57ed0000001", "70b3d57ed0000002", "zz"])}
        ),
        "fCnt": st.integers(-1, 2**33), "fPort": st.integers(0, 300),
        "data": st.binary(max_size=50).map(lambda b: base64.b64encode(b).decode()) | st.text(),
        "time": st.text(max_size=30) | st.just("2026-07-07T11:00:00.1Z"),
    },
    optional={"object": json_values},
)  # fmt: skip
tts = st.fixed_dictionaries(
    {
        "end_device_ids": st.fixed_dictionaries({"dev_eui": st.just("70B3D57ED0000001")}),
        "uplink_message": st.fixed_dictionaries(
            {"f_port": st.integers(0, 3), "received_at": st.just("2026-07-07T11:00:00Z"),
             "frm_payload": st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode())},
            optional={"f_cnt": st.integers(-1, 10), "decoded_payload": json_values},
        ),
    }
)  # fmt: skip
PAYLOADS = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | native.map(lambda v: json.dumps(v).encode())
    | lns.map(lambda v: json.dumps(v).encode())
    | tts.map(lambda v: json.dumps(v).encode())
)


@settings(max_examples=600, deadline=None)
@given(topic=TOPICS, payload=PAYLOADS)
def test_decoders_raise_nothing_but_rejected(topic: str, payload: bytes) -> None:
    directory = golden_directory()
    try:
        decoded = decode(topic, payload)
        device = resolve_device(decoded, directory)
        build_items(decoded, device, GOLDEN_NOW_MS, LIMITS)
    except Rejected:
        pass


GOLDEN_DEVICES = [d for d in map(golden_directory().lookup, ("c-001", "s-001", "c-009")) if d]


def _dead_count(h: Harness) -> int:
    return len(h.ledger.dead_letters)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(st.tuples(TOPICS, PAYLOADS), min_size=1, max_size=8))
def test_every_refusal_lands_in_the_dlq(messages: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp), devices=GOLDEN_DEVICES)
        for topic, payload in messages:
            h.send(topic, payload)
        h.drain()
        assert len(h.transport.acked) == len(messages)  # each handled, none left hanging
        rejected = sum(
            s.value
            for metric in h.metrics.registry.collect()
            if metric.name == "jaylym_ingest_rejected"
            for s in metric.samples
            if s.name.endswith("_total")
        )
        assert rejected == _dead_count(h)
        dlq_topics = [t for t, _ in h.transport.published]
        assert dlq_topics == [f"pasture/v1/_dlq/{d.reason}" for d in h.ledger.dead_letters]
        h.spool.close()

"""Hostile payloads against every decoder of `ingest.decoders.DECODERS`, then the consumer.

Each input class (random bytes, deep nesting, huge numbers, NaN and +-Infinity literals,
wrong types, duplicate keys, invalid UTF-8, 1 MiB payloads) is spliced into every value of a
valid message of every decoder. The promise checked for each: only `Rejected` escapes, it
carries a `Reason` and a non-empty detail, and whatever is accepted is a valid reading (finite
numbers inside their ranges). The consumer then counts every refusal once (ledger, DLQ topic
and metric agree) and acknowledges every message, writing nothing half.

Hypothesis runs derandomized: the same examples every run, so a CI failure reproduces.
"""

from __future__ import annotations

import base64
import json
import math
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decoders import DECODERS, decode
from ingest.decoders.lorawan_binary import decode_frame
from ingest.reasons import Reason, Rejected
from ingest.schema import VWC_TOLERANCE_PCT
from ingest.validate import Item, build_items, resolve_device
from jaylym.models import PositionReading, Reading, SoilReading
from tests.ingest.golden import GOLDEN_NOW_MS, LIMITS, golden_directory
from tests.ingest.harness import Harness

FUZZ = settings(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MIB = 1 << 20
NOW_S = GOLDEN_NOW_MS // 1000

# -- one valid message per decoder; every leaf is a slot a hostile value goes into ------------
# The LoRaWAN templates carry only fields the decoder reads (no fPort beside `object`), so a
# hostile value in any slot must be refused, never silently ignored.
TEMPLATES: dict[str, tuple[str, dict[str, Any]]] = {
    "native": (
        "pasture/v1/sogety/collar/c-001/telemetry",
        {"v": 1, "readings": [{"seq": 1, "ts": NOW_S - 60, "lat": 43.36, "lon": 77.98,
                               "bat": 3.9, "hdop": 1.1, "sats": 8, "alt": 1800.0}]},
    ),
    "chirpstack": (
        "application/app/device/70b3d57ed0000001/event/up",
        {"deviceInfo": {"devEui": "70b3d57ed0000001"}, "fCnt": 7,
         "time": "2026-07-07T11:00:00Z", "object": {"lat": 43.36, "lon": 77.98, "bat": 3.9}},
    ),
    "thethingsstack": (
        "v3/app@ttn/devices/cow/up",
        {"end_device_ids": {"dev_eui": "70B3D57ED0000001"},
         "uplink_message": {"f_cnt": 7, "received_at": "2026-07-07T11:00:00Z",
                            "decoded_payload": {"lat": 43.36, "lon": 77.98, "bat": 3.9}}},
    ),
}  # fmt: skip
# The compact binary layout travels inside the LoRaWAN decoders' base64 field.
BINARY_TEMPLATES: dict[str, tuple[str, dict[str, Any]]] = {
    "chirpstack": (
        "application/app/device/70b3d57ed0000001/event/up",
        {"deviceInfo": {"devEui": "70b3d57ed0000001"}, "fCnt": 7, "fPort": 1,
         "time": "2026-07-07T11:00:00Z", "data": "@FRAME@"},
    ),
    "thethingsstack": (
        "v3/app@ttn/devices/cow/up",
        {"end_device_ids": {"dev_eui": "70B3D57ED0000001"},
         "uplink_message": {"f_cnt": 7, "f_port": 1, "received_at": "2026-07-07T11:00:00Z",
                            "frm_payload": "@FRAME@"}},
    ),
}  # fmt: skip
SLOT = "\x00slot\x00"


def test_every_registered_decoder_has_a_template() -> None:
    """A new decoder in the table fails here until it gets its hostile-input template."""
    assert {d.name for d in DECODERS} == set(TEMPLATES)
    for name, (topic, _body) in TEMPLATES.items():
        assert [d.name for d in DECODERS if d.matches(topic)] == [name]


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from leaves(inner, (*path, index))
    else:
        yield path


def splice(body: dict[str, Any], path: tuple[Any, ...], raw: str | bytes) -> bytes:
    """The template as JSON with the value at `path` replaced by the raw text or bytes `raw`
    (which need not be valid JSON, nor UTF-8: that is the point)."""
    doc = json.loads(json.dumps(body))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = SLOT
    head, _slot, tail = json.dumps(doc).partition(json.dumps(SLOT))
    return head.encode() + (raw.encode() if isinstance(raw, str) else raw) + tail.encode()


def key_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every object key, containers included."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*path, key)
            yield from key_paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from key_paths(inner, (*path, index))


def with_duplicate(value: Any, path: tuple[Any, ...], other: str, before: bool) -> str:
    """`value` as JSON text, with the key at `path` repeated holding the raw text `other`
    (before or after the original)."""
    here = path[0] if path else None
    if isinstance(value, dict):
        parts = []
        for key, inner in value.items():
            deeper = path[1:] if key == here else ()
            pair = f"{json.dumps(key)}: {with_duplicate(inner, deeper, other, before)}"
            if key == here and len(path) == 1:
                extra = f"{json.dumps(key)}: {other}"
                parts += [extra, pair] if before else [pair, extra]
            else:
                parts.append(pair)
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        items = (
            with_duplicate(inner, path[1:] if i == here else (), other, before)
            for i, inner in enumerate(value)
        )
        return "[" + ", ".join(items) + "]"
    return json.dumps(value)


SLOTS = [(name, path) for name, (_t, body) in TEMPLATES.items() for path in leaves(body)]

# -- the verdict -------------------------------------------------------------------------------


def verdict(topic: str, payload: bytes) -> tuple[list[Item], list[Rejected]]:
    """Decode, resolve and validate as the consumer does; only `Rejected` may escape."""
    try:
        decoded = decode(topic, payload)
        device = resolve_device(decoded, golden_directory())
        items, refused = build_items(decoded, device, GOLDEN_NOW_MS, LIMITS)
    except Rejected as exc:
        return [], [explained(exc)]
    for item in items:
        for reading in item.readings:
            assert_valid(reading)
    return items, [explained(r) for r in refused]


def explained(exc: Rejected) -> Rejected:
    assert isinstance(exc.reason, Reason)
    assert exc.detail.strip(), f"{exc.reason} without a detail"
    assert len(exc.detail) <= 500
    return exc


def assert_valid(r: Reading) -> None:
    numbers = [r.ts_ms, r.seq, *(v for v in vars_of(r) if v is not None)]
    assert all(isinstance(n, int | float) and math.isfinite(n) for n in numbers), r
    assert 0 <= r.seq <= 2**63 - 1
    assert GOLDEN_NOW_MS - LIMITS.max_age_ms <= r.ts_ms <= GOLDEN_NOW_MS + LIMITS.max_future_ms
    assert r.bat is None or 0 <= r.bat <= 6
    if isinstance(r, PositionReading):
        assert -90 <= r.lat <= 90
        assert -180 <= r.lon <= 180
        assert r.hdop is None or 0 <= r.hdop <= 100
        assert r.sats is None or 0 <= r.sats <= 64
        assert r.alt is None or -500 <= r.alt <= 9000
    else:
        assert 0 <= r.depth_cm <= 500
        assert -VWC_TOLERANCE_PCT <= r.vwc <= 100
        assert r.tsoil is None or -60 <= r.tsoil <= 80


def vars_of(r: Reading) -> list[float | int | None]:
    if isinstance(r, PositionReading):
        return [r.lat, r.lon, r.hdop, r.sats, r.alt, r.bat]
    assert isinstance(r, SoilReading)
    return [r.vwc, r.tsoil, r.bat, r.depth_cm]


def refused_only(topic: str, payload: bytes, *reasons: Reason) -> list[Rejected]:
    """The message yields no reading at all, and is refused for one of `reasons`."""
    items, refused = verdict(topic, payload)
    assert items == [], f"accepted {items} from {payload[:120]!r}"
    assert refused
    assert {r.reason for r in refused} <= set(reasons), [str(r) for r in refused]
    return refused


def test_the_templates_are_accepted() -> None:
    """The hostile cases below differ from a valid message only in the spliced value."""
    for topic, body in TEMPLATES.values():
        items, refused = verdict(topic, json.dumps(body).encode())
        assert refused == []
        assert len(items) == 1
    frame = base64.b64encode(bytes(11)).decode()
    for topic, body in BINARY_TEMPLATES.values():
        items, refused = verdict(topic, json.dumps(body).replace("@FRAME@", frame).encode())
        assert (len(items), refused) == (1, [])


# -- classes of hostile values in every slot ---------------------------------------------------
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]
HUGE_INTS = ["1" + "0" * 5000, "-" + "9" * 4301, "1" + "0" * 300, str(2**64), str(-(2**63))]
WRONG_TYPES = ['"1"', '"NaN"', "true", "false", "[]", "[1, 2]", "{}", '{"$ne": 1}', '""']


def _value_at(name: str, path: tuple[Any, ...]) -> Any:
    target: Any = TEMPLATES[name][1]
    for key in path:
        target = target[key]
    return target


@pytest.mark.parametrize(("name", "path"), SLOTS, ids=lambda v: str(v))
def test_non_finite_and_huge_numbers_are_refused_in_every_slot(
    name: str, path: tuple[Any, ...]
) -> None:
    """NaN, Infinity and 1e400 parse (Python's json takes them) but no reading carries one:
    a number slot refuses them as out_of_range, an integer or string slot as bad_schema.
    Integers past 4300 digits are refused by the parser's limit (malformed_json), 10**300,
    2**64 and -2**63 by the ranges (out_of_range) or the types (bad_schema)."""
    topic, body = TEMPLATES[name]
    for raw in NON_FINITE + HUGE_INTS:
        payload = splice(body, path, raw)
        if len(raw) > 4300:
            refused_only(topic, payload, Reason.MALFORMED_JSON)
        else:
            refused_only(topic, payload, Reason.OUT_OF_RANGE, Reason.BAD_SCHEMA)


@pytest.mark.parametrize(("name", "path"), SLOTS, ids=lambda v: str(v))
def test_wrong_types_are_refused_in_every_slot(name: str, path: tuple[Any, ...]) -> None:
    """A string where a number belongs (even "1"), a boolean, a list or an object: refused
    as bad_schema, never coerced. `null` is allowed only where the field is optional."""
    topic, body = TEMPLATES[name]
    for raw in WRONG_TYPES:  # (a string where a string belongs has its content checked)
        refused_only(topic, splice(body, path, raw), Reason.BAD_SCHEMA)
    items, refused = verdict(topic, splice(body, path, "null"))
    if path[-1] in ("bat", "hdop", "sats", "alt"):
        assert len(items) == 1  # optional: left out of the reading
        assert getattr(items[0].readings[0], str(path[-1])) is None
    else:
        assert items == []
        assert {r.reason for r in refused} <= {Reason.BAD_SCHEMA, Reason.OUT_OF_RANGE}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_deep_nesting_is_refused_without_recursion_error(name: str) -> None:
    """100 000 `[` (unterminated, and balanced), as the whole payload and inside a value;
    500 levels (under the interpreter's recursion limit) reach the schema and are refused."""
    topic, body = TEMPLATES[name]
    deep_open = "[" * 100_000
    deep_balanced = "[" * 100_000 + "]" * 100_000
    for raw in (deep_open, deep_balanced, "{" + '"a":{' * 100_000):
        refused_only(topic, raw.encode(), Reason.MALFORMED_JSON)
        for path in leaves(body):
            refused_only(topic, splice(body, path, raw), Reason.MALFORMED_JSON)
    nested = "[" * 500 + "]" * 500
    for path in leaves(body):
        refused_only(topic, splice(body, path, nested), Reason.BAD_SCHEMA)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_duplicate_keys_are_refused(name: str) -> None:
    """Every key of the message repeated with another value: refused (bad_schema), whichever
    copy comes first, so no parser along the way can read a different device or value."""
    topic, body = TEMPLATES[name]
    paths = list(key_paths(body))
    assert len(paths) > len(list(leaves(body)))  # containers (readings, object...) too
    for path in paths:
        same = json.dumps(_value_at(name, path))
        for other in ('"70b3d57ed0000002"', "0", "{}", same):
            for before in (True, False):
                payload = with_duplicate(body, path, other, before)
                assert payload.count(json.dumps(path[-1])) == 2
                refused = refused_only(topic, payload.encode(), Reason.BAD_SCHEMA)
                assert f"duplicate key {path[-1]!r}" in refused[0].detail


INVALID_UTF8 = [
    b"\xff",  # never valid
    b"\xc3",  # truncated two-byte sequence
    b"\x80",  # lone continuation byte
    b"\xc0\xaf",  # overlong "/"
    b"\xed\xa0\x80",  # an encoded surrogate (CESU-8)
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_invalid_utf8_is_refused(name: str) -> None:
    """Invalid UTF-8 in a string or a key, and valid JSON in UTF-16/32: malformed_json."""
    topic, body = TEMPLATES[name]
    text = json.dumps(body).encode()
    for bad in INVALID_UTF8:
        for payload in (text.replace(b'": ', b'": "' + bad + b'", "x": ', 1),
                        text.replace(b'{"', b'{"' + bad, 1), bad + text, text + bad):  # fmt: skip
            refused_only(topic, payload, Reason.MALFORMED_JSON)
    for codec in ("utf-16", "utf-16-le", "utf-32"):
        refused_only(topic, json.dumps(body).encode(codec), Reason.MALFORMED_JSON)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_one_mib_payloads_are_refused_or_bounded(name: str) -> None:
    """1 MiB of one string, of readings, of whitespace and of random-looking bytes. The
    consumer refuses them as too_large before decoding (test below); a decoder called
    directly still answers with a refusal, never an exception or an unbounded list."""
    topic, body = TEMPLATES[name]
    text = json.dumps(body)
    big_string = splice(body, next(iter(leaves(body))), json.dumps("x" * MIB))
    whitespace = (" " * MIB + text).encode()
    garbage = bytes(range(256)) * (MIB // 256)
    many = json.dumps({"v": 1, "readings": [{"seq": 1}] * (MIB // 10)}).encode()
    for payload in (big_string, garbage, many):
        assert len(payload) >= MIB
        items, refused = verdict(topic, payload)
        assert refused
        assert items == []
    items, _ = verdict(topic, whitespace)  # insignificant whitespace: still the valid message
    assert len(items) == 1


# -- random structure and bytes, through all the decoders -------------------------------------

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


@settings(FUZZ, max_examples=400)
@given(topic=TOPICS, payload=PAYLOADS)
def test_decoders_raise_nothing_but_rejected(topic: str, payload: bytes) -> None:
    verdict(topic, payload)


@settings(FUZZ, max_examples=300)
@given(
    name=st.sampled_from(sorted(TEMPLATES)),
    slot=st.integers(0, 20),
    raw=st.binary(max_size=40) | json_values.map(json.dumps),
)
def test_random_bytes_in_any_slot(name: str, slot: int, raw: bytes | str) -> None:
    """Random bytes (or random JSON) spliced in place of any value of a valid message."""
    topic, body = TEMPLATES[name]
    paths = list(leaves(body))
    path = paths[slot % len(paths)]
    verdict(topic, splice(body, path, raw))


@settings(FUZZ, max_examples=300)
@given(port=st.integers(0, 300), frame=st.binary(max_size=60))
def test_compact_binary_frames(port: int, frame: bytes) -> None:
    """Every port and frame: a reading whose values the schema then checks, or a refusal;
    and inside both LoRaWAN envelopes, only valid readings come out."""
    try:
        decode_frame(port, frame)
    except Rejected as exc:
        explained(exc)
    data = base64.b64encode(frame).decode()
    for topic, body in BINARY_TEMPLATES.values():
        text = json.dumps(body).replace("@FRAME@", data)
        verdict(topic, text.replace('"fPort": 1', f'"fPort": {port}')
                .replace('"f_port": 1', f'"f_port": {port}').encode())  # fmt: skip


# -- the consumer counts every refusal once and writes nothing half ----------------------------

GOLDEN_DEVICES = [d for d in map(golden_directory().lookup, ("c-001", "s-001", "c-009")) if d]


def rejected_metric(h: Harness) -> Counter[str]:
    out: Counter[str] = Counter()
    for metric in h.metrics.registry.collect():
        if metric.name == "jaylym_ingest_rejected":
            for s in metric.samples:
                if s.name.endswith("_total"):
                    out[s.labels["reason"]] += int(s.value)
    return out


def assert_counted(h: Harness, sent: int) -> None:
    """Every message acknowledged; ledger, DLQ topics and the metric tell the same story."""
    assert len(h.transport.acked) == sent  # each handled, none left hanging
    letters = Counter(d.reason for d in h.ledger.dead_letters)
    assert rejected_metric(h) == letters
    dlq = [t for t, _ in h.transport.published]
    assert dlq == [f"pasture/v1/_dlq/{d.reason}" for d in h.ledger.dead_letters]
    for _topic, body in h.transport.published:
        doc = json.loads(body)
        assert doc["reason"] in set(Reason)
        assert doc["detail"]
    for reading in h.store.points.values():
        assert_valid_stored(reading)


def assert_valid_stored(r: Reading) -> None:
    assert all(math.isfinite(v) for v in vars_of(r) if v is not None), r


def hostile_messages() -> list[tuple[str, str, bytes]]:
    """(class, topic, payload): one message per input class and decoder."""
    out: list[tuple[str, str, bytes]] = []
    for topic, body in TEMPLATES.values():
        first = next(iter(leaves(body)))
        text = json.dumps(body)
        out += [
            ("random bytes", topic, bytes(range(7, 200, 3))),
            ("deep nesting", topic, b"[" * 60_000),  # under the 64 KiB size limit
            ("huge number", topic, splice(body, first, "1" + "0" * 5000)),
            ("1e400", topic, splice(body, first, "1e400")),
            ("NaN", topic, splice(body, first, "NaN")),
            ("-Infinity", topic, splice(body, first, "-Infinity")),
            ("wrong type", topic, splice(body, first, '"1"')),
            ("duplicate key", topic, text.replace("{", '{"k": 1, "k": 2, ', 1).encode()),
            ("invalid utf-8", topic, text.encode() + b"\xff"),
            ("1 MiB", topic, splice(body, first, json.dumps("x" * MIB))),
        ]
    return out


def test_consumer_counts_every_class_and_stores_only_the_good(tmp_path: Path) -> None:
    """Each hostile class for each decoder, interleaved with good messages in the same
    batches: the good readings are stored exactly once, each hostile message is one dead
    letter with its reason, and every message is acknowledged."""
    h = Harness(tmp_path, devices=GOLDEN_DEVICES)
    hostile = hostile_messages()
    good_topic, good_body = TEMPLATES["native"]
    sent = 0
    for index, (_cls, topic, payload) in enumerate(hostile):
        h.send(topic, payload)
        ts = time.time() - 3600 + index  # the harness runs on the real clock
        reading = {**good_body["readings"][0], "seq": 100 + index, "ts": ts}
        h.send(good_topic, json.dumps({"v": 1, "readings": [reading]}).encode())
        sent += 2
    h.drain()
    assert_counted(h, sent)
    assert len(h.ledger.dead_letters) == len(hostile)
    by_class: dict[str, set[str]] = {}
    for (cls, _t, _p), letter in zip(hostile, h.ledger.dead_letters, strict=True):
        by_class.setdefault(cls, set()).add(letter.reason)
    assert by_class["1 MiB"] == {Reason.TOO_LARGE}  # decided before any parsing
    for cls in ("invalid utf-8", "deep nesting", "huge number", "random bytes"):
        assert by_class[cls] == {Reason.MALFORMED_JSON}, cls
    assert by_class["duplicate key"] == {Reason.BAD_SCHEMA}
    assert sorted(r.seq for r in h.store.points.values()) == [100 + i for i in range(len(hostile))]
    h.spool.close()


def test_a_message_is_never_half_written(tmp_path: Path) -> None:
    """A message with good readings and NaN/Infinity/string ones: exactly the good readings
    are stored, each bad one is one dead letter, and the message is acknowledged once.
    Repeating the message adds nothing (the good readings are duplicates, the bad refused
    again), so a redelivery never doubles a point."""
    h = Harness(tmp_path, devices=GOLDEN_DEVICES)
    topic, body = TEMPLATES["native"]
    good = {**body["readings"][0], "ts": time.time() - 600}
    ts3 = good["ts"] + 60
    text = json.dumps({"v": 1, "readings": [
        {**good, "seq": 1}, {**good, "seq": 2, "lat": "@NAN@"}, {**good, "seq": 3, "ts": ts3},
        {**good, "seq": 4, "lon": "@INF@"}, {**good, "seq": 5, "bat": "3.9"},
    ]}).replace('"@NAN@"', "NaN").replace('"@INF@"', "Infinity")  # fmt: skip
    for _ in range(2):
        h.send(topic, text.encode())
        h.drain()
    assert_counted(h, 2)
    assert sorted(r.seq for r in h.store.points.values()) == [1, 3]
    assert h.store.batch_sizes == [2]  # the redelivery wrote nothing
    assert [d.reason for d in h.ledger.dead_letters] == ["out_of_range", "out_of_range",
                                                         "bad_schema"] * 2  # fmt: skip
    h.spool.close()


@settings(FUZZ, max_examples=120)
@given(messages=st.lists(st.tuples(TOPICS, PAYLOADS), min_size=1, max_size=8))
def test_every_refusal_lands_in_the_dlq(messages: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp), devices=GOLDEN_DEVICES)
        for topic, payload in messages:
            h.send(topic, payload)
        h.drain()
        assert_counted(h, len(messages))
        h.spool.close()

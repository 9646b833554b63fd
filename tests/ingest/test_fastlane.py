"""The fast lane never decides differently from the general path: whenever it returns an
item, the general path (decoder table, registry verdict, `build_items`) makes exactly that one
item of the message and refuses nothing; everything else it leaves to the general path
(ingest/fastlane.py). Checked on every golden case and on generated messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decoders import decode
from ingest.fastlane import native_collar
from ingest.reasons import Reason, Rejected
from ingest.validate import Item, build_items, resolve_device
from tests.ingest.golden import GOLDEN_NOW_MS, LIMITS, cases, golden_directory

MAX_PAYLOAD = 4096
DIRECTORY = golden_directory()


def _general(topic: str, payload: bytes) -> tuple[list[Item], list[Rejected]]:
    """What the consumer's general path makes of the message (size check included)."""
    if len(payload) > MAX_PAYLOAD:
        return [], [Rejected(Reason.TOO_LARGE, "")]
    try:
        decoded = decode(topic, payload)
        device = resolve_device(decoded, DIRECTORY)
        return build_items(decoded, device, GOLDEN_NOW_MS, LIMITS)
    except Rejected as exc:
        return [], [exc]


def _check(topic: str, payload: bytes) -> bool:
    """Asserts the two agree; True when the fast lane took the message."""
    fast = native_collar(topic, payload, DIRECTORY, GOLDEN_NOW_MS, LIMITS, MAX_PAYLOAD)
    if fast is None:
        return False
    items, refused = _general(topic, payload)
    item, device = fast
    assert refused == [], (topic, payload)
    assert items == [item], (topic, payload)
    assert device == DIRECTORY.lookup(item.device_id)
    return True


@pytest.mark.parametrize("folder", cases(), ids=lambda p: p.name)
def test_every_golden_case(folder: Path) -> None:
    topic = (folder / "topic").read_text().strip()
    taken = _check(topic, (folder / "payload").read_bytes())
    expected = json.loads((folder / "expected.json").read_text())
    if taken:  # then it is a plain accepted collar fix
        assert expected["rejected"] == []
        assert len(expected["readings"]) == 1


def test_the_common_message_takes_the_fast_lane() -> None:
    """Not a speed test: the shape collars send must not all fall back."""
    payload = b'{"v":1,"readings":[{"seq":7,"ts":1783425000,"lat":43.36,"lon":77.98,"hdop":0.9}]}'
    assert _check("pasture/v1/sogety/collar/c-001/telemetry", payload)


GOOD_TOPIC = "pasture/v1/sogety/collar/c-001/telemetry"
TOPICS = st.sampled_from([
    "pasture/v1/sogety/collar/c-009/telemetry",   # revoked
    "pasture/v1/sogety/collar/c-404/telemetry",   # unknown
    "pasture/v1/sogety/soil/c-001/telemetry",     # kind mismatch
    "pasture/v1/other/collar/c-001/telemetry",    # okrug mismatch
    "pasture/v1/sogety/soil/s-001/telemetry",     # a soil station
    "pasture/v1/sogety/collar/s-001/telemetry",   # a soil station as a collar
    "pasture/v1/Sogety/collar/c-001/telemetry",   # not a topic the decoder takes
    "application/x/device/70b3d57ed0000001/event/up",
])  # fmt: skip
VALUE = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**64), 2**64),
    st.sampled_from([0, -0.0, 90, 90.0000001, -180, -180.1, 100, 64, 65, 6, 6.01, 9000, 9001,
                     2**63, -1, True, False, None, "1", [], {}]),
)  # fmt: skip
NOW_S = GOLDEN_NOW_MS / 1000
TS = st.one_of(
    st.floats(NOW_S - 400 * 86_400 - 5, NOW_S + 700),
    st.sampled_from([NOW_S + 600, NOW_S + 600.0004, NOW_S + 600.0006, NOW_S - 400 * 86_400,
                     NOW_S - 400 * 86_400 - 0.0006, int(NOW_S), True, "1783425000", 0]),
)  # fmt: skip
FIX = {"seq": 7, "ts": NOW_S - 60, "lat": 43.36, "lon": 77.98, "hdop": 0.9, "sats": 9,
       "alt": 900.0, "bat": 3.9}  # fmt: skip
# One change at a time, or two, to a message the fast lane takes: each refusal or oddity
# meets it next to an otherwise plain message.
CHANGES = st.one_of(
    st.tuples(st.just("topic"), TOPICS),
    st.tuples(st.just("v"), st.sampled_from([2, 1.0, True, "1", None, 0])),
    st.tuples(st.just("field"), st.tuples(st.sampled_from([*FIX, "depths"]), VALUE)),
    st.tuples(st.just("drop"), st.sampled_from(list(FIX))),
    st.tuples(st.just("ts"), TS),
    st.tuples(st.just("readings"), st.sampled_from([0, 2, "not a list", "not an object"])),
    st.tuples(st.just("envelope"), st.sampled_from([[], "x", None, {}])),
    st.tuples(st.just("repeat"), st.sampled_from(["seq", "v", "lat"])),
    st.tuples(st.just("cut"), st.integers(0, 80)),
    st.tuples(st.just("pad"), st.sampled_from([MAX_PAYLOAD - 80, MAX_PAYLOAD, MAX_PAYLOAD + 1])),
)


def _message(changes: list[tuple[str, Any]]) -> tuple[str, bytes]:
    topic, fix, envelope, text_changes = GOOD_TOPIC, dict(FIX), {"v": 1}, []
    readings: Any = None
    for kind, change in changes:
        if kind == "topic":
            topic = change
        elif kind == "v":
            envelope["v"] = change
        elif kind == "field":
            fix[change[0]] = change[1]
        elif kind == "drop":
            fix.pop(change, None)
        elif kind == "ts":
            fix["ts"] = change
        elif kind == "readings":
            readings = {0: [], 2: [fix, dict(fix, seq=8)], "not a list": fix,
                        "not an object": [7]}[change]  # fmt: skip
        else:
            text_changes.append((kind, change))
    envelope["readings"] = [fix] if readings is None else readings
    obj: Any = envelope
    for kind, change in text_changes:
        if kind == "envelope":
            obj = change
    text = json.dumps(obj)
    for kind, change in text_changes:
        if kind == "repeat" and f'"{change}"' in text:
            text = text.replace(f'"{change}"', f'"{change}": 5, "{change}"', 1)
        elif kind == "cut":
            text = text[: len(text) - change]
        elif kind == "pad":
            text = text + " " * max(0, change - len(text))
    return topic, text.encode()


@settings(max_examples=600, derandomize=True, deadline=None)
@given(st.lists(CHANGES, max_size=2))
def test_generated_messages(changes: list[tuple[str, Any]]) -> None:
    _check(*_message(changes))


def test_each_plain_change_is_either_taken_or_left_alike() -> None:
    """The unchanged message is taken; a few changes that must be left are left."""
    assert _check(*_message([]))
    for change in [("topic", "pasture/v1/other/collar/c-001/telemetry"), ("v", 1.0),
                   ("v", True), ("readings", 2), ("repeat", "seq"),
                   ("ts", NOW_S + 600.0006), ("pad", MAX_PAYLOAD + 1)]:  # fmt: skip
        assert not _check(*_message([change])), change


def test_a_soil_sample_on_a_collar_topic_is_left_to_the_general_path() -> None:
    """s-001 is a soil station: its sample is valid, the topic's kind is not (TOPIC_MISMATCH)."""
    sample = {"seq": 3, "ts": NOW_S - 60, "depths": [10, 30], "vwc": [24.0, 31.5]}
    payload = json.dumps({"v": 1, "readings": [sample]}).encode()
    assert not _check("pasture/v1/sogety/collar/s-001/telemetry", payload)
    items, refused = _general("pasture/v1/sogety/collar/s-001/telemetry", payload)
    assert items == []
    assert [r.reason for r in refused] == [Reason.TOPIC_MISMATCH]

"""Line-protocol escaping: unit rules, and arbitrary strings through both real stores."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaylym.models import DEVICE_ID_RE, PositionReading, Reading, SoilReading
from jaylym.store.base import MAX_TS_MS, MIN_TS_MS, Point, StoreRejected, TimeSeriesStore
from jaylym.store.influx import InfluxStore
from jaylym.store.lineprotocol import (
    decode_text,
    encode_text,
    float_field,
    line,
    string_field,
    tag_value,
)
from jaylym.store.schema import checked_lines, generic_reading_line, reading_line, validate
from tests.jaylym.store.builders import T0, pos
from tests.jaylym.store.conftest import influx_store

HOSTILE = "c1,herd=x v=1\nevil v=2"
# Arbitrary Unicode, weighted towards every character line protocol gives a meaning to.
SPECIALS = [*',= "\\\n\r\t%#\x00', "%25", "%0A", "\\ ", "\\,", "\\\\"]
chars = st.one_of(st.sampled_from(SPECIALS), st.characters(codec="utf-8"))
text = st.lists(chars, max_size=60).map("".join)
tag_text = st.lists(chars, min_size=1, max_size=80).map("".join)


def server_unescape_tag(wire: str) -> str:
    """What InfluxDB 1.x does to a tag value (models/points.go unescapeTag)."""
    for char in ",= ":
        wire = wire.replace("\\" + char, char)
    return wire


@given(tag_text)
def test_tag_value_wire_form_has_only_our_own_escapes(value: str) -> None:
    wire = tag_value(value)
    assert "\n" not in wire
    assert "\r" not in wire
    # Every backslash is ours and escapes exactly one of , = space; none is left bare.
    assert re.fullmatch(r"(?:[^\\,= ]|\\[,= ])*", wire), wire
    assert decode_text(server_unescape_tag(wire)) == value


@given(text)
def test_string_field_wire_form(value: str) -> None:
    wire = string_field(value)
    assert wire.startswith('"')
    assert wire.endswith('"')
    assert "\n" not in wire
    assert "\r" not in wire
    inner = wire[1:-1]
    # Only escaped quotes and backslashes inside, so the closing quote is the real one.
    assert re.fullmatch(r'(?:[^\\"]|\\[\\"])*', inner), wire
    server = re.sub(r"\\([\\\"])", r"\1", inner)  # InfluxDB's unescape of string fields
    assert decode_text(server) == value


@given(text)
def test_encode_and_decode_are_inverse(value: str) -> None:
    assert decode_text(encode_text(value)) == value


def test_known_wire_forms() -> None:
    assert tag_value("a b,c=d") == r"a\ b\,c\=d"
    assert tag_value("50%\\x") == "50%25%5Cx"
    assert tag_value(HOSTILE) == r"c1\,herd\=x\ v\=1%0Aevil\ v\=2"
    assert string_field('say "hi"\\\n') == r'"say \"hi\"\\%0A"'
    assert float_field(3) == "3.0"
    assert float_field(1e16) == "1e+16"
    assert line("m", {"b": "2", "a": "1", "e": ""}, {"v": 1, "s": "x", "n": None}, 5) == (
        'm,a=1,b=2 v=1.0,s="x" 5'
    )
    with pytest.raises(ValueError, match="finite"):
        float_field(float("inf"))
    with pytest.raises(ValueError, match="identifier"):
        line("m x", {}, {"v": 1.0}, 1)


def test_a_hostile_string_is_one_line() -> None:
    wire = line("m", {"device": HOSTILE}, {"note": HOSTILE}, T0)
    assert "\n" not in wire
    outside_quotes = re.sub(r'"(?:[^\\"]|\\.)*"', '""', wire)
    # Exactly three sections: measurement+tags, fields, time.
    assert len(re.split(r"(?<!\\) ", outside_quotes)) == 3
    assert outside_quotes.startswith(r"m,device=c1\,herd\=x\ v\=1%0Aevil\ v\=2 note=")


# -- through the real stores -----------------------------------------------------------------

_ts = itertools.count(T0)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tag=text, other=st.lists(chars, max_size=10).map("".join), note=text)
def test_arbitrary_strings_round_trip_unchanged(
    store: TimeSeriesStore, tag: str, other: str, note: str
) -> None:
    ts = next(_ts)
    point = Point("prop", {"name": tag, "other": other}, {"note": note, "v": 1.0}, ts)
    store.write_points([point])

    assert store.query_points("prop", ts, ts + 1) == [point]
    if tag:
        assert store.query_points("prop", ts, ts + 1, {"name": tag}) == [point]
        assert store.query_points("prop", ts, ts + 1, {"name": tag + "x"}) == []


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(okrug=text, herd=text)
def test_arbitrary_tag_strings_in_readings_round_trip(
    store: TimeSeriesStore, okrug: str, herd: str
) -> None:
    ts = next(_ts)
    reading = pos(ts=ts, okrug=okrug, herd_id=herd or None)
    store.write([reading])
    assert store.device_readings("c-001", ts, ts + 1) == [reading]


@pytest.mark.influx
def test_hostile_device_tag_never_makes_a_second_point_or_tag(influx: object) -> None:
    store = influx_store(influx.url)  # type: ignore[attr-defined]
    try:
        point = Point("stats", {"device": HOSTILE}, {"v": 1.0, "note": HOSTILE}, T0)
        store.write_points([point])

        assert store.query_points("stats", T0 - 10**6, T0 + 10**6) == [point]
        assert _show(store, "SHOW MEASUREMENTS") == [["stats"]]
        assert _show(store, "SHOW TAG KEYS") == [["device"]]
        assert _show(store, "SHOW FIELD KEYS") == [["note", "string"], ["v", "float"]]
        assert len(_show(store, "SHOW SERIES")) == 1
    finally:
        store.drop_database()
        store.close()


def _show(store: InfluxStore, statement: str) -> list[list[str]]:
    resp = httpx.get(
        f"{store.config.url}/query", params={"db": store.config.database, "q": statement}
    )
    series = resp.json()["results"][0].get("series", [])
    return [values for s in series for values in s["values"]]


finite = st.floats(allow_nan=False, allow_infinity=False)
device_ids = st.from_regex(DEVICE_ID_RE, fullmatch=True)
timestamps = st.integers(MIN_TS_MS, MAX_TS_MS)
flag_sets = st.frozensets(st.sampled_from(["zero_fix", "hdop", "speed", "C01", "D03"]))
positions = st.builds(
    PositionReading,
    device_id=device_ids,
    ts_ms=timestamps,
    seq=st.integers(0, 2**40),
    lat=finite,
    lon=finite,
    okrug=text,
    herd_id=st.none() | text,
    hdop=st.none() | finite,
    sats=st.none() | st.integers(0, 64),
    alt=st.none() | finite,
    bat=st.none() | finite,
    flags=flag_sets,
)
soils = st.builds(
    SoilReading,
    device_id=device_ids,
    ts_ms=timestamps,
    seq=st.integers(0, 2**40),
    depth_cm=st.integers(0, 10_000),
    vwc=finite,
    okrug=text,
    tsoil=st.none() | finite,
    bat=st.none() | finite,
    flags=flag_sets,
)


@given(positions | soils)
def test_the_fast_reading_encoder_matches_the_checked_one(reading: Reading) -> None:
    assert reading_line(reading) == generic_reading_line(reading)


# Readings as a buggy caller could hand them over: non-finite and non-float numbers, bad ids,
# long tags, bad flags, times out of range. `checked_lines` must refuse exactly what
# `validate` refuses (with the same message) and write exactly what `reading_line` writes.
rough = finite | st.sampled_from([math.inf, -math.inf, math.nan, True, 1, 0, -0.0])
rough_positions = st.builds(
    PositionReading,
    device_id=device_ids | st.sampled_from(["AB", "no", "a b c", "x" * 40]),
    ts_ms=timestamps | st.sampled_from([MIN_TS_MS - 1, MAX_TS_MS + 1, True]),
    seq=st.integers(0, 2**40) | st.just(1.5),
    lat=rough,
    lon=rough,
    okrug=st.sampled_from(["bench", "o k", "x" * 300]) | text,
    herd_id=st.none() | st.sampled_from(["herd-1", "", "y" * 300]),
    hdop=st.none() | rough,
    sats=st.none() | st.integers(0, 64) | st.sampled_from([2.5, True]),
    alt=st.none() | rough,
    bat=st.none() | rough,
    flags=flag_sets | st.just(frozenset({"a,b"})),
)


def _old_way(readings: list[Reading]) -> list[str] | str:
    try:
        validate(readings)
    except StoreRejected as exc:
        return str(exc)
    return [reading_line(r) for r in readings]


def _new_way(readings: list[Reading]) -> list[str] | str:
    try:
        return checked_lines(readings)
    except StoreRejected as exc:
        return str(exc)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(rough_positions | soils, max_size=5))
def test_checked_lines_decide_and_write_as_validate_and_reading_line(
    readings: list[Reading],
) -> None:
    expected = _old_way(readings)
    assert _new_way(readings) == expected  # tags first seen: the checked way
    for reading in readings:  # a sound reading with the same tags, so they are remembered
        if isinstance(reading, PositionReading):
            _new_way([replace(reading, ts_ms=MIN_TS_MS, seq=1, lat=1.0, lon=2.0, hdop=None,
                              sats=None, alt=None, bat=None, flags=frozenset())])  # fmt: skip
    assert _new_way(readings) == expected  # the short way wherever the tags are sound
    for reading in readings:  # each alone as well (a refused batch stops at its first)
        assert _new_way([reading]) == _old_way([reading])


SOUND = PositionReading(device_id="c-0042", ts_ms=MIN_TS_MS + 10**9, seq=7, lat=43.3, lon=77.1,
                        okrug="sogety", herd_id="herd-1", hdop=0.9, sats=9, alt=900.0,
                        bat=3.9)  # fmt: skip
CORRUPT = [
    (name, value)
    for name in ("lat", "lon", "hdop", "alt", "bat")
    for value in (math.inf, -math.inf, math.nan, True, 1, None)
] + [("sats", True), ("sats", 2.5), ("sats", None), ("seq", 1.5), ("seq", True),
     ("ts_ms", True), ("ts_ms", MIN_TS_MS - 1), ("ts_ms", MAX_TS_MS + 1), ("ts_ms", MAX_TS_MS),
     ("flags", frozenset({"hdop"})), ("flags", frozenset({"a,b"}))]  # fmt: skip


@pytest.mark.parametrize(("name", "value"), CORRUPT)
def test_checked_lines_on_remembered_tags_still_check_every_value(name: str, value: object) -> None:
    """Every value the short way reads, corrupted one at a time on a device whose tags it
    already trusts: it writes or refuses exactly as the checked way does."""
    assert _new_way([SOUND]) == _old_way([SOUND])  # remembers SOUND's tags
    reading = replace(SOUND, **{name: value})
    assert _new_way([reading]) == _old_way([reading])
    assert _new_way([SOUND, reading]) == _old_way([SOUND, reading])

"""The store contract, run against the SQLite store and a real InfluxDB alike."""

from __future__ import annotations

import random
import statistics

import pytest

from jaylym.models import PositionFlag, SoilFlag
from jaylym.store.base import LatestReading, Point, SoilSample, StoreRejected, TimeSeriesStore
from tests.jaylym.store.builders import T0, pos, soil

MIN = 60_000
HOSTILE = "c1,herd=x v=1\nevil v=2"


def test_device_readings_are_time_ordered_in_a_half_open_interval(
    store: TimeSeriesStore,
) -> None:
    fixes = [pos(ts=T0 + i * MIN, seq=i) for i in range(6)]
    other = [pos("c-002", ts=T0 + MIN, seq=1), soil("s-001", ts=T0 + MIN)]
    shuffled = fixes + other
    random.Random(4).shuffle(shuffled)
    store.write(shuffled)

    got = store.device_readings("c-001", T0 + MIN, T0 + 4 * MIN)

    assert got == fixes[1:4]  # start included, end excluded, nobody else's readings


def test_every_field_round_trips(store: TimeSeriesStore) -> None:
    full = pos(
        ts=T0,
        seq=7,
        lat=43.123456789,
        lon=-77.000001,
        okrug="sogety",
        herd_id="herd-12",
        hdop=1.25,
        sats=9,
        alt=1712.5,
        bat=3.91,
        flags=frozenset({PositionFlag.HDOP, PositionFlag.SPEED}),
    )
    bare = pos(ts=T0 + MIN, seq=8)
    deep = soil(ts=T0, depth=40, vwc=33.3, okrug="sogety", tsoil=-1.5, bat=3.3, seq=5,
                flags=frozenset({SoilFlag.FROZEN}))  # fmt: skip
    store.write([full, bare, deep])

    assert store.device_readings("c-001", T0, T0 + 2 * MIN) == [full, bare]
    assert store.device_readings("s-001", T0, T0 + 1) == [deep]
    assert bare.herd_id is None
    assert bare.valid
    assert store.device_readings("c-001", T0, T0 + 1)[0].flags == {"hdop", "speed"}


def test_latest_reading_per_device(store: TimeSeriesStore) -> None:
    old, new = pos(ts=T0, seq=1), pos(ts=T0 + 5 * MIN, seq=2)
    other = pos("c-002", ts=T0 + 2 * MIN, seq=9)
    s10 = soil(ts=T0 + 3 * MIN, depth=10, vwc=20.0)
    s30 = soil(ts=T0 + 3 * MIN, depth=30, vwc=25.0)
    s_old = soil(ts=T0, depth=10, vwc=10.0)
    store.write([new, old, other, s30, s10, s_old])

    latest = store.latest()

    assert latest == {
        "c-001": LatestReading("c-001", new.ts_ms, new),
        "c-002": LatestReading("c-002", other.ts_ms, other),
        # Several depths share the newest time: the shallowest one stands for the station.
        "s-001": LatestReading("s-001", s10.ts_ms, s10),
    }


def test_positions_grouped_by_device_each_in_time_order(store: TimeSeriesStore) -> None:
    a = [pos("c-00a", ts=T0 + i * MIN, seq=i) for i in range(4)]
    b = [pos("c-00b", ts=T0 + i * MIN + 1, seq=i) for i in range(3)]
    store.write([*list(reversed(a + b)), soil(ts=T0 + MIN)])

    got = store.positions(T0, T0 + 3 * MIN)

    assert got == {"c-00a": a[:3], "c-00b": b[:3]}


def test_soil_samples_raw_include_every_depth_and_invalid_readings(
    store: TimeSeriesStore,
) -> None:
    readings = [
        soil(ts=T0, depth=30, vwc=30.0, tsoil=8.0),
        soil(ts=T0, depth=10, vwc=20.0, tsoil=9.0),
        soil(ts=T0 + MIN, depth=10, vwc=70.0, flags=frozenset({SoilFlag.ABOVE_PHYSICAL})),
        soil(ts=T0 + 2 * MIN, depth=10, vwc=21.0),
        soil("s-002", ts=T0, depth=10, vwc=1.0),
    ]
    store.write(readings)

    assert store.soil("s-001", T0, T0 + 2 * MIN) == [
        SoilSample(T0, 10, 20.0, 9.0),
        SoilSample(T0, 30, 30.0, 8.0),
        SoilSample(T0 + MIN, 10, 70.0, None),
    ]


def test_soil_downsampled_is_the_mean_of_valid_readings_per_interval_and_depth(
    store: TimeSeriesStore,
) -> None:
    hour = 3_600_000
    base = (T0 // hour) * hour  # epoch-aligned buckets, as InfluxDB's GROUP BY time()
    rng = random.Random(7)
    readings = []
    for i in range(24):  # every 15 min for 6 h, two depths
        ts = base + i * 15 * MIN
        for depth in (10, 30):
            flags = frozenset({SoilFlag.ABOVE_PHYSICAL}) if i % 7 == 3 else frozenset()
            vwc = 99.0 if flags else rng.uniform(15, 35)
            readings.append(soil(ts=ts, depth=depth, vwc=vwc, tsoil=rng.uniform(2, 12),
                                 flags=flags))  # fmt: skip
    store.write(readings)
    start, end = base + 20 * MIN, base + 5 * hour  # start inside the first hour

    got = store.soil("s-001", start, end, every_s=3600)

    expected = []
    for bucket in range(base, end, hour):
        for depth in (10, 30):
            kept = [r for r in readings if r.valid and r.depth_cm == depth
                    and start <= r.ts_ms < end and bucket <= r.ts_ms < bucket + hour]  # fmt: skip
            if kept:
                expected.append((bucket, depth, statistics.fmean(r.vwc for r in kept),
                                 statistics.fmean(r.tsoil or 0 for r in kept)))  # fmt: skip
    assert [(s.ts_ms, s.depth_cm) for s in got] == [(e[0], e[1]) for e in expected]
    for sample, (_, _, vwc, tsoil) in zip(got, expected, strict=True):
        assert sample.vwc == pytest.approx(vwc, rel=1e-12)
        assert sample.tsoil == pytest.approx(tsoil, rel=1e-12)
    assert all(s.vwc < 99.0 for s in got)  # the flagged 99 % never enters a mean


def test_soil_readings_grouped_by_device(store: TimeSeriesStore) -> None:
    one = [soil(ts=T0 + i * MIN, depth=d, vwc=20 + i) for i in range(3) for d in (30, 10)]
    two = [soil("s-002", ts=T0, depth=10, vwc=5.0)]
    store.write(one + two + [pos(ts=T0)])

    got = store.soil_readings(T0, T0 + 2 * MIN)

    assert got == {
        "s-001": sorted(one[:4], key=lambda r: (r.ts_ms, r.depth_cm)),
        "s-002": two,
    }


def test_last_seen_is_the_newest_time_of_any_kind(store: TimeSeriesStore) -> None:
    store.write([pos(ts=T0), pos(ts=T0 + 9 * MIN, seq=2), soil(ts=T0 + 3 * MIN),
                 soil("s-002", ts=T0 - MIN)])  # fmt: skip
    assert store.last_seen() == {"c-001": T0 + 9 * MIN, "s-001": T0 + 3 * MIN,
                                 "s-002": T0 - MIN}  # fmt: skip


def test_an_empty_store_answers_empty(store: TimeSeriesStore) -> None:
    assert store.latest() == {}
    assert store.last_seen() == {}
    assert store.positions(T0, T0 + MIN) == {}
    assert store.soil_readings(T0, T0 + MIN) == {}
    assert store.device_readings("c-001", T0, T0 + MIN) == []
    assert store.soil("s-001", T0, T0 + MIN, every_s=60) == []
    assert store.query_points("pasture_state", T0, T0 + MIN) == []


def test_replaying_a_batch_never_doubles_and_the_replay_wins(store: TimeSeriesStore) -> None:
    batch = [pos(ts=T0 + i * MIN, seq=i) for i in range(5)] + [
        soil(ts=T0, depth=d, vwc=20.0) for d in (10, 30)
    ]
    store.write(batch)
    store.write(batch)
    corrected = pos(ts=T0 + MIN, seq=1, lat=44.0, lon=78.0, flags=frozenset({"zero_fix"}))
    store.write([corrected, soil(ts=T0, depth=10, vwc=22.0)])

    assert store.device_readings("c-001", T0, T0 + 9 * MIN) == [
        batch[0], corrected, *batch[2:5]
    ]  # fmt: skip
    assert store.soil("s-001", T0, T0 + 1) == [
        SoilSample(T0, 10, 22.0, None),
        SoilSample(T0, 30, 20.0, None),
    ]


def test_a_hostile_device_id_is_refused_before_anything_is_written(
    store: TimeSeriesStore,
) -> None:
    good = pos(ts=T0)
    with pytest.raises(StoreRejected, match=r"reading 1 of the batch: device id") as err:
        store.write([good, pos(HOSTILE, ts=T0 + 1)])
    assert not err.value.retryable
    assert store.last_seen() == {}
    with pytest.raises(ValueError, match="not a device id"):
        store.device_readings(HOSTILE, T0, T0 + 1)
    with pytest.raises(ValueError, match="not a device id"):
        store.soil("C-001'; DROP", T0, T0 + 1)


def test_hostile_tag_values_in_readings_stay_one_point(store: TimeSeriesStore) -> None:
    reading = pos(ts=T0, okrug=HOSTILE, herd_id='h" OR 1=1 --\\')
    store.write([reading])

    assert store.device_readings("c-001", T0 - MIN, T0 + MIN) == [reading]
    assert store.positions(T0 - MIN, T0 + MIN) == {"c-001": [reading]}
    assert set(store.last_seen()) == {"c-001"}


@pytest.mark.parametrize(
    "bad",
    [
        pos(ts=T0, lat=float("nan")),
        pos(ts=T0, bat=float("inf")),
        pos(ts=T0, flags=frozenset({"a,b"})),
        pos(ts=T0, okrug="x" * 300),
        soil(ts=T0, depth=-5),
        pos(ts=10**15),
    ],
    ids=["nan", "inf", "comma-flag", "long-tag", "negative-depth", "year-33658"],
)
def test_unstorable_readings_are_refused_whole(store: TimeSeriesStore, bad: object) -> None:
    with pytest.raises(StoreRejected, match="reading 1 of the batch"):
        store.write([pos(ts=T0 - MIN), bad])  # type: ignore[list-item]
    assert store.last_seen() == {}


# -- generic points --------------------------------------------------------------------------


def _state(pasture: str, ts: int, **fields: float | str) -> Point:
    return Point("pasture_state", {"pasture": pasture, "okrug": "sogety"}, fields, ts)


def test_points_round_trip_with_tag_filters_in_time_order(store: TimeSeriesStore) -> None:
    points = [
        _state("p-1", T0 + MIN, pressure=0.8, status="ok"),
        _state("p-2", T0, pressure=1.4, status="over"),
        _state("p-1", T0, pressure=0.5, status="ok", animals=120),
        Point("device_stats", {"device": "c-001"}, {"rssi": -97, "note": ""}, T0),
    ]
    store.write_points(points)

    assert store.query_points("pasture_state", T0, T0 + 2 * MIN) == [
        points[2], points[1], points[0]
    ]  # fmt: skip
    assert store.query_points("pasture_state", T0, T0 + 2 * MIN, {"pasture": "p-1"}) == [
        points[2], points[0]
    ]  # fmt: skip
    assert store.query_points("pasture_state", T0, T0 + MIN, {"okrug": "asy"}) == []
    stats = store.query_points("device_stats", T0, T0 + 1)
    assert stats == [points[3]]
    assert stats[0].fields == {"rssi": -97.0, "note": ""}
    assert isinstance(stats[0].fields["rssi"], float)  # ints are always stored as floats


def test_points_overwrite_field_by_field(store: TimeSeriesStore) -> None:
    store.write_points([_state("p-1", T0, pressure=0.5, status="ok")])
    store.write_points([_state("p-1", T0, pressure=0.9), _state("p-1", T0, animals=40)])

    assert store.query_points("pasture_state", T0, T0 + 1) == [
        _state("p-1", T0, pressure=0.9, status="ok", animals=40.0)
    ]


def test_a_field_changing_type_is_rejected_not_retried(store: TimeSeriesStore) -> None:
    store.write_points([_state("p-1", T0, pressure=0.5)])
    with pytest.raises(StoreRejected, match="conflict") as err:
        store.write_points([_state("p-1", T0 + MIN, pressure="high")])
    assert err.value.retryable is False
    assert store.query_points("pasture_state", T0, T0 + 2 * MIN) == [
        _state("p-1", T0, pressure=0.5)
    ]


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "ts", "message"),
    [
        ("Pasture State", {}, {"x": 1.0}, T0, "measurement"),
        ("position", {}, {"x": 1.0}, T0, "measurement"),
        ("m", {"time": "x"}, {"x": 1.0}, T0, "tag key"),
        ("m", {"a,b": "x"}, {"x": 1.0}, T0, "tag key"),
        ("m", {}, {"x=1": 1.0}, T0, "field key"),
        ("m", {}, {"flag": True}, T0, "float or a string"),
        ("m", {}, {"x": float("nan")}, T0, "finite"),
        ("m", {}, {}, T0, "at least one field"),
        ("m", {"x": "a"}, {"x": 1.0}, T0, "both a tag and a field"),
        ("m", {}, {"x": 1.0}, 1.5, "ts_ms"),
        ("m", {"k": "\ud800"}, {"x": 1.0}, T0, "Unicode"),
    ],
)
def test_points_are_validated_on_construction(
    measurement: str, tags: dict[str, str], fields: dict[str, object], ts: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Point(measurement, tags, fields, ts)  # type: ignore[arg-type]


def test_empty_tags_are_omitted(store: TimeSeriesStore) -> None:
    point = Point("m", {"a": "", "b": "x"}, {"v": 1.0}, T0)
    assert point.tags == {"b": "x"}
    store.write_points([point])
    assert store.query_points("m", T0, T0 + 1) == [point]


@pytest.mark.parametrize("measurement", ["position", "soil", "Bad Name", 'x" OR 1=1'])
def test_query_points_refuses_reading_and_bad_measurements(
    store: TimeSeriesStore, measurement: str
) -> None:
    with pytest.raises(ValueError, match="measurement"):
        store.query_points(measurement, T0, T0 + 1)


def test_a_replay_with_a_changed_herd_is_still_one_reading(store: TimeSeriesStore) -> None:
    first = pos(ts=T0, herd_id="herd-1", okrug="sogety")
    moved = pos(ts=T0, herd_id="herd-2", okrug="sogety")
    store.write([first])
    store.write([moved])

    got = store.device_readings("c-001", T0, T0 + 1)
    assert len(got) == 1
    assert got[0] in (first, moved)
    assert [len(v) for v in store.positions(T0, T0 + 1).values()] == [1]

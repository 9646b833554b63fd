"""The fast path never decides differently from the pydantic models: whenever it vouches for
a reading or an envelope, the model accepts it with the same values; whatever it does not
vouch for, the model decides (ingest/fastcheck.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ingest import fastcheck
from ingest.schema import CollarIn, Envelope, SoilIn

# Values around every boundary of the models, and the types JSON can carry (and some it can
# carry only through a lenient parser: NaN, infinities).
EDGES = [-500.5, -180, -90.0, -60, -5.0, -0.0, 0, 1e-9, 6, 6.000001, 64, 65, 80, 90, 100,
         100.5, 180.0, 500, 501, 9000, 9001, 32503679999.9, 32503680000, 2**63 - 1,
         2**63]  # fmt: skip
number = st.one_of(
    st.sampled_from(EDGES),
    st.integers(-1000, 10**11),
    st.floats(allow_nan=True, allow_infinity=True),
)
value = st.one_of(
    number, st.none(), st.booleans(), st.text(max_size=3), st.just("1.5"),
    st.lists(st.one_of(number, st.booleans(), st.just("10")), max_size=17),
    st.lists(st.sampled_from([0, 10, 30, 500, 501, -1, 10.0, True]), max_size=17),
)  # fmt: skip


def _num(low: float, high: float) -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(math.ceil(low), math.floor(high)), st.floats(low, high),
                     st.sampled_from([low, high]))  # fmt: skip


def _mutate(raw: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(raw)
    for key, new in changes:
        if new is _DROP:
            out.pop(key, None)
        else:
            out[key] = new
    return out


_DROP = object()
_ALL = ("seq", "ts", "lat", "lon", "hdop", "sats", "alt", "bat", "depths", "vwc", "tsoil")
# A plausible reading with up to two fields replaced by anything (or removed): the fast path
# is taken often, and every kind of wrong value meets it.
changes = st.lists(st.tuples(st.sampled_from(_ALL), st.one_of(value, st.just(_DROP))),
                   max_size=2)  # fmt: skip
_common = {"seq": st.integers(0, 2**63 - 1), "ts": _num(1e-3, 32503679999)}
collar_raw = st.builds(_mutate, st.fixed_dictionaries(
    {**_common, "lat": _num(-90, 90), "lon": _num(-180, 180)},
    optional={"hdop": _num(0, 100), "sats": st.integers(0, 64), "alt": _num(-500, 9000),
              "bat": _num(0, 6)},
), changes)  # fmt: skip
soil_raw = st.builds(_mutate, st.fixed_dictionaries(
    {**_common, "depths": st.sampled_from([[10, 30], [0, 500], [10, 10], [10, 501]]),
     "vwc": st.lists(_num(-5, 100), min_size=2, max_size=2)},
    optional={"tsoil": st.lists(_num(-60, 80), min_size=2, max_size=2), "bat": _num(0, 6)},
), changes)  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@settings(max_examples=250, deadline=None)
@given(collar_raw)
def test_collar_fast_path_agrees_with_the_model(raw: dict[str, Any]) -> None:
    fast = fastcheck.collar(raw)
    if fast is None:
        return  # the model decides: nothing to compare
    model = CollarIn.model_validate(raw)  # must not raise
    expected = (model.seq, model.ts, model.lat, model.lon, model.hdop, model.sats, model.alt,
                model.bat)  # fmt: skip
    assert all(_same(a, b) for a, b in zip(fast, expected, strict=True)), (fast, expected)


@settings(max_examples=250, deadline=None)
@given(soil_raw)
def test_soil_fast_path_agrees_with_the_model(raw: dict[str, Any]) -> None:
    fast = fastcheck.soil(raw)
    if fast is None:
        return
    model = SoilIn.model_validate(raw)
    assert fast == (model.seq, model.ts, model.depths, model.vwc, model.tsoil, model.bat)
    assert all(type(v) is float for v in fast[3])


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.fixed_dictionaries({}, optional={"v": value, "readings": st.one_of(
        value, st.lists(st.one_of(st.dictionaries(st.text(max_size=2), value, max_size=2),
                                  value), max_size=3))}),
    value,
))  # fmt: skip
def test_envelope_fast_path_agrees_with_the_model(obj: Any) -> None:
    fast = fastcheck.envelope_readings(obj)
    if fast is None:
        return
    assert Envelope.model_validate(obj).readings == fast


def test_the_common_shapes_take_the_fast_path() -> None:
    """Not a speed test: the shapes devices send must not all fall back to the model."""
    fix = {"seq": 7, "ts": 1.7e9, "lat": 43.36, "lon": 77.98, "hdop": 0.9, "sats": 9, "bat": 3.9}
    sample = {"seq": 3, "ts": 1_700_000_000, "depths": [10, 30], "vwc": [24, 31.5],
              "tsoil": [5.0, 4.5], "bat": 3.7}  # fmt: skip
    assert fastcheck.collar(fix) is not None
    assert fastcheck.soil(sample) is not None
    assert fastcheck.envelope_readings({"v": 1, "readings": [fix]}) == [fix]
    for bad in ({**fix, "lat": 91}, {**fix, "seq": True}, {**fix, "ts": "1700000000"},
                {**fix, "lon": math.nan}):  # fmt: skip
        assert fastcheck.collar(bad) is None
        try:
            CollarIn.model_validate(bad)
        except ValidationError:
            continue
        assert bad["ts"] == "1700000000"  # the model's lax float takes a numeric string


_FIX = {"seq": 7, "ts": 1.7e9, "lat": 43.36, "lon": 77.98, "hdop": 0.9, "sats": 9, "alt": 900.0,
        "bat": 3.9}  # fmt: skip
_BOUNDS: dict[str, tuple[float, float]] = {
    "seq": (0, 2**63 - 1), "ts": (0, 32503680000), "lat": (-90, 90), "lon": (-180, 180),
    "hdop": (0, 100), "sats": (0, 64), "alt": (-500, 9000), "bat": (0, 6),
}  # fmt: skip


def _around(low: float, high: float) -> list[Any]:
    """Each bound, as int and float, and the nearest floats and ints either side of it."""
    out: list[Any] = []
    for bound in (low, high):
        out += [bound, float(bound), math.nextafter(bound, -math.inf),
                math.nextafter(bound, math.inf), int(bound) - 1, int(bound) + 1]  # fmt: skip
    return out


@pytest.mark.parametrize("name", sorted(_BOUNDS))
def test_the_collar_fast_path_vouches_exactly_where_the_model_accepts_plain_numbers(
    name: str,
) -> None:
    """At every range boundary, for JSON numbers, the fast path takes what the model takes and
    nothing else (so a bound written wrong in one of them fails here, not by chance)."""
    for value in _around(*_BOUNDS[name]):
        raw = {**_FIX, name: value}
        try:
            CollarIn.model_validate(raw)
            accepted = True
        except ValidationError:
            accepted = False
        assert (fastcheck.collar(raw) is not None) == accepted, (name, value)

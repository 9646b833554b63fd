"""The hot-path reading constructors build exactly what the dataclass constructors build."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaylym.models import PositionReading, SoilReading, new_position, new_soil

maybe_float = st.none() | st.floats(allow_nan=False)
text = st.text(max_size=8)


@given(st.tuples(text, st.integers(), st.integers(), st.floats(allow_nan=False),
                 st.floats(allow_nan=False), text, st.none() | text, maybe_float,
                 st.none() | st.integers(), maybe_float, maybe_float))  # fmt: skip
def test_new_position_is_the_constructor(args: tuple) -> None:  # type: ignore[type-arg]
    fast, slow = new_position(*args), PositionReading(*args)
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    assert fast.flags == frozenset()
    assert fast.valid


@given(st.tuples(text, st.integers(), st.integers(), st.integers(), st.floats(allow_nan=False),
                 text, maybe_float, maybe_float))  # fmt: skip
def test_new_soil_is_the_constructor(args: tuple) -> None:  # type: ignore[type-arg]
    fast, slow = new_soil(*args), SoilReading(*args)
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)


def test_what_they_build_stays_frozen() -> None:
    reading = new_position("cow-1", 1, 1, 43.0, 77.0, "sogety", None, None, None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.lat = 0.0  # type: ignore[misc]
    assert dataclasses.replace(reading, flags=frozenset({"hdop"})).flags == {"hdop"}

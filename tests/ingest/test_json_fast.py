"""`parse_json`'s orjson path never decides differently from the exact one (Python's json
with the duplicate-key hook): whatever it returns, the exact path returns the same value of
the same types; whatever it declines, the exact path decides (ingest/decoders/base.py)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decoders import base
from ingest.reasons import Reason, Rejected


def _exact(payload: bytes) -> Any:
    """The exact path alone, as parse_json runs it when the fast one declines."""
    try:
        return base._loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(Reason.MALFORMED_JSON, str(exc)) from None
    except RecursionError:
        raise Rejected(Reason.MALFORMED_JSON, "nesting too deep") from None


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (1 == 1.0 == True is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _check(payload: bytes) -> bool:
    """Asserts the two paths agree; True when the fast path took the payload."""
    fast = base._fast_json(payload)
    try:
        exact = _exact(payload)
    except Rejected:
        assert fast is base._DECLINED, payload
        return False
    if fast is base._DECLINED:
        return False
    assert _same(fast, exact), payload
    return True


KEYS = st.sampled_from(["v", "seq", "ts", "lat", "", "é", "a b", "readings"])
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.sampled_from([2**63 - 1, 2**63, 2**64, 2**64 + 1, -(2**63), -(2**63) - 1, 10**30, 1e308,
                     -0.0, 9.2e18, 9.3e18]),
    st.text(max_size=4),
)  # fmt: skip
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def texts(draw: st.DrawFn) -> bytes:
    """JSON texts, some with a key repeated in one object (json.dumps cannot write those)."""
    value = draw(VALUES)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()) and '{"' in text:
        # Repeat the first key of the first object: `{"k": x, ...}` -> `{"k": 0, "k": x, ...}`.
        start = text.index('{"') + 1
        end = text.index('":', start) + 2
        text = text[:start] + text[start:end] + "0, " + text[start:]
    return text.encode()


@settings(max_examples=400, derandomize=True, deadline=None)
@given(texts())
def test_fast_path_agrees_with_the_exact_path(payload: bytes) -> None:
    _check(payload)


@pytest.mark.parametrize(
    ("payload", "taken"),
    [
        (b'{"v":1,"readings":[{"seq":1,"ts":1.5,"lat":43.5,"lon":78.3,"hdop":0.9}]}', True),
        (b'{"a":"x","b":["y",{"c":"z"}]}', True),
        (b'{"a":1,"a":2}', False),  # repeated key: the exact path refuses it
        (b'{"a":{"b":1,"b":2}}', False),  # nested repeat
        (b'{"a":[{"b":1},{"b":2,"c":3,"c":4}]}', False),
        (b'{"seq":123456789012345678901234567890}', False),  # orjson would give a float
        (b'{"seq":18446744073709551615}', True),  # the largest integer orjson keeps exact
        (b'{"seq":18446744073709551616}', False),
        (b'{"seq":-9223372036854775809}', False),
        (b'{"a":NaN}', False),  # Python's json reads it; the range checks refuse it later
        (b'{"a":1e400}', False),
        (b'{"a":"\\u0041"}', False),  # any escape: the exact path
        (b'\xef\xbb\xbf{"a":1}', False),  # BOM
        (b'{"a":"\xff"}', False),  # not UTF-8
        (b"[" * 300 + b"]" * 300, False),  # orjson reads it but will not write it back
        (b"[" * 5000 + b"]" * 5000, False),  # deeper than orjson goes: the exact path
        (b'{"note":"le+1"}', False),  # `e+` in a string: declined (costs time, not truth)
        (b'{"a":1e16}', False),
        (b'{"a":999999999999999.9}', True),
        (b"", False),
        (b'{"a":1,}', False),
    ],
)
def test_edges(payload: bytes, taken: bool) -> None:
    assert _check(payload) is taken


def test_parse_json_refuses_repeats_with_the_exact_reason() -> None:
    with pytest.raises(Rejected) as caught:
        base.parse_json(b'{"v":1,"v":2}')
    assert caught.value.reason is Reason.BAD_SCHEMA
    assert "duplicate key 'v'" in caught.value.detail
    with pytest.raises(Rejected) as caught:
        base.parse_json(b'{"v":1')
    assert caught.value.reason is Reason.MALFORMED_JSON

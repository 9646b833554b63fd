"""The receiver-side webhook verification helper (api/alerts/signing.py) refuses every request
it cannot attribute to a known secret: a bad or malformed signature, a tampered body, a
stale or future timestamp. The end-to-end case (a real POST received by a local server, its
exact bytes verified, a tampered copy refused) is tests/api/alerts/test_webhook.py."""

from __future__ import annotations

import json

import pytest

from api.alerts.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    signature,
    verify,
)

SECRET = "webhook-secret-for-tests"
NOW = 1_781_254_800


def test_bad_signatures_are_rejected() -> None:
    body = json.dumps({"alert": {"id": "al-1", "value": 1.127}}).encode()
    headers = sign(SECRET, body, timestamp=NOW)
    ts, good = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    verify(SECRET, body, ts, good, now=NOW)
    digest = good.removeprefix("v1=")
    flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    for bad in (
        f"v1={flipped}",  # one hex digit off
        digest,  # no scheme
        f"v0={digest}",  # unknown scheme
        f"v1={digest.upper()}",  # hex digits are compared exactly
        f"v1={digest[:32]}",  # truncated
        "v1=",
        " , ",
        signature("another-secret", NOW, body),
    ):
        with pytest.raises(SignatureError):
            verify(SECRET, body, ts, bad, now=NOW)
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, body, ts, "", now=NOW)
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, body, ts, None, now=NOW)


def test_tampered_bodies_are_rejected() -> None:
    body = json.dumps({"alert": {"id": "al-1", "value": 1.127}}, ensure_ascii=False).encode()
    headers = sign(SECRET, body, timestamp=NOW)
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    for tampered in (
        body.replace(b"1.127", b"0.127"),
        body + b" ",
        body[:-1],
        b"",
        json.dumps(json.loads(body), indent=1).encode(),  # same JSON, other bytes
    ):
        assert tampered != body
        with pytest.raises(SignatureError, match="does not match"):
            verify(SECRET, tampered, ts, sig, now=NOW)
    # The timestamp is signed too: the old signature with a fresh timestamp is refused.
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, body, str(NOW + 1), sig, now=NOW)


def test_stale_or_future_timestamp_is_rejected() -> None:
    body = json.dumps({"x": 1}).encode()
    headers = sign(SECRET, body, timestamp=1_000_000)
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    verify(SECRET, body, ts, sig, now=1_000_000 + 299)
    with pytest.raises(SignatureError, match="off"):
        verify(SECRET, body, ts, sig, now=1_000_000 + 301)
    with pytest.raises(SignatureError, match="off"):
        verify(SECRET, body, ts, sig, now=1_000_000 - 301)
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, body, None, sig, now=1_000_000)
    with pytest.raises(SignatureError, match="integer"):
        verify(SECRET, body, "soon", sig, now=1_000_000)


def test_key_rotation_on_either_side() -> None:
    body = b'{"a":1}'
    ts = 1_700_000_000
    old, new = signature("old", ts, body), signature("new", ts, body)
    verify(["new", "old"], body, str(ts), old, now=ts)  # receiver accepts both during rotation
    verify("new", body, str(ts), f"{old}, {new}", now=ts)  # sender signs with both

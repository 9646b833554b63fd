"""HMAC-SHA256 signatures of webhook bodies, and their verification on the receiving side.

The signed string is `{timestamp}.{body}`: the exact bytes sent, so a receiver must verify the
raw body before parsing it, and the timestamp is covered, so an old request cannot be replayed
with a fresh timestamp. Receivers reject timestamps outside a tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

TIMESTAMP_HEADER = "X-Jaylym-Timestamp"
SIGNATURE_HEADER = "X-Jaylym-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The request is not signed by a secret we know, or is too old (or too new)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers to send with `body`."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body)}


def verify(
    secrets: str | Sequence[str],
    body: bytes,
    timestamp: str | None,
    signature_header: str | None,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Raise `SignatureError` unless `body` is signed by one of `secrets` within tolerance.

    Several secrets may be given so a receiver can rotate keys; several `v1=` values may be
    sent, comma-separated, for the same reason.
    """
    if not timestamp or not signature_header:
        raise SignatureError("missing timestamp or signature header")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError("timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        raise SignatureError(f"timestamp is {current - ts:+.0f} s off (tolerance {tolerance_s} s)")
    offered = [part.strip() for part in signature_header.split(",") if part.strip()]
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    for key in keys:
        expected = signature(key, ts, body)
        # compare_digest: the comparison takes the same time whatever the mismatch.
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise SignatureError("signature does not match the body")

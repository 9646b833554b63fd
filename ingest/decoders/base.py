"""What every decoder returns, and small helpers they share."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from ingest.decoders.lorawan_binary import decode_frame
from ingest.reasons import Reason, Rejected


@dataclass(slots=True)
class Decoded:
    """A message in the native shape: who sent it, and its raw readings (validated later).

    Exactly one of `device_id` (from the topic) and `dev_eui` (LoRaWAN) identifies the device.
    Not frozen: one is built per message, and a frozen dataclass's __init__ costs about three
    times a plain one's; nothing edits it after its decoder returns it.
    """

    source: str
    readings: list[dict[str, Any]]
    device_id: str | None = None
    dev_eui: str | None = None
    okrug: str | None = None
    kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Decoder(Protocol):
    """One source format. `subscription` is the MQTT filter that brings its messages."""

    name: str
    subscription: str

    def matches(self, topic: str) -> bool: ...

    def decode(self, topic: str, payload: bytes) -> Decoded:
        """The decoded message, or raise `Rejected` naming why not. Never anything else."""
        ...


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different. JSON parsers disagree on duplicates (Python's
    keeps the last, others the first), so a payload naming its device twice could be read as
    two different devices along the way: refused instead of picking one."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise Rejected(Reason.BAD_SCHEMA, f"duplicate key {key[:40]!r}")
            seen.add(key)
    return obj


# One decoder for every message: `json.loads(text, object_pairs_hook=...)` builds a new
# JSONDecoder (and its scanner) on every call, a tenth of the decode path's CPU.
_JSON = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _loads(text: str) -> Any:
    """`json.loads(text, object_pairs_hook=_unique_keys)`, with its one extra check."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _JSON.decode(text)


def parse_json(payload: bytes) -> Any:
    """JSON or `Rejected`: not UTF-8, not JSON or nested too deep is MALFORMED_JSON, a repeated
    key BAD_SCHEMA. NaN and Infinity literals parse (as Python's json does) and are refused by
    the readings' range checks (`allow_inf_nan=False`)."""
    fast = _fast_json(payload)
    if fast is not _DECLINED:
        return fast
    try:
        # Decoded first: `json.loads(bytes)` would also guess UTF-16 and UTF-32.
        return _loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(Reason.MALFORMED_JSON, str(exc)) from None
    except RecursionError:
        raise Rejected(Reason.MALFORMED_JSON, "nesting too deep") from None


_DECLINED = object()


def _fast_json(payload: bytes) -> Any:
    """The payload parsed by orjson (a fraction of the CPU of Python's json with the
    duplicate-key hook, on the ingest's hot path), or `_DECLINED` when the exact path must
    decide: anything orjson refuses, any backslash, a possible repeated key, a huge number.

    - Repeated keys: orjson keeps the last one without a word. In JSON text without a
      backslash every `"` delimits a string, and orjson writes the parsed value back with
      one string for each key and string value it kept (a string from such a text holds no
      `"`, backslash or control character, so nothing is escaped). A repeated key is one
      string fewer: the quotes no longer match.
    - Huge integers: orjson turns integers outside 64 bits into floats, where Python's json
      keeps them exact (a huge `seq` must be refused as out of range, not as a float).
      orjson writes every float of 1e16 or more with an exponent (`e+`), so any such float
      (or a string holding `e+`) sends the payload to the exact path, which tells them apart.

    Everything orjson accepts here, Python's json accepts with the same value
    (tests/ingest/test_json_fast.py)."""
    # `find` rather than `in`: the same answer in about half the time (ingest-round5.md).
    if payload.find(b"\\") >= 0:
        return _DECLINED
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return _DECLINED
    try:
        again = orjson.dumps(value)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: the exact path
        return _DECLINED
    if again.find(b"e+") >= 0 or payload.count(b'"') != again.count(b'"'):
        return _DECLINED
    return value


def require_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Rejected(Reason.BAD_SCHEMA, f"{what} is not a JSON object")
    return value


def parse_b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise Rejected(Reason.BAD_SCHEMA, f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(Reason.MALFORMED_JSON, f"{what} is not valid base64") from None


def parse_rfc3339(value: Any, what: str) -> float:
    """Unix seconds of an RFC 3339 time; the network servers write nanosecond fractions,
    which `datetime.fromisoformat` does not take, so the fraction is cut to microseconds."""
    if not isinstance(value, str) or len(value) > 40:
        raise Rejected(Reason.BAD_SCHEMA, f"{what} is not an RFC 3339 time")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(Reason.BAD_SCHEMA, f"{what} is not an RFC 3339 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def readings_from_object(obj: dict[str, Any], seq: int, ts: float) -> list[dict[str, Any]]:
    """Readings from a network server's codec output: either the native envelope's
    `readings` list, or one reading whose `seq`/`ts` default to the uplink's."""
    if "readings" in obj:
        readings = obj["readings"]
        if not isinstance(readings, list) or not all(isinstance(r, dict) for r in readings):
            raise Rejected(Reason.BAD_SCHEMA, "object.readings is not a list of objects")
        return readings
    return [{"seq": seq, "ts": ts, **obj}]


DEV_EUI_RE = re.compile(r"^[0-9a-fA-F]{16}$")


def require_dev_eui(value: Any, what: str) -> str:
    """A LoRaWAN DevEUI (16 hex digits), lowercased as the registry keeps it."""
    if not isinstance(value, str) or not DEV_EUI_RE.fullmatch(value):
        raise Rejected(Reason.BAD_SCHEMA, f"{what} is not 16 hex digits")
    return value.lower()


def uplink_counter(container: dict[str, Any], key: str, what: str) -> int:
    """A frame counter or port. Protobuf JSON leaves out fields holding 0 (fCnt 0 is the first
    frame after a join), so a missing one is 0."""
    value = container.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Rejected(Reason.BAD_SCHEMA, f"{what} is not a non-negative integer")
    return value


def uplink_readings(
    container: dict[str, Any],
    *,
    object_key: str,
    data_key: str,
    port_key: str,
    port_what: str,
    seq: int,
    ts: float,
) -> list[dict[str, Any]]:
    """Readings of one uplink: the network server's codec output when there is one, else the
    base64 frame in Jaylym's compact binary layout (docs/protocol.md)."""
    if isinstance(container.get(object_key), dict):
        return readings_from_object(container[object_key], seq, ts)
    if data_key in container:
        frame = parse_b64(container[data_key], data_key)
        port = uplink_counter(container, port_key, port_what)
        return [{"seq": seq, "ts": ts, **decode_frame(port, frame)}]
    raise Rejected(Reason.BAD_SCHEMA, f"uplink has neither {object_key} nor {data_key}")

"""The short way for the message that is nearly every message: one plainly valid fix of a
registered, active collar on its native topic.

The general path takes a message through the decoder table, a `Decoded`, the registry
verdict, `build_items` and its per-reading loop: a dozen calls and objects per message, a
fifth of the consumer's CPU at tens of thousands of messages a second. This does the same
steps in one function, with the same pieces (`_topic_parts`, `_fast_json`,
`fastcheck.collar`, `new_position`), and returns exactly the `Item` the general path would
build, or None whenever the general path could decide anything else: a refusal of any kind,
another source or kind, several readings, anything `_fast_json` or `fastcheck` does not
vouch for. The general path then takes the message and decides as it always did
(tests/ingest/test_fastlane.py compares the two on every golden case and on generated input).
"""

from __future__ import annotations

from ingest import fastcheck
from ingest.decoders.base import _DECLINED, _fast_json
from ingest.decoders.native import _topic_parts
from ingest.validate import Item, TimeLimits
from jaylym.models import DeviceDirectory, DeviceInfo, new_position

_NATIVE = "pasture/v1/"


def native_collar(
    topic: str,
    payload: bytes,
    directory: DeviceDirectory,
    now_ms: int,
    limits: TimeLimits,
    max_payload_bytes: int,
) -> tuple[Item, DeviceInfo] | None:
    """The item and device of a plainly valid one-fix collar message, else None. The
    registry being unreachable raises (`DirectoryUnavailable`), as on the general path."""
    if not topic.startswith(_NATIVE) or len(payload) > max_payload_bytes:
        return None
    parts = _topic_parts(topic)
    if parts is None or parts[1] != "collar":
        return None
    obj = _fast_json(payload)
    if obj is _DECLINED or type(obj) is not dict or obj.get("v") != 1 or type(obj["v"]) is not int:
        return None
    readings = obj.get("readings")
    if type(readings) is not list or len(readings) != 1 or type(readings[0]) is not dict:
        return None
    fix = fastcheck.collar(readings[0])
    if fix is None:
        return None
    okrug, _kind, device_id = parts
    device = directory.lookup(device_id)
    if device is None or not device.active or device.kind != "collar" or device.okrug != okrug:
        return None
    seq, ts, lat, lon, hdop, sats, alt, bat = fix
    ts_ms = round(ts * 1000)
    if not now_ms - limits.max_age_ms <= ts_ms <= now_ms + limits.max_future_ms:
        return None
    reading = new_position(device_id, ts_ms, seq, lat, lon, device.okrug, device.herd_id, hdop,
                           sats, alt, bat)  # fmt: skip
    return Item(device_id, seq, ts_ms, (reading,)), device

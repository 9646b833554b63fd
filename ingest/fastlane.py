"""The short way for the message that is nearly every message: one plainly valid fix of a
registered, active collar on its native topic.

The general path takes a message through the decoder table, a `Decoded`, the registry
verdict, `build_items` and its per-reading loop: a dozen calls and objects per message, a
fifth of the consumer's CPU at tens of thousands of messages a second. This does the same
steps in one function, with the same pieces (`_topic_parts`, `_fast_json`,
`fastcheck.envelope_readings`, `build_item`), and returns exactly the `Item` the general path
would build (the reading goes through that path's own `build_item`), or None whenever the
general path could decide anything else: a refusal of any kind, another source or kind,
several readings, a payload `_fast_json` does not vouch for. The general path then takes the
message and decides as it always did
(tests/ingest/test_fastlane.py compares the two on every golden case and on generated input).
"""

from __future__ import annotations

from ingest import fastcheck
from ingest.decoders.base import _DECLINED, _fast_json
from ingest.decoders.native import _topic_parts
from ingest.reasons import Rejected
from ingest.validate import Item, TimeLimits, build_item
from jaylym.models import DeviceDirectory, DeviceInfo

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
    readings = None if obj is _DECLINED else fastcheck.envelope_readings(obj)
    if readings is None or len(readings) != 1:
        return None
    okrug, _kind, device_id = parts
    device = directory.lookup(device_id)
    if device is None or not device.active or device.kind != "collar" or device.okrug != okrug:
        return None
    try:
        # The general path's own step for one reading: the same checks, time limits and item.
        item = build_item(readings[0], device, now_ms, limits)
    except Rejected:
        return None  # the general path refuses it, naming the reading
    return item, device

"""From a decoded message to readings: device resolution, schema, ranges and time limits.

Message-level problems (unknown device, topic disagreeing with the registry) refuse the whole
message. Reading-level problems refuse that reading alone, so one bad value in a batch of 500
does not cost the other 499.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ingest import fastcheck
from ingest.decoders.base import Decoded
from ingest.reasons import Reason, Rejected
from ingest.schema import CollarIn, SoilIn, classify
from jaylym.models import DeviceDirectory, DeviceInfo, Reading, new_position, new_soil


@dataclass(frozen=True, slots=True)
class TimeLimits:
    max_future_ms: int
    max_age_ms: int


@dataclass(slots=True)
class Item:
    """One wire reading of one device: a collar fix, or a soil sample over N depths.

    Not frozen: one is built per message, and a frozen dataclass's __init__ costs several
    times a plain one's. Nothing changes an item after `build_items`; the consumer replaces
    one (`_flag`) rather than editing it."""

    device_id: str
    seq: int
    ts_ms: int
    readings: tuple[Reading, ...]


def resolve_device(decoded: Decoded, directory: DeviceDirectory) -> DeviceInfo:
    if decoded.device_id is not None:
        device = directory.lookup(decoded.device_id)
        who = decoded.device_id
    elif decoded.dev_eui is not None:
        device = directory.by_dev_eui(decoded.dev_eui)
        who = f"devEui {decoded.dev_eui}"
    else:  # pragma: no cover - every decoder sets one of them
        raise Rejected(Reason.BAD_SCHEMA, "message names no device")
    if device is None:
        raise Rejected(Reason.UNKNOWN_DEVICE, f"{who} is not registered")
    if not device.active:
        raise Rejected(Reason.REVOKED_DEVICE, f"{device.device_id} is revoked")
    if decoded.kind is not None and decoded.kind != device.kind:
        raise Rejected(
            Reason.TOPIC_MISMATCH, f"topic says {decoded.kind}, registry says {device.kind}"
        )
    if decoded.okrug is not None and decoded.okrug != device.okrug:
        raise Rejected(
            Reason.TOPIC_MISMATCH, f"topic says okrug {decoded.okrug}, registry {device.okrug}"
        )
    return device


def build_items(
    decoded: Decoded, device: DeviceInfo, now_ms: int, limits: TimeLimits
) -> tuple[list[Item], list[Rejected]]:
    readings = decoded.readings
    if len(readings) == 1:  # one reading per message: nearly every one
        try:
            return [build_item(readings[0], device, now_ms, limits)], []
        except Rejected as exc:
            return [], [Rejected(exc.reason, f"readings[0]: {exc.detail}")]
    items: list[Item] = []
    refused: list[Rejected] = []
    for index, raw in enumerate(readings):
        try:
            items.append(build_item(raw, device, now_ms, limits))
        except Rejected as exc:
            refused.append(Rejected(exc.reason, f"readings[{index}]: {exc.detail}"))
    return items, refused


def build_item(raw: dict[str, Any], device: DeviceInfo, now_ms: int, limits: TimeLimits) -> Item:
    """The item of one raw reading of `device`, or `Rejected` naming why not."""
    if device.kind == "collar":
        seq, ts, lat, lon, hdop, sats, alt, bat = fastcheck.collar(raw) or _collar_model(raw)
        ts_ms = round(ts * 1000)
        if not now_ms - limits.max_age_ms <= ts_ms <= now_ms + limits.max_future_ms:
            _check_time(ts, now_ms, limits)  # raises, naming which limit
        readings: tuple[Reading, ...] = (
            new_position(device.device_id, ts_ms, seq, lat, lon, device.okrug, device.herd_id,
                         hdop, sats, alt, bat),
        )  # fmt: skip
    else:
        seq, ts, depths, vwc, tsoil, bat = fastcheck.soil(raw) or _soil_model(raw)
        ts_ms = _check_time(ts, now_ms, limits)
        readings = tuple(
            new_soil(device.device_id, ts_ms, seq, depth, vwc[i], device.okrug,
                     None if tsoil is None else tsoil[i], bat)
            for i, depth in enumerate(depths)
        )  # fmt: skip
    return Item(device.device_id, seq, ts_ms, readings)


def _check_time(ts: float, now_ms: int, limits: TimeLimits) -> int:
    ts_ms = round(ts * 1000)
    if ts_ms > now_ms + limits.max_future_ms:
        raise Rejected(Reason.FUTURE_TS, f"ts {ts} is {(ts_ms - now_ms) / 1000:.0f} s ahead")
    if ts_ms < now_ms - limits.max_age_ms:
        raise Rejected(Reason.TOO_OLD, f"ts {ts} is older than the retention")
    return ts_ms


def _collar_model(raw: dict[str, Any]) -> fastcheck.Fix:
    """The model's verdict on what the fast path did not vouch for (accepted, or why not)."""
    try:
        r = CollarIn.model_validate(raw)
    except ValidationError as exc:
        raise Rejected(*classify(exc)) from None
    return r.seq, r.ts, r.lat, r.lon, r.hdop, r.sats, r.alt, r.bat


def _soil_model(raw: dict[str, Any]) -> fastcheck.Sample:
    try:
        r = SoilIn.model_validate(raw)
    except ValidationError as exc:
        raise Rejected(*classify(exc)) from None
    return r.seq, r.ts, r.depths, r.vwc, r.tsoil, r.bat

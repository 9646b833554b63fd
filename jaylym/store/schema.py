"""The time-series schema both stores keep, and the checks every reading passes first.

InfluxDB (documented for dashboards in docs/storage.md):

- `position`, tags `device`, `okrug`, `herd`; float fields `lat lon hdop sats alt bat seq
  valid`, string field `qc`.
- `soil`, tags `device`, `okrug`, `depth`; float fields `vwc tsoil bat seq valid`, string
  field `qc`.

`qc` is the comma-joined sorted quality flags, "" when valid; `valid` is 1.0 or 0.0. Every
number is written as a float so no field ever changes type. Empty tags are omitted.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from jaylym.models import PositionReading, Reading, SoilReading, is_device_id
from jaylym.store.base import (
    MAX_TAG_VALUE_CHARS,
    MAX_TS_MS,
    MIN_TS_MS,
    RESERVED_MEASUREMENTS,
    StoreRejected,
    is_identifier,
)
from jaylym.store.lineprotocol import decode_text, line, string_field, tag_value

POSITION = "position"
SOIL = "soil"
MAX_DEPTH_CM = 10_000


def check_device_id(device_id: str) -> str:
    """Every device id from outside passes here before it reaches a query."""
    if not isinstance(device_id, str) or not is_device_id(device_id):
        raise ValueError(f"{device_id!r} is not a device id ([a-z0-9-]{{3,32}})")
    return device_id


def check_measurement(measurement: str) -> str:
    """A generic-point measurement: an identifier, and not one of the readings'."""
    if not is_identifier(measurement) or measurement in RESERVED_MEASUREMENTS:
        raise ValueError(f"{measurement!r} is not a measurement of generic points")
    return measurement


def check_range(start_ms: int, end_ms: int) -> None:
    for name, value in (("start_ms", start_ms), ("end_ms", end_ms)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int (UTC milliseconds)")
        if not MIN_TS_MS <= value <= MAX_TS_MS:
            raise ValueError(f"{name} {value} is out of range")


def qc_text(flags: frozenset[str]) -> str:
    return ",".join(sorted(flags))


def qc_flags(text: str | None) -> frozenset[str]:
    return frozenset(text.split(",")) if text else frozenset()


def validate(readings: Sequence[Reading]) -> None:
    """Refuse the whole batch, naming the first bad reading, before anything is written."""
    for index, reading in enumerate(readings):
        problem = _problem(reading)
        if problem:
            raise StoreRejected(f"reading {index} of the batch: {problem}")


def checked_lines(readings: Sequence[Reading]) -> list[str]:
    """`validate(readings)` then `reading_line` of each, in one pass: the lines, or
    `StoreRejected` naming the first bad reading before anything is written.

    The usual reading, a position without quality flags of a device already seen with the
    same tags, is checked and written out here in line (the two functions and `_problem`'s
    helper calls were about a tenth of the ingest's CPU); anything else, and anything this
    does not plainly vouch for, goes through `_problem` and `reading_line` (which decide)."""
    lines: list[str] = []
    append = lines.append
    for index, reading in enumerate(readings):
        text = _plain_position_line(reading) if type(reading) is PositionReading else None
        if text is None:
            problem = _problem(reading)
            if problem:
                raise StoreRejected(f"reading {index} of the batch: {problem}")
            text = reading_line(reading)
            if type(reading) is PositionReading:
                _remember_sound_tags(reading)
        append(text)
    return lines


def _plain_position_line(r: PositionReading) -> str | None:
    """`reading_line(r)` when `_problem(r)` is plainly None, else None (the caller asks)."""
    head = _CHECKED_HEADS.get((r.device_id, r.herd_id, r.okrug))
    if head is None or r.flags:
        return None
    ts, lat, lon, seq = r.ts_ms, r.lat, r.lon, r.seq
    # `x - x` is 0.0 for a finite float and NaN (true) for an infinity or NaN.
    if type(ts) is not int or not MIN_TS_MS <= ts <= MAX_TS_MS or type(seq) is not int:
        return None
    if type(lat) is not float or type(lon) is not float or lat - lat or lon - lon:
        return None
    fields = f"lat={lat!r},lon={lon!r}"
    hdop, sats, alt, bat = r.hdop, r.sats, r.alt, r.bat
    if hdop is not None:
        if type(hdop) is not float or hdop - hdop:
            return None
        fields += f",hdop={hdop!r}"
    if sats is not None:
        if type(sats) is not int:
            return None
        fields += f",sats={float(sats)!r}"
    if alt is not None:
        if type(alt) is not float or alt - alt:
            return None
        fields += f",alt={alt!r}"
    if bat is not None:
        if type(bat) is not float or bat - bat:
            return None
        fields += f",bat={bat!r}"
    return f'{head} {fields},seq={float(seq)!r},valid=1.0,qc="" {ts}'


def _problem(reading: Reading) -> str | None:
    # Runs for every reading of every write (the ingest's hot path): plain tuples, no dicts.
    if isinstance(reading, PositionReading):
        tags: tuple[object, ...] = (reading.okrug, reading.herd_id or "")
    elif isinstance(reading, SoilReading):
        tags = (reading.okrug,)
    else:
        return f"not a reading: {type(reading).__name__}"
    if not isinstance(reading.device_id, str) or not _known_device_id(reading.device_id):
        return f"device id {reading.device_id!r} does not match [a-z0-9-]{{3,32}}"
    if isinstance(reading.ts_ms, bool) or not isinstance(reading.ts_ms, int):
        return "ts_ms must be an int"
    if not MIN_TS_MS <= reading.ts_ms <= MAX_TS_MS:
        return f"ts_ms {reading.ts_ms} is out of range"
    for flag in reading.flags:
        if not flag or "," in flag or len(flag) > 64:
            return f"quality flag {flag!r} is not a short word"
    for tag in tags:
        if not isinstance(tag, str) or len(tag) > MAX_TAG_VALUE_CHARS:
            return f"tag {tag!r} is not a string of at most {MAX_TAG_VALUE_CHARS} characters"
    if isinstance(reading, SoilReading) and not 0 <= reading.depth_cm <= MAX_DEPTH_CM:
        return f"depth {reading.depth_cm} cm is out of range"
    for name, value in _number_items(reading):
        if value is None:
            if name in _REQUIRED:  # the line would have no value to write
                return f"{name} is missing"
        elif isinstance(value, bool) or not math.isfinite(value):
            return f"{name}={value!r} is not a finite number"
    return None


_REQUIRED = frozenset({"lat", "lon", "vwc", "seq"})


@functools.lru_cache(maxsize=65536)
def _known_device_id(device_id: str) -> bool:
    # Cached: a deployment has a few thousand devices, each on many lines.
    return is_device_id(device_id)


def _number_items(reading: Reading) -> tuple[tuple[str, float | None], ...]:
    if isinstance(reading, PositionReading):
        return (("lat", reading.lat), ("lon", reading.lon), ("hdop", reading.hdop),
                ("sats", reading.sats), ("alt", reading.alt), ("bat", reading.bat),
                ("seq", reading.seq))  # fmt: skip
    return (("vwc", reading.vwc), ("tsoil", reading.tsoil), ("bat", reading.bat),
            ("seq", reading.seq))  # fmt: skip


def _numbers(reading: Reading) -> dict[str, float | None]:
    if isinstance(reading, PositionReading):
        return {
            "lat": reading.lat,
            "lon": reading.lon,
            "hdop": reading.hdop,
            "sats": reading.sats,
            "alt": reading.alt,
            "bat": reading.bat,
            "seq": reading.seq,
        }
    return {"vwc": reading.vwc, "tsoil": reading.tsoil, "bat": reading.bat, "seq": reading.seq}


def reading_line(reading: Reading) -> str:
    """The line-protocol line of one validated reading (the hot path of every write).

    Keys are our constants and the device id matched its pattern, so only okrug and herd need
    escaping; `generic_reading_line` is the checked equivalent it is tested against.
    """
    if isinstance(reading, PositionReading):
        head = _position_head(reading.device_id, reading.herd_id, reading.okrug)
        fields = f"lat={float(reading.lat)!r},lon={float(reading.lon)!r}"
        for name in ("hdop", "sats", "alt", "bat"):
            value = getattr(reading, name)
            if value is not None:
                fields += f",{name}={float(value)!r}"
    else:
        head = f"{SOIL},depth={reading.depth_cm},device={reading.device_id}"
        if reading.okrug:
            head += f",okrug={tag_value(reading.okrug)}"
        fields = f"vwc={float(reading.vwc)!r}"
        for name in ("tsoil", "bat"):
            value = getattr(reading, name)
            if value is not None:
                fields += f",{name}={float(value)!r}"
    valid = "1.0" if reading.valid else "0.0"
    qc = string_field(qc_text(reading.flags)) if reading.flags else '""'
    return f"{head} {fields},seq={float(reading.seq)!r},valid={valid},qc={qc} {reading.ts_ms}"


_HEADS: dict[tuple[str, str | None, str], str] = {}
# The same, only for tags `_problem` found sound: what `checked_lines` may trust unchecked.
_CHECKED_HEADS: dict[tuple[str, str | None, str], str] = {}
_MAX_HEADS = 65536  # one per device (and herd move); bounded, so made-up ids only evict


def _position_head(device_id: str, herd_id: str | None, okrug: str) -> str:
    """Measurement and tags of a position line: the same for every fix of a device, so made
    once per device rather than per line (a dict look-up instead of three f-strings)."""
    key = (device_id, herd_id, okrug)
    head = _HEADS.get(key)
    if head is None:
        head = f"{POSITION},device={device_id}"
        if herd_id:
            head += f",herd={tag_value(herd_id)}"
        if okrug:
            head += f",okrug={tag_value(okrug)}"
        if len(_HEADS) >= _MAX_HEADS:
            _HEADS.clear()
        _HEADS[key] = head
    return head


def _remember_sound_tags(reading: PositionReading) -> None:
    """For a position `_problem` passed: its device id and tags are sound (they are all it
    checks of them, and only strings get here, so equal keys are the same strings)."""
    key = (reading.device_id, reading.herd_id, reading.okrug)
    if key not in _CHECKED_HEADS:
        if len(_CHECKED_HEADS) >= _MAX_HEADS:
            _CHECKED_HEADS.clear()
        _CHECKED_HEADS[key] = _position_head(*key)


def generic_reading_line(reading: Reading) -> str:
    """`reading_line` through the generic, fully checked encoder (for tests)."""
    fields: dict[str, float | str | None] = {
        k: None if v is None else float(v) for k, v in _numbers(reading).items()
    }
    fields["valid"] = 1.0 if reading.valid else 0.0
    fields["qc"] = qc_text(reading.flags)
    if isinstance(reading, PositionReading):
        tags = {"device": reading.device_id, "okrug": reading.okrug, "herd": reading.herd_id or ""}
        return line(POSITION, tags, fields, reading.ts_ms)
    tags = {"device": reading.device_id, "okrug": reading.okrug, "depth": str(reading.depth_cm)}
    return line(SOIL, tags, fields, reading.ts_ms)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else round(value)


def _text(value: Any) -> str:
    return decode_text(value) if isinstance(value, str) else ""


def position_from_row(device_id: str, row: Mapping[str, Any]) -> PositionReading:
    """A position from an InfluxDB row (`time` in ms, fields and tag columns)."""
    herd = _text(row.get("herd"))
    return PositionReading(
        device_id=device_id,
        ts_ms=int(row["time"]),
        seq=round(row.get("seq") or 0),
        lat=float(row["lat"]),
        lon=float(row["lon"]),
        okrug=_text(row.get("okrug")),
        herd_id=herd or None,
        hdop=_opt_float(row.get("hdop")),
        sats=_opt_int(row.get("sats")),
        alt=_opt_float(row.get("alt")),
        bat=_opt_float(row.get("bat")),
        flags=qc_flags(_text(row.get("qc"))),
    )


def soil_from_row(device_id: str, row: Mapping[str, Any]) -> SoilReading:
    return SoilReading(
        device_id=device_id,
        ts_ms=int(row["time"]),
        seq=round(row.get("seq") or 0),
        depth_cm=int(row["depth"]),
        vwc=float(row["vwc"]),
        okrug=_text(row.get("okrug")),
        tsoil=_opt_float(row.get("tsoil")),
        bat=_opt_float(row.get("bat")),
        flags=qc_flags(_text(row.get("qc"))),
    )


def reading_key(reading: Reading) -> tuple[int, int, int]:
    """Sort key inside one device: time, positions before soil, then depth."""
    if isinstance(reading, SoilReading):
        return (reading.ts_ms, 1, reading.depth_cm)
    return (reading.ts_ms, 0, 0)

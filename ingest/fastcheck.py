"""Plain-code checks for the common, well-formed native message: the ingest's fast path.

The pydantic models of `ingest.schema` stay the definition of what is accepted and the only
source of error reasons and details. Validating a model per message cost about a sixth of the
ingest's CPU (py-spy, bench/results/ingest-profile.txt), while nearly every message is
well-formed. So these functions accept only what is plainly valid: exact JSON types (`int`,
`float`, `list`, `dict`; never `bool`, never a string holding a number), values inside the
models' ranges, lists of the right lengths. They return what the model would have produced.
Anything else returns None and goes through the model, which accepts it or says why not, so
accepting or refusing never depends on which path a message took
(tests/ingest/test_fastcheck.py compares both on generated input).
"""

from __future__ import annotations

from typing import Any

from ingest.schema import MAX_READINGS, VWC_TOLERANCE_PCT

# (seq, ts, lat, lon, hdop, sats, alt, bat)
Fix = tuple[int, float, float, float, float | None, int | None, float | None, float | None]
# (seq, ts, depths, vwc, tsoil, bat)
Sample = tuple[int, float, list[int], list[float], list[float] | None, float | None]

_MAX_SEQ = 2**63 - 1
_MAX_TS = 32503680000  # before year 3000, as the model says


def envelope_readings(obj: Any) -> list[dict[str, Any]] | None:
    """`Envelope(...).readings` for a plainly valid envelope, else None."""
    if type(obj) is not dict or type(obj.get("v")) is not int or obj["v"] != 1:
        return None
    readings = obj.get("readings")
    if type(readings) is not list or not 1 <= len(readings) <= MAX_READINGS:
        return None
    for raw in readings:
        if type(raw) is not dict:
            return None
    return readings


def _number(raw: dict[str, Any], key: str, low: float, high: float) -> float | None:
    """The field as a float when it is a JSON number inside [low, high]; None when absent or
    null; `_Fallback` for anything else."""
    value = raw.get(key)
    if value is None:
        return None
    kind = type(value)
    if (kind is float or kind is int) and low <= value <= high:  # NaN fails the comparison
        return float(value)
    raise _Fallback


class _Fallback(Exception):
    """Not plainly valid: ask the model."""


def _common(raw: dict[str, Any]) -> tuple[int, float, float | None]:
    seq = raw.get("seq")
    if type(seq) is not int or not 0 <= seq <= _MAX_SEQ:
        raise _Fallback
    ts: Any = raw.get("ts")
    kind = type(ts)
    if not (kind is float or kind is int) or not 0 < ts < _MAX_TS:
        raise _Fallback
    return seq, float(ts), _number(raw, "bat", 0, 6)


def collar(raw: dict[str, Any]) -> Fix | None:
    """What `CollarIn.model_validate(raw)` holds, for a plainly valid fix; else None.

    `_common` and `_number` written out in line: this runs for nearly every message, and the
    six calls cost as much as the checks (the soil path keeps the helpers)."""
    get = raw.get
    seq = get("seq")
    if type(seq) is not int or not 0 <= seq <= _MAX_SEQ:
        return None
    ts: Any = get("ts")
    kind = type(ts)
    if not (kind is float or kind is int) or not 0 < ts < _MAX_TS:
        return None
    lat: Any = get("lat")
    kind = type(lat)
    if not (kind is float or kind is int) or not -90 <= lat <= 90:  # NaN fails it too
        return None
    lon: Any = get("lon")
    kind = type(lon)
    if not (kind is float or kind is int) or not -180 <= lon <= 180:
        return None
    hdop: Any = get("hdop")
    if hdop is not None:
        kind = type(hdop)
        if not (kind is float or kind is int) or not 0 <= hdop <= 100:
            return None
        hdop = float(hdop)
    alt: Any = get("alt")
    if alt is not None:
        kind = type(alt)
        if not (kind is float or kind is int) or not -500 <= alt <= 9000:
            return None
        alt = float(alt)
    bat: Any = get("bat")
    if bat is not None:
        kind = type(bat)
        if not (kind is float or kind is int) or not 0 <= bat <= 6:
            return None
        bat = float(bat)
    sats = get("sats")
    if sats is not None and (type(sats) is not int or not 0 <= sats <= 64):
        return None
    return seq, float(ts), float(lat), float(lon), hdop, sats, alt, bat


def soil(raw: dict[str, Any]) -> Sample | None:
    """What `SoilIn.model_validate(raw)` holds, for a plainly valid sample; else None."""
    try:
        seq, ts, bat = _common(raw)
    except _Fallback:
        return None
    depths = raw.get("depths")
    vwc = raw.get("vwc")
    tsoil = raw.get("tsoil")
    if type(depths) is not list or type(vwc) is not list or not 1 <= len(depths) <= 16:
        return None
    if len(vwc) != len(depths):
        return None
    for depth in depths:
        if type(depth) is not int or not 0 <= depth <= 500:
            return None
    if len(set(depths)) != len(depths):
        return None
    vwc_out = _numbers(vwc, -VWC_TOLERANCE_PCT, 100)
    if vwc_out is None:
        return None
    tsoil_out = None
    if tsoil is not None:
        if type(tsoil) is not list or len(tsoil) != len(depths):
            return None
        tsoil_out = _numbers(tsoil, -60, 80)
        if tsoil_out is None:
            return None
    return seq, ts, depths, vwc_out, tsoil_out, bat


def _numbers(values: list[Any], low: float, high: float) -> list[float] | None:
    out = []
    for value in values:
        kind = type(value)
        if not (kind is float or kind is int) or not low <= value <= high:
            return None
        out.append(float(value))
    return out

"""Validation of a remote configuration: types, ranges, calibrations, unknown keys.

Separate from common/config.py so that a device loads it only when a config arrives.
"""

import json

from common.config import DEFAULTS, ConfigError
from common.payload import KINDS

# key -> (type, min, max); `None` bounds are open. Shared by both kinds.
_COMMON = {
    "interval_s": (int, 60, 86400),
    "batch_max": (int, 1, 500),
    "low_battery_v": (float, 0.0, 6.0),
}
_COLLAR = {
    "interval_moving_s": (int, 60, 86400),
    "interval_resting_s": (int, 60, 86400),
    "move_threshold_m": (float, 1.0, 10000.0),
    "fix_timeout_s": (int, 5, 600),
    "max_hdop": (float, 0.5, 50.0),
    "min_sats": (int, 3, 64),
}
_SOIL = {
    "samples": (int, 1, 256),
    "probes": (list, 1, 8),
}


def _number(key, value, kind, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key + ": must be a number")
    if kind is int:
        if value != int(value):
            raise ConfigError(key + ": must be a whole number")
        value = int(value)
    else:
        value = float(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(key + ": must be in " + str(lo) + ".." + str(hi))
    return value


def _calibration(where, cal):
    if not isinstance(cal, dict):
        raise ConfigError(where + ": must be an object")
    kind = cal.get("type")
    if kind == "two_point":
        for k in cal:
            if k not in ("type", "dry_mv", "wet_mv", "vwc_dry", "vwc_wet"):
                raise ConfigError(where + "." + k + ": unknown key")
        out = {"type": "two_point"}
        out["dry_mv"] = _number(where + ".dry_mv", cal.get("dry_mv"), float, 0, 5000)
        out["wet_mv"] = _number(where + ".wet_mv", cal.get("wet_mv"), float, 0, 5000)
        out["vwc_dry"] = _number(where + ".vwc_dry", cal.get("vwc_dry", 0), float, 0, 100)
        out["vwc_wet"] = _number(where + ".vwc_wet", cal.get("vwc_wet", 100), float, 0, 100)
        if abs(out["dry_mv"] - out["wet_mv"]) < 50:
            raise ConfigError(where + ": dry_mv and wet_mv must differ by at least 50 mV")
        return out
    if kind == "poly":
        for k in cal:
            if k not in ("type", "coef"):
                raise ConfigError(where + "." + k + ": unknown key")
        coef = cal.get("coef")
        if not isinstance(coef, list) or not 1 <= len(coef) <= 6:
            raise ConfigError(where + ".coef: must be a list of 1 to 6 numbers")
        return {
            "type": "poly",
            "coef": [_number(where + ".coef", c, float, None, None) for c in coef],
        }
    raise ConfigError(where + ".type: must be two_point or poly")


def _probes(value):
    if not isinstance(value, list) or not 1 <= len(value) <= 8:
        raise ConfigError("probes: must be a list of 1 to 8 probes")
    out = []
    depths = []
    for i, probe in enumerate(value):
        where = "probes[" + str(i) + "]"
        if not isinstance(probe, dict):
            raise ConfigError(where + ": must be an object")
        for k in probe:
            if k not in ("depth", "cal"):
                raise ConfigError(where + "." + k + ": unknown key")
        depth = _number(where + ".depth", probe.get("depth"), int, 0, 500)
        if depth in depths:
            raise ConfigError(where + ".depth: two probes at " + str(depth) + " cm")
        depths.append(depth)
        out.append({"depth": depth, "cal": _calibration(where + ".cal", probe.get("cal"))})
    return out


def validate(doc, kind):
    """A complete config from a partial one (missing keys keep their defaults)."""
    if kind not in KINDS:
        raise ConfigError("kind: must be collar or soil")
    if not isinstance(doc, dict):
        raise ConfigError("config must be a JSON object")
    schema = {}
    schema.update(_COMMON)
    schema.update(_COLLAR if kind == "collar" else _SOIL)
    out = {}
    out.update(DEFAULTS[kind])
    for key in doc:
        if key not in schema:
            raise ConfigError(key + ": unknown setting for a " + kind)
        typ, lo, hi = schema[key]
        if key == "probes":
            out[key] = _probes(doc[key])
        else:
            out[key] = _number(key, doc[key], typ, lo, hi)
    if kind == "collar" and out["interval_moving_s"] > out["interval_resting_s"]:
        raise ConfigError("interval_moving_s: must not exceed interval_resting_s")
    return out


def parse(payload, kind):
    """Remote config bytes -> validated config; ConfigError says what is wrong."""
    if len(payload) > 4096:
        raise ConfigError("config larger than 4096 bytes")
    try:
        doc = json.loads(payload)
    except ValueError:
        raise ConfigError("not valid JSON")
    return validate(doc, kind)

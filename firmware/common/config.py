"""Device configuration: defaults, validation, persistence, and remote updates.

Two files on flash:
- `device.json`, written when the device is provisioned: id, kind, okrug, broker, password.
- `config.json`, the behaviour (intervals, gates, calibration), set remotely through the
  retained `.../cmd/config` topic. A new config is validated whole, persisted, and used from
  the next cycle; a bad one is rejected, kept out of flash, and its error reported.
"""

import json

from common.compat import join, read_bytes, write_atomic
from common.payload import KINDS, valid_id


class ConfigError(ValueError):
    pass


def validate(doc, kind):
    """A complete, checked config from a partial one (see common/config_check.py)."""
    from common import config_check  # loaded only when a config arrives: spares the heap

    return config_check.validate(doc, kind)


def parse(payload, kind):
    """Remote config bytes -> validated config; ConfigError says what is wrong."""
    from common import config_check

    return config_check.parse(payload, kind)


_TWO_POINT = {
    "type": "two_point",
    "dry_mv": 2800.0,
    "wet_mv": 1200.0,
    "vwc_dry": 0.0,
    "vwc_wet": 100.0,
}

DEFAULTS = {
    "collar": {
        "interval_s": 900,
        "interval_moving_s": 300,
        "interval_resting_s": 1800,
        "move_threshold_m": 50.0,
        "fix_timeout_s": 90,
        "max_hdop": 5.0,
        "min_sats": 4,
        "batch_max": 50,
        "low_battery_v": 3.4,
    },
    "soil": {
        "interval_s": 1800,
        "samples": 16,
        # Capacitive probes read ~2.8 V in dry soil and ~1.2 V saturated (v1.2 boards on
        # 3.3 V); a two-point calibration per probe is replaced after a field calibration.
        "probes": [
            {"depth": 10, "cal": _TWO_POINT},
            {"depth": 30, "cal": _TWO_POINT},
            {"depth": 60, "cal": _TWO_POINT},
        ],
        "batch_max": 50,
        "low_battery_v": 3.4,
    },
}


class Store:
    """config.json on flash. `load()` at the start of a cycle; `offer()` for remote config."""

    def __init__(self, root, kind):
        self.path = join(root, "config.json")
        self.kind = kind

    def load(self):
        """The config for this cycle. The file was validated before it was written, so it
        is only merged over the defaults here (no validator in RAM on a normal wake)."""
        cfg = dict(DEFAULTS[self.kind])
        raw = read_bytes(self.path)
        if raw is None:
            return cfg
        try:
            stored = json.loads(raw)
        except ValueError:
            return cfg  # flash corruption: run on defaults rather than not at all
        if isinstance(stored, dict):
            for key in stored:
                if key in cfg:
                    cfg[key] = stored[key]
        return cfg

    def offer(self, payload):
        """Validate and persist a remote config. Returns (changed, error or None)."""
        try:
            cfg = parse(payload, self.kind)
        except ConfigError as exc:
            return False, str(exc)
        canonical = json.dumps(cfg).encode()
        if read_bytes(self.path) == canonical:
            return False, None  # retained config re-delivered at every connect: no flash write
        write_atomic(self.path, canonical)
        return True, None


def load_device(root=""):
    """device.json: who this device is and where it reports. Raises ConfigError."""
    raw = read_bytes(join(root, "device.json"))
    if raw is None:
        raise ConfigError("device.json missing: provision the device (see firmware/README.md)")
    try:
        dev = json.loads(raw)
    except ValueError:
        raise ConfigError("device.json is not valid JSON")
    for key in ("id", "kind", "okrug", "host"):
        if key not in dev:
            raise ConfigError("device.json: " + key + " missing")
    if not valid_id(dev["id"]):
        raise ConfigError("device.json: id must be 3..32 of a-z, 0-9, -")
    if not valid_id(dev["okrug"]):
        raise ConfigError("device.json: okrug must be 3..32 of a-z, 0-9, -")
    if dev["kind"] not in KINDS:
        raise ConfigError("device.json: kind must be collar or soil")
    dev.setdefault("port", 8883 if dev.get("tls") else 1883)
    dev.setdefault("password", "")
    dev["_root"] = root  # where device files (the TLS CA) are
    return dev

"""Telemetry readings as the whole system sees them once a message has been decoded.

The ingest builds these from device messages; the stores write and return them; the grazing
model and the alert engine read them. Time is always UTC, carried as integer **milliseconds**
since the Unix epoch (`ts_ms`), and written to InfluxDB with `precision=ms`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal, Protocol

DEVICE_ID_RE = re.compile(r"^[a-z0-9-]{3,32}$")
TOPIC_LEVEL_RE = re.compile(r"^[a-z0-9-]{1,64}$")

DeviceKind = Literal["collar", "soil"]
DEVICE_KINDS: tuple[DeviceKind, ...] = ("collar", "soil")


def is_device_id(value: str) -> bool:
    """The only form of device id accepted anywhere: lowercase `[a-z0-9-]`, 3 to 32 chars."""
    return DEVICE_ID_RE.fullmatch(value) is not None


def ms_to_datetime(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)


def datetime_to_ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("naive datetime: Jaylym keeps every time in UTC")
    return round(when.timestamp() * 1000)


class PositionFlag(StrEnum):
    """Why a GPS fix is implausible for livestock: stored, but kept out of grazing sums."""

    ZERO = "zero_fix"  # lat = lon = 0
    HDOP = "hdop"  # HDOP > 10
    SPEED = "speed"  # implied speed from the previous fix above 15 km/h (trucked)


class SoilFlag(StrEnum):
    """ISMN automatic quality flags applied to soil readings (see ../shared/docs/domain.md)."""

    BELOW_ZERO = "C01"
    ABOVE_PHYSICAL = "C02"  # > 60 % VWC
    ABOVE_SATURATION = "C03"
    FROZEN = "D03"  # soil temperature below 0 degC
    FLAT_LOW = "D09"  # low constant value for 12 h or more
    FLAT_SATURATED = "D10"  # saturated plateau for 12 h or more


@dataclass(frozen=True, slots=True)
class PositionReading:
    """One collar fix. `flags` empty means valid for the grazing model."""

    device_id: str
    ts_ms: int
    seq: int
    lat: float
    lon: float
    okrug: str = ""
    herd_id: str | None = None
    hdop: float | None = None
    sats: int | None = None
    alt: float | None = None
    bat: float | None = None
    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def valid(self) -> bool:
        return not self.flags


@dataclass(frozen=True, slots=True)
class SoilReading:
    """One soil-station sample at one depth. `flags` empty means valid for the moisture factor.

    A device message with N depths becomes N of these, sharing `ts_ms` and `seq`.
    """

    device_id: str
    ts_ms: int
    seq: int
    depth_cm: int
    vwc: float  # volumetric water content, percent
    okrug: str = ""
    tsoil: float | None = None  # degC
    bat: float | None = None
    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def valid(self) -> bool:
        return not self.flags


Reading = PositionReading | SoilReading

# The ingest builds one reading per message at tens of thousands a second. A frozen dataclass's
# generated __init__ sets each field with `object.__setattr__(self, "name", value)` (about
# 1.2 us for a PositionReading, a sixth of the decode path, bench/results/ingest-round2.md);
# setting the slots through their descriptors gives the same frozen object in about a third of
# that. The values are the caller's, unchecked, exactly as with the constructor.
_new = object.__new__
_NO_FLAGS: frozenset[str] = frozenset()
(_p_device, _p_ts, _p_seq, _p_lat, _p_lon, _p_okrug, _p_herd, _p_hdop, _p_sats, _p_alt, _p_bat,
 _p_flags) = (getattr(PositionReading, f).__set__ for f in ("device_id", "ts_ms", "seq", "lat",
              "lon", "okrug", "herd_id", "hdop", "sats", "alt", "bat", "flags"))  # fmt: skip
(_s_device, _s_ts, _s_seq, _s_depth, _s_vwc, _s_okrug, _s_tsoil, _s_bat,
 _s_flags) = (getattr(SoilReading, f).__set__ for f in ("device_id", "ts_ms", "seq", "depth_cm",
              "vwc", "okrug", "tsoil", "bat", "flags"))  # fmt: skip


def new_position(
    device_id: str, ts_ms: int, seq: int, lat: float, lon: float, okrug: str,
    herd_id: str | None, hdop: float | None, sats: int | None, alt: float | None,
    bat: float | None,
) -> PositionReading:  # fmt: skip
    """`PositionReading(...)` with every field but `flags` (empty), for hot paths."""
    r = _new(PositionReading)
    _p_device(r, device_id)
    _p_ts(r, ts_ms)
    _p_seq(r, seq)
    _p_lat(r, lat)
    _p_lon(r, lon)
    _p_okrug(r, okrug)
    _p_herd(r, herd_id)
    _p_hdop(r, hdop)
    _p_sats(r, sats)
    _p_alt(r, alt)
    _p_bat(r, bat)
    _p_flags(r, _NO_FLAGS)
    return r


def new_soil(
    device_id: str, ts_ms: int, seq: int, depth_cm: int, vwc: float, okrug: str,
    tsoil: float | None, bat: float | None,
) -> SoilReading:  # fmt: skip
    """`SoilReading(...)` with every field but `flags` (empty), for hot paths."""
    r = _new(SoilReading)
    _s_device(r, device_id)
    _s_ts(r, ts_ms)
    _s_seq(r, seq)
    _s_depth(r, depth_cm)
    _s_vwc(r, vwc)
    _s_okrug(r, okrug)
    _s_tsoil(r, tsoil)
    _s_bat(r, bat)
    _s_flags(r, _NO_FLAGS)
    return r


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the ingest needs to know about a registered device."""

    device_id: str
    kind: DeviceKind
    okrug: str
    herd_id: str | None = None
    active: bool = True
    dev_eui: str | None = None
    expected_interval_s: int = 900


class DeviceDirectory(Protocol):
    """Read-only view of the device registry, as the ingest uses it."""

    def lookup(self, device_id: str) -> DeviceInfo | None:
        """The device, or None when it is unknown. Revoked devices come back inactive."""
        ...

    def by_dev_eui(self, dev_eui: str) -> DeviceInfo | None:
        """The device registered with this LoRaWAN DevEUI (lowercase hex), or None."""
        ...

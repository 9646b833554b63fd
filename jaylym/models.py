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

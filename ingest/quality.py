"""Quality flags: stored with the reading, never a reason to drop it.

Collar fixes implausible for livestock (lat=lon=0, HDOP too high, implied speed too high:
the animal was in a truck) and the ISMN automatic soil flags (../shared/docs/domain.md).
Both keep a little state per device, in memory, seeded from the store's latest readings.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from jaylym.models import PositionFlag, PositionReading, SoilFlag, SoilReading

EARTH_RADIUS_M = 6_371_008.8
# Collar position error is 5-35 m (domain.md): a move shorter than this is jitter, whatever
# speed it implies over a short interval.
JITTER_M = 50.0
# Two soil values closer than this (percent VWC) are "the same" for the flat-line check.
FLAT_EPSILON_PCT = 0.05


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance. Haversine by hand: metres-level accuracy is plenty for a speed
    check, and it keeps pyproj off the per-message path."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(slots=True)
class _Fix:
    ts_ms: int
    lat: float
    lon: float


_JITTER_RAD = JITTER_M / EARTH_RADIUS_M
_DEG = math.pi / 180


class PositionFlagger:
    def __init__(self, max_hdop: float = 10.0, max_speed_kmh: float = 15.0) -> None:
        self.max_hdop = max_hdop
        self.max_speed_ms = max_speed_kmh / 3.6
        self._last: dict[str, _Fix] = {}

    def seed(self, reading: PositionReading) -> None:
        if PositionFlag.ZERO not in reading.flags and PositionFlag.HDOP not in reading.flags:
            self._last[reading.device_id] = _Fix(reading.ts_ms, reading.lat, reading.lon)

    def flag(self, reading: PositionReading) -> PositionReading:
        # Runs for every fix: the usual unflagged one allocates nothing (no set, no call).
        lat, lon, hdop = reading.lat, reading.lon, reading.hdop
        zero = lat == 0 and lon == 0
        imprecise = hdop is not None and hdop > self.max_hdop
        fast = False
        if not zero and not imprecise:
            # Speed is measured from the last fix whose position is believable; a trucked fix
            # counts, so every fix of a truck ride is flagged, and the first one after it too
            # only if the animal really moved fast relative to the truck's last position.
            ts_ms = reading.ts_ms
            prev = self._last.get(reading.device_id)
            if prev is None:
                self._last[reading.device_id] = _Fix(ts_ms, lat, lon)
            elif ts_ms > prev.ts_ms:
                # Surely within the jitter, without trigonometry (most fixes end here): going
                # along the meridian, then along the parallel, is a path between the two
                # points, so at least as long as the great circle; the parallel's arc is at
                # most the longitude difference in radians.
                if (abs(lat - prev.lat) + abs(lon - prev.lon)) * _DEG > _JITTER_RAD:
                    moved = distance_m(prev.lat, prev.lon, lat, lon)
                    fast = moved > JITTER_M and moved / ((ts_ms - prev.ts_ms) / 1000) > (
                        self.max_speed_ms
                    )
                prev.ts_ms, prev.lat, prev.lon = ts_ms, lat, lon  # in place: one fix per device
            if not fast:
                return reading
        flags = {name for name, on in ((PositionFlag.ZERO, zero), (PositionFlag.HDOP, imprecise),
                                       (PositionFlag.SPEED, fast)) if on}  # fmt: skip
        return dataclasses.replace(reading, flags=reading.flags | frozenset(flags))


@dataclass(slots=True)
class _Run:
    start_ms: int
    last_ms: int
    value: float


class SoilFlagger:
    """ISMN C01 (< 0), C02 (> 60 %), C03 (above saturation), D03 (soil below 0 degC),
    D09 / D10 (constant for the flat-line duration, low / saturated)."""

    def __init__(self, saturation_pct: float = 50.0, flatline_h: float = 12.0) -> None:
        self.saturation = saturation_pct
        self.flatline_ms = round(flatline_h * 3_600_000)
        self._runs: dict[tuple[str, int], _Run] = {}

    def seed(self, reading: SoilReading) -> None:
        self._runs[(reading.device_id, reading.depth_cm)] = _Run(
            reading.ts_ms, reading.ts_ms, reading.vwc
        )

    def flag(self, reading: SoilReading) -> SoilReading:
        flags: set[str] = set()
        if reading.vwc < 0:
            flags.add(SoilFlag.BELOW_ZERO)
        if reading.vwc > 60:
            flags.add(SoilFlag.ABOVE_PHYSICAL)
        if reading.vwc > self.saturation:
            flags.add(SoilFlag.ABOVE_SATURATION)
        if reading.tsoil is not None and reading.tsoil < 0:
            flags.add(SoilFlag.FROZEN)
        if self._flat(reading):
            flags.add(
                SoilFlag.FLAT_SATURATED if reading.vwc >= self.saturation else SoilFlag.FLAT_LOW
            )
        if not flags:
            return reading
        return dataclasses.replace(reading, flags=reading.flags | frozenset(flags))

    def _flat(self, reading: SoilReading) -> bool:
        key = (reading.device_id, reading.depth_cm)
        run = self._runs.get(key)
        if run is None or abs(reading.vwc - run.value) > FLAT_EPSILON_PCT:
            if run is None or reading.ts_ms > run.last_ms:
                self._runs[key] = _Run(reading.ts_ms, reading.ts_ms, reading.vwc)
            return False
        if reading.ts_ms > run.last_ms:
            run.last_ms = reading.ts_ms
        return reading.ts_ms - run.start_ms >= self.flatline_ms

"""The real cattle tracks in ../shared/data/cattle-gps-animaltracker/, as PositionReadings.

Flagging belongs to the ingest (issue: ingest); this is a minimal stand-in so the grazing
model can be tested on real data before the two meet. It applies the PositionFlag rules that
these files allow: ZERO (lat = lon = 0) and SPEED (implied speed from the previous non-zero
fix above 15 km/h, which also catches a moved fix with a repeated timestamp). HDOP cannot be
applied: the files carry EHPE in undocumented collar units, not HDOP.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from pyproj import Geod

from jaylym.models import PositionFlag, PositionReading, datetime_to_ms

GEOD = Geod(ellps="WGS84")
MAX_SPEED_KMH = 15.0


def load_track(path: Path, device_id: str) -> list[PositionReading]:
    """The file's fixes in file order, unflagged."""
    out = []
    with path.open(newline="") as handle:
        for seq, row in enumerate(csv.DictReader(handle)):
            when = datetime.strptime(
                f"{row['Date'].strip()} {row['Time'].strip()}", "%Y/%m/%d %H:%M:%S"
            ).replace(tzinfo=UTC)
            out.append(
                PositionReading(
                    device_id=device_id,
                    ts_ms=datetime_to_ms(when),
                    seq=seq,
                    lat=float(row["Latitude"]),
                    lon=float(row["Longitude"]),
                    alt=float(row["Altitude"]),
                )
            )
    return out


def flag_implausible(track: list[PositionReading]) -> list[PositionReading]:
    """The same fixes with ZERO and SPEED flags set (time order assumed, as in the files)."""
    out = []
    previous: PositionReading | None = None
    for fix in track:
        flags: set[str] = set()
        if fix.lat == 0 and fix.lon == 0:
            flags.add(PositionFlag.ZERO)
        elif previous is not None:
            _az, _back, metres = GEOD.inv(previous.lon, previous.lat, fix.lon, fix.lat)
            seconds = (fix.ts_ms - previous.ts_ms) / 1000
            if metres > 0 and (seconds <= 0 or metres / seconds * 3.6 > MAX_SPEED_KMH):
                flags.add(PositionFlag.SPEED)
        if PositionFlag.ZERO not in flags:
            previous = fix
        out.append(
            PositionReading(
                device_id=fix.device_id,
                ts_ms=fix.ts_ms,
                seq=fix.seq,
                lat=fix.lat,
                lon=fix.lon,
                alt=fix.alt,
                flags=frozenset(flags),
            )
        )
    return out

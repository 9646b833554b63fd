"""Small builders for synthetic pastures, herds and collar tracks near Sogety (Almaty region)."""

from __future__ import annotations

from collections.abc import Iterable

from shapely import box

from api.grazing import Pasture
from jaylym.models import PositionReading, SoilReading

LON0, LAT0 = 78.00, 43.50  # around the pilot okrug, in the Almaty region foothills
CELL = 0.01  # degrees: pastures are 0.01° squares, about 90 ha at this latitude
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_780_000_000_000  # 2026-05-28, an ordinary UTC millisecond


def square(pasture_id: str, col: int, row: int = 0, **kwargs: object) -> Pasture:
    """The pasture covering grid cell (col, row)."""
    x0, y0 = LON0 + col * CELL, LAT0 + row * CELL
    return Pasture.from_geometry(
        pasture_id,
        "sogety",
        box(x0, y0, x0 + CELL, y0 + CELL),
        **kwargs,  # type: ignore[arg-type]
    )


def centre(col: int, row: int = 0) -> tuple[float, float]:
    """(lon, lat) of the middle of cell (col, row)."""
    return LON0 + (col + 0.5) * CELL, LAT0 + (row + 0.5) * CELL


OUTSIDE = (LON0 - 0.5, LAT0 - 0.5)  # far from every cell


def fix(
    device: str,
    t_ms: int,
    where: tuple[float, float],
    seq: int = 0,
    flags: Iterable[str] = (),
) -> PositionReading:
    lon, lat = where
    return PositionReading(
        device_id=device, ts_ms=t_ms, seq=seq, lat=lat, lon=lon, flags=frozenset(flags)
    )


def track(
    device: str, start_ms: int, every_ms: int, places: list[tuple[float, float]]
) -> list[PositionReading]:
    """Fixes every `every_ms`, one per place, from `start_ms`."""
    return [fix(device, start_ms + i * every_ms, p, seq=i) for i, p in enumerate(places)]


def soil(device: str, t_ms: int, vwc: float, flags: Iterable[str] = ()) -> SoilReading:
    return SoilReading(
        device_id=device, ts_ms=t_ms, seq=0, depth_cm=10, vwc=vwc, flags=frozenset(flags)
    )

"""What the grazing model is fed: pastures, herds and soil stations, as plain typed values.

The registry builds these from its tables; tests build them by hand. Validation happens here,
once, with messages that name the offending pasture, herd or station.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from shapely.geometry.base import BaseGeometry

from api.grazing.config import SEASON_KINDS, SeasonKind
from api.grazing.geodesy import geodesic_area_ha


class GrazingInputError(ValueError):
    """An input to the grazing model is unusable; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Pasture:
    """A grazing unit. `geometry` is a (Multi)Polygon in lon/lat degrees (WGS84)."""

    pasture_id: str
    okrug: str
    geometry: BaseGeometry
    area_ha: float
    productivity_kg_dm_ha: float | None = None  # forage grown per season, kg dry matter / ha
    season: SeasonKind = "year_round"

    def __post_init__(self) -> None:
        if self.geometry.is_empty or self.geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise GrazingInputError(f"pasture {self.pasture_id!r}: geometry must be a polygon")
        if not self.geometry.is_valid:
            raise GrazingInputError(f"pasture {self.pasture_id!r}: geometry is not valid")
        if not (math.isfinite(self.area_ha) and self.area_ha > 0):
            raise GrazingInputError(f"pasture {self.pasture_id!r}: area_ha must be positive")
        prod = self.productivity_kg_dm_ha
        if prod is not None and not (math.isfinite(prod) and prod > 0):
            raise GrazingInputError(
                f"pasture {self.pasture_id!r}: productivity must be positive or unknown (None)"
            )
        if self.season not in SEASON_KINDS:
            raise GrazingInputError(f"pasture {self.pasture_id!r}: unknown season {self.season}")

    @classmethod
    def from_geometry(
        cls,
        pasture_id: str,
        okrug: str,
        geometry: BaseGeometry,
        *,
        productivity_kg_dm_ha: float | None = None,
        season: SeasonKind = "year_round",
    ) -> Pasture:
        """A pasture whose area is the geodesic area of its geometry."""
        try:
            area = geodesic_area_ha(geometry)
        except ValueError as exc:
            raise GrazingInputError(f"pasture {pasture_id!r}: {exc}") from None
        return cls(pasture_id, okrug, geometry, area, productivity_kg_dm_ha, season)


@dataclass(frozen=True, slots=True)
class Herd:
    """Animals grazed together, with the collars worn by some of them."""

    herd_id: str
    composition: Mapping[str, int]  # species -> head count
    collar_ids: tuple[str, ...]
    okrug: str = ""

    def __post_init__(self) -> None:
        for species, head in self.composition.items():
            if head < 0:
                raise GrazingInputError(f"herd {self.herd_id!r}: negative head count of {species}")
        if len(set(self.collar_ids)) != len(self.collar_ids):
            raise GrazingInputError(f"herd {self.herd_id!r}: a collar is listed twice")

    def livestock_units(self, coefficients: Mapping[str, float]) -> float:
        """LU(h): head counts weighted by the configured coefficients."""
        unknown = sorted(set(self.composition) - set(coefficients))
        if unknown:
            raise GrazingInputError(
                f"herd {self.herd_id!r}: no LU coefficient for {', '.join(unknown)}"
            )
        return float(sum(head * coefficients[sp] for sp, head in self.composition.items()))


@dataclass(frozen=True, slots=True)
class SoilStation:
    """A soil-moisture station, with its soil's water limits in VWC percent."""

    device_id: str
    lon: float
    lat: float
    wilting_point_pct: float | None = None  # None: the configured default (loam)
    field_capacity_pct: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lon) and math.isfinite(self.lat)):
            raise GrazingInputError(f"station {self.device_id!r}: position is not finite")
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise GrazingInputError(f"station {self.device_id!r}: position out of range")

    def limits(self, default_wp: float, default_fc: float) -> tuple[float, float]:
        """(wilting point, field capacity), falling back to the defaults."""
        wp = default_wp if self.wilting_point_pct is None else self.wilting_point_pct
        fc = default_fc if self.field_capacity_pct is None else self.field_capacity_pct
        if fc <= wp:
            raise GrazingInputError(
                f"station {self.device_id!r}: field capacity {fc} must exceed wilting point {wp}"
            )
        return wp, fc

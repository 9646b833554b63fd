from __future__ import annotations

from datetime import datetime
from typing import Any

from geojson_pydantic import Feature, FeatureCollection, MultiPolygon, Polygon
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from api.schemas.common import Name, PastureStatus, Season, Slug, example
from jaylym.geo import check_shape, check_vertex_cap

EX_GEOMETRY: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[77.30, 43.55], [77.32, 43.55], [77.32, 43.565], [77.30, 43.565], [77.30, 43.55]]
    ],
}
_EX: dict[str, Any] = {
    "id": "kokzhailau",
    "okrug_id": "sogety",
    "name": "Kokzhailau",
    "geometry": EX_GEOMETRY,
    "season": "summer",
    "forage_kg_dm_ha": 1200,
    "max_lu_per_ha": 0.8,
    "rest_days": 45,
    "status": "open",
}

Geometry = Polygon | MultiPolygon


class _GeometryChecked(BaseModel):
    """Validates `geometry` (vertex cap first, then topology, bounds, geodesic area)."""

    _area_ha: float | None = PrivateAttr(None)

    @field_validator("geometry", mode="before", check_fields=False)
    @classmethod
    def _cap(cls, value: Any) -> Any:
        check_vertex_cap(value)  # GeometryError is a ValueError: a 422 at body.geometry
        return value

    @field_validator("geometry", mode="after", check_fields=False)
    @classmethod
    def _topology(cls, value: Any) -> Any:
        if value is not None:
            check_shape(value)  # errors carry the path body.geometry
        return value

    @model_validator(mode="after")
    def _area(self) -> Any:
        geometry = getattr(self, "geometry", None)
        if geometry is not None:
            self._area_ha = check_shape(geometry).area_ha
        return self

    @property
    def area_ha(self) -> float | None:
        return self._area_ha


class PastureFields(BaseModel):
    season: Season = "year_round"
    forage_kg_dm_ha: float | None = Field(
        None, ge=0, le=50_000, description="Forage productivity, kg dry matter per ha per season."
    )
    max_lu_per_ha: float | None = Field(
        None, ge=0, le=50, description="Legal or plan load limit, livestock units per ha."
    )
    rest_days: int = Field(0, ge=0, le=3650, description="Rest required after grazing, days.")
    status: PastureStatus = "open"


class PastureCreate(_GeometryChecked, PastureFields):
    model_config = example(_EX, extra="forbid")
    id: Slug
    okrug_id: Slug
    name: Name
    geometry: Geometry


class PastureUpdate(_GeometryChecked):
    model_config = example({"status": "resting", "rest_days": 60}, extra="forbid")
    name: Name | None = None
    geometry: Geometry | None = None
    season: Season | None = None
    forage_kg_dm_ha: float | None = Field(None, ge=0, le=50_000)
    max_lu_per_ha: float | None = Field(None, ge=0, le=50)
    rest_days: int | None = Field(None, ge=0, le=3650)
    status: PastureStatus | None = None


class PastureRead(PastureFields):
    model_config = example(
        {**_EX, "area_ha": 268.4, "created_at": "2026-05-01T06:00:00Z"}, from_attributes=True
    )
    id: str
    okrug_id: str
    name: str
    geometry: dict[str, Any]
    area_ha: float = Field(description="Geodesic area on the WGS84 ellipsoid, hectares.")
    created_at: datetime


class PastureProperties(PastureFields):
    model_config = example({k: v for k, v in _EX.items() if k != "geometry"} | {"area_ha": 268.4})
    id: str
    okrug_id: str
    name: str
    area_ha: float


_FEATURE_EX: dict[str, Any] = {
    "type": "Feature",
    "id": "kokzhailau",
    "geometry": EX_GEOMETRY,
    "properties": {k: v for k, v in _EX.items() if k != "geometry"} | {"area_ha": 268.4},
}


class PastureFeature(Feature[Geometry, PastureProperties]):
    model_config = ConfigDict(json_schema_extra={"examples": [_FEATURE_EX]})


class PastureFeatureCollection(FeatureCollection[PastureFeature]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"type": "FeatureCollection", "features": [_FEATURE_EX], "next_cursor": None}
            ]
        }
    )
    next_cursor: str | None = None


_IMPORT_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "geometry": EX_GEOMETRY,
    "properties": {k: v for k, v in _EX.items() if k != "geometry"},
}


class ImportFeature(Feature[Geometry, dict[str, Any]]):
    model_config = ConfigDict(json_schema_extra={"examples": [_IMPORT_FEATURE]})

    @field_validator("geometry", mode="before")
    @classmethod
    def _cap(cls, value: Any) -> Any:
        # Before geojson-pydantic builds a model per position: a million vertices would
        # otherwise take minutes to parse only to be refused by PastureCreate afterwards.
        check_vertex_cap(value)
        return value


class PastureImport(FeatureCollection[ImportFeature]):
    """A FeatureCollection whose features carry the pasture fields as properties (`id` may
    also be the feature id)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"type": "FeatureCollection", "features": [_IMPORT_FEATURE]}]
        }
    )


class ImportResult(BaseModel):
    model_config = example({"created": ["kokzhailau"], "updated": []})
    created: list[str]
    updated: list[str]

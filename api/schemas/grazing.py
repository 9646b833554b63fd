"""Grazing pressure of a pasture over a window (docs/grazing.md defines every number)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import example


class HerdGrazing(BaseModel):
    model_config = example(
        {
            "herd_id": "herd-askar",
            "fraction_now": 1.0,
            "lu_now": 144.0,
            "hours": 170.5,
            "lu_days": 1023.0,
        }
    )

    herd_id: str
    fraction_now: float = Field(description="Share of the herd's known collars inside now.")
    lu_now: float
    hours: float = Field(description="∫ frac dt over the window: herd-hours in the pasture.")
    lu_days: float


class PastureGrazingRead(BaseModel):
    model_config = example(
        {
            "pasture_id": "sogety-koktal",
            "start_ms": 1780250400000,
            "end_ms": 1781258400000,
            "lu_days_per_ha": 11.4,
            "capacity_lu_days_per_ha": 25.4,
            "utilisation": 0.449,
            "moisture_factor": 0.75,
            "stations": ["soil-koktal-1"],
            "current_lu": 144.0,
            "current_density_lu_per_ha": 1.6,
            "herds_present": ["herd-askar"],
            "herds": [
                {
                    "herd_id": "herd-askar",
                    "fraction_now": 1.0,
                    "lu_now": 144.0,
                    "hours": 170.5,
                    "lu_days": 1023.0,
                }
            ],
        }
    )

    pasture_id: str
    start_ms: int = Field(description="Window start, UTC ms (inclusive).")
    end_ms: int = Field(description="Window end, UTC ms (exclusive).")
    lu_days_per_ha: float = Field(description="GP_p over the window, LU-days per hectare.")
    capacity_lu_days_per_ha: float | None = Field(
        description="C_p; null while the pasture's forage productivity is unknown."
    )
    utilisation: float | None = Field(description="GP_p / C_p over the window.")
    moisture_factor: float
    stations: list[str] = Field(
        description="Soil stations the moisture factor came from (inside, or the nearest "
        "within the radius)."
    )
    current_lu: float = Field(description="LU present at the window's last millisecond.")
    current_density_lu_per_ha: float
    herds_present: list[str]
    herds: list[HerdGrazing]


class GrazingFeature(BaseModel):
    model_config = example(
        {
            "type": "Feature",
            "id": "sogety-koktal",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[77.3, 43.55], [77.32, 43.55], [77.32, 43.565], [77.3, 43.55]]],
            },
            "properties": {"id": "sogety-koktal", "name": "Көктал", "utilisation": 0.449},
        }
    )

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] = Field(description="The pasture's GeoJSON (Multi)Polygon.")
    properties: dict[str, Any] = Field(
        description="`id`, `name`, `okrug`, `status` and every grazing field."
    )


class GrazingFeatureCollection(BaseModel):
    """`GET /pastures/grazing?format=geojson`: the map layer Grafana colours on utilisation."""

    model_config = example(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "sogety-koktal",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[77.3, 43.55], [77.32, 43.55], [77.32, 43.565], [77.3, 43.55]]
                        ],
                    },
                    "properties": {
                        "id": "sogety-koktal",
                        "name": "Көктал",
                        "okrug": "sogety",
                        "status": "open",
                        "utilisation": 0.449,
                    },
                }
            ],
            "next_cursor": None,
        }
    )

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[GrazingFeature]
    next_cursor: str | None = None

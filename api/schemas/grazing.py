"""Grazing pressure of a pasture over a window (docs/grazing.md defines every number)."""

from __future__ import annotations

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
    current_lu: float = Field(description="LU present at the window's last millisecond.")
    current_density_lu_per_ha: float
    herds_present: list[str]
    herds: list[HerdGrazing]

"""The grazing model's parameters, with their defaults and where the numbers come from.

Everything a coordinator might need to change for their okrug is here, in one
`extra="forbid"` model, so the settings layer can hand it over as one slice. Sources for the
defaults are in docs/grazing.md (from ../shared/docs/domain.md).
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SeasonKind = Literal["spring", "summer", "autumn", "winter", "year_round"]
SEASON_KINDS: tuple[SeasonKind, ...] = ("spring", "summer", "autumn", "winter", "year_round")

_MONTH_DAY_RE = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")

#: Livestock-unit coefficients per head (US NRCS animal-unit equivalents; camel from the
#: Tropical Livestock Unit scheme, which NRCS lacks). See docs/grazing.md.
DEFAULT_LU_COEFFICIENTS: dict[str, float] = {
    "cattle": 1.0,
    "horse": 1.25,
    "sheep": 0.20,
    "goat": 0.15,
    "camel": 1.25,
}

#: Season start dates (local, MM-DD) for pastures of each kind in the foothills and mountains
#: of Almaty region. A pasture's forage account restarts on its kind's start date. These are
#: the traditional Kazakh seasonal pastures (көктеу, жайлау, күзеу, қыстау); the okrug plan's
#: calendar schedule replaces them.
DEFAULT_SEASON_STARTS: dict[SeasonKind, str] = {
    "spring": "03-21",  # көктеу: from Nauryz, as the foothills green up
    "summer": "06-01",  # жайлау: mountain pastures once snow has gone
    "autumn": "09-01",  # күзеу: back down before the first snow in the mountains
    "winter": "11-15",  # қыстау: near the winter quarters
    "year_round": "03-21",  # one grazing year from the start of growth (Nauryz)
}


def parse_month_day(value: str) -> tuple[int, int]:
    """`"MM-DD"` into (month, day); 29 February is refused because it is not in every year."""
    match = _MONTH_DAY_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"season start must be MM-DD, got {value!r}")
    month, day = int(match.group(1)), int(match.group(2))
    days_in = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if day > days_in:
        raise ValueError(f"season start {value!r} is not a date in every year")
    return month, day


class GrazingConfig(BaseModel):
    """Parameters of the grazing pressure model (issue 6). Units are in the field names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lu_coefficients: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_LU_COEFFICIENTS),
        description="Livestock units per head, by species.",
    )
    utilisation: float = Field(
        0.5, gt=0, le=1, description="Share of the season's forage that may be grazed."
    )
    intake_kg_dm_per_lu_day: float = Field(
        11.8, gt=0, description="Dry-matter intake of one livestock unit per day, kg."
    )
    max_gap_intervals: float = Field(
        3.0, gt=0, description="A fix holds for at most this many expected intervals."
    )
    max_gap_cap_s: int = Field(
        7200, gt=0, le=7200, description="A fix never holds longer than this (at most 2 h), s."
    )
    default_expected_interval_s: int = Field(
        900, gt=0, description="Expected fix interval of a collar the caller did not describe."
    )
    moisture_window_days: float = Field(
        14.0, gt=0, description="Soil readings this far back feed the moisture factor, days."
    )
    moisture_station_radius_m: float = Field(
        5000.0, ge=0, description="A pasture without a station uses the nearest within this, m."
    )
    moisture_min: float = Field(0.3, ge=0, le=1, description="Lower clamp of the factor.")
    moisture_max: float = Field(1.0, gt=0, le=1, description="Upper clamp of the factor.")
    wilting_point_pct: float = Field(
        12.0, ge=0, le=100, description="Default wilting point of a station, VWC percent (loam)."
    )
    field_capacity_pct: float = Field(
        28.0, ge=0, le=100, description="Default field capacity of a station, VWC percent (loam)."
    )
    season_starts: dict[SeasonKind, str] = Field(
        default_factory=lambda: dict(DEFAULT_SEASON_STARTS),
        description="Local start date (MM-DD) of each pasture kind's season.",
    )
    timezone: str = Field("Asia/Almaty", description="IANA zone the season dates are local to.")

    @field_validator("lu_coefficients")
    @classmethod
    def _coefficients_positive(cls, value: dict[str, float]) -> dict[str, float]:
        for species, lu in value.items():
            if not species or lu <= 0 or lu != lu:
                raise ValueError(f"LU coefficient of {species!r} must be a positive number")
        return value

    @field_validator("season_starts")
    @classmethod
    def _every_season_has_a_start(cls, value: dict[SeasonKind, str]) -> dict[SeasonKind, str]:
        missing = [kind for kind in SEASON_KINDS if kind not in value]
        if missing:
            raise ValueError(f"season start missing for {', '.join(missing)}")
        for start in value.values():
            parse_month_day(start)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> GrazingConfig:
        if self.moisture_min > self.moisture_max:
            raise ValueError("moisture_min must not exceed moisture_max")
        if self.field_capacity_pct <= self.wilting_point_pct:
            raise ValueError("field_capacity_pct must exceed wilting_point_pct")
        return self

    def max_gap_ms(self, expected_interval_s: float) -> int:
        """How long one fix holds: `max_gap_intervals` × the interval, capped."""
        gap_s = min(self.max_gap_intervals * expected_interval_s, float(self.max_gap_cap_s))
        return round(gap_s * 1000)

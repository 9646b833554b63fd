"""What one evaluation of the grazing model returns, per pasture and per herd in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.grazing.fixes import FixCounts
from api.grazing.moisture import MoistureFactor


@dataclass(frozen=True, slots=True)
class HerdInPasture:
    """One herd's share of one pasture: now, and over the window."""

    herd_id: str
    fraction_now: float  # frac_h,p(at): share of the herd's known collars inside p
    lu_now: float  # LU(h) · frac_h,p(at)
    hours: float  # ∫ frac_h,p dt over the window, hours ("herd-hours" in the pasture)
    lu_days: float  # ∫ LU(h) · frac_h,p dt over the window, LU-days


@dataclass(frozen=True, slots=True)
class PastureGrazing:
    """The model's numbers for one pasture over [start_ms, end_ms), and its state at `at_ms`."""

    pasture_id: str
    okrug: str
    start_ms: int
    end_ms: int
    at_ms: int
    area_ha: float
    lu_days: float  # ∫ LU_p dt, LU-days
    lu_days_per_ha: float  # GP_p
    capacity_lu_days_per_ha: float | None  # C_p; None while the productivity is unknown
    utilisation: float | None  # GP_p / C_p
    moisture: MoistureFactor
    current_lu: float  # LU_p(at)
    current_density_lu_per_ha: float  # LU_p(at) / area
    herds_present: tuple[str, ...]  # herds with frac_h,p(at) > 0, by id
    herds: tuple[HerdInPasture, ...]  # every herd present now or at some time in the window

    @property
    def moisture_factor(self) -> float:
        return self.moisture.factor

    def api_fields(self) -> dict[str, Any]:
        """The fields of `GET /api/v1/pastures/{id}/grazing`, plus the per-herd breakdown."""
        return {
            "pasture_id": self.pasture_id,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "lu_days_per_ha": self.lu_days_per_ha,
            "capacity_lu_days_per_ha": self.capacity_lu_days_per_ha,
            "utilisation": self.utilisation,
            "moisture_factor": self.moisture.factor,
            # The stations the factor came from (inside, or nearest within the radius): the
            # Pasture dashboard charts their soil moisture.
            "stations": list(self.moisture.stations),
            "current_lu": self.current_lu,
            "current_density_lu_per_ha": self.current_density_lu_per_ha,
            "herds_present": list(self.herds_present),
            "herds": [
                {
                    "herd_id": h.herd_id,
                    "fraction_now": h.fraction_now,
                    "lu_now": h.lu_now,
                    "hours": h.hours,
                    "lu_days": h.lu_days,
                }
                for h in self.herds
            ],
        }


@dataclass(frozen=True, slots=True)
class GrazingResult:
    """Every pasture's numbers from one evaluation, and what became of the input fixes."""

    pastures: tuple[PastureGrazing, ...]
    counts: FixCounts

    def by_id(self) -> dict[str, PastureGrazing]:
        return {p.pasture_id: p for p in self.pastures}

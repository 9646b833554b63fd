"""`pasture_state` points: the model's numbers as time-series, for Grafana without the API.

One point per pasture per evaluation, stamped with the evaluation instant. Every field is
always a float (InfluxDB fixes a field's type on first write, so an int here once would
conflict forever); a number the model does not know (capacity and utilisation without a
productivity) is left out of the point rather than written as NaN, which InfluxDB refuses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from api.grazing.results import GrazingResult, PastureGrazing

MEASUREMENT = "pasture_state"
HERD_MEASUREMENT = "pasture_herd"


@dataclass(frozen=True, slots=True)
class MeasurementPoint:
    """A generic time-series point, for the store's generic write."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, float]
    ts_ms: int

    def as_dict(self) -> dict[str, object]:
        return {
            "measurement": self.measurement,
            "tags": dict(self.tags),
            "fields": dict(self.fields),
            "ts_ms": self.ts_ms,
        }


def pasture_state_point(pasture: PastureGrazing, ts_ms: int) -> MeasurementPoint:
    """The `pasture_state` point of one pasture at `ts_ms`."""
    fields: dict[str, float | None] = {
        "lu": pasture.current_lu,
        "density": pasture.current_density_lu_per_ha,
        "lu_days_per_ha": pasture.lu_days_per_ha,
        "utilisation": pasture.utilisation,
        "moisture_factor": pasture.moisture.factor,
        "capacity": pasture.capacity_lu_days_per_ha,
    }
    return MeasurementPoint(
        measurement=MEASUREMENT,
        tags={"pasture": pasture.pasture_id, "okrug": pasture.okrug},
        fields={
            name: float(value)
            for name, value in fields.items()
            if value is not None and math.isfinite(value)
        },
        ts_ms=ts_ms,
    )


def pasture_state_points(result: GrazingResult, ts_ms: int | None = None) -> list[MeasurementPoint]:
    """One point per pasture, stamped `ts_ms` (default: each pasture's window end)."""
    return [pasture_state_point(p, p.end_ms if ts_ms is None else ts_ms) for p in result.pastures]


def pasture_herd_points(result: GrazingResult, ts_ms: int | None = None) -> list[MeasurementPoint]:
    """One `pasture_herd` point per (pasture, herd) of the result: the herd's share now, its LU
    there now, and its herd-hours there (over the result's window: the season for a ledger).

    A herd that has left still gets a point with `frac` 0, so a chart of its share drops to
    zero instead of holding the last value until its next visit (docs/storage-dashboards.md).
    """
    points = []
    for pasture in result.pastures:
        stamp = pasture.end_ms if ts_ms is None else ts_ms
        for herd in pasture.herds:
            fields = {"frac": herd.fraction_now, "lu": herd.lu_now, "hours": herd.hours}
            points.append(
                MeasurementPoint(
                    measurement=HERD_MEASUREMENT,
                    tags={
                        "pasture": pasture.pasture_id,
                        "okrug": pasture.okrug,
                        "herd": herd.herd_id,
                    },
                    fields={k: float(v) for k, v in fields.items() if math.isfinite(v)},
                    ts_ms=stamp,
                )
            )
    return points

"""Deployment configuration readers may need: the livestock-unit coefficients in use."""

from __future__ import annotations

from api.deps import ConfigDep
from api.routes._base import resource_router
from api.schemas.herds import LivestockUnits

router = resource_router("config")


@router.get("/livestock-units", summary="LU coefficients in use")
def livestock_units(config: ConfigDep) -> LivestockUnits:
    """Set by JAYLYM_LU_*; Kazakhstan's "conditional head" coefficients come from a ministry
    order and can change."""
    return LivestockUnits(**config.livestock_units)

"""Grazing pressure: livestock units present, LU-days per hectare, seasonal capacity and
utilisation per pasture, computed exactly from collar fixes (issue 6). See docs/grazing.md."""

from api.grazing.config import DEFAULT_LU_COEFFICIENTS, DEFAULT_SEASON_STARTS, GrazingConfig
from api.grazing.fixes import FixCounts
from api.grazing.inputs import GrazingInputError, Herd, Pasture, SoilStation
from api.grazing.ledger import SeasonAccount, SeasonLedger
from api.grazing.model import GrazingModel
from api.grazing.moisture import MoistureFactor
from api.grazing.results import GrazingResult, HerdInPasture, PastureGrazing
from api.grazing.state import MeasurementPoint, pasture_herd_points, pasture_state_points

__all__ = [
    "DEFAULT_LU_COEFFICIENTS",
    "DEFAULT_SEASON_STARTS",
    "FixCounts",
    "GrazingConfig",
    "GrazingInputError",
    "GrazingModel",
    "GrazingResult",
    "Herd",
    "HerdInPasture",
    "MeasurementPoint",
    "MoistureFactor",
    "Pasture",
    "PastureGrazing",
    "SeasonAccount",
    "SeasonLedger",
    "SoilStation",
    "pasture_herd_points",
    "pasture_state_points",
]

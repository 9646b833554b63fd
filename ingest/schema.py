"""The device protocol's readings as pydantic models (docs/protocol.md is the prose version).

Range errors and shape errors are told apart so the dead-letter reason says which it was.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from ingest.reasons import Reason

# Types that must be numbers, never strings or booleans coerced into numbers.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
MAX_READINGS = 500
# A probe drifting slightly below 0 % through calibration is a real sensor reading that ISMN
# flags C01; values no sensor can produce are rejected. (Protocol range: 0..100.)
VWC_TOLERANCE_PCT = 5.0

_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)


class _Reading(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    seq: StrictInt = Field(ge=0, le=2**63 - 1)
    ts: Number = Field(gt=0, lt=32503680000)  # before year 3000
    bat: Number | None = Field(None, ge=0, le=6)


class CollarIn(_Reading):
    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    hdop: Number | None = Field(None, ge=0, le=100)
    sats: StrictInt | None = Field(None, ge=0, le=64)
    alt: Number | None = Field(None, ge=-500, le=9000)


class SoilIn(_Reading):
    depths: list[StrictInt] = Field(min_length=1, max_length=16)
    vwc: list[Number] = Field(min_length=1, max_length=16)
    tsoil: list[Number] | None = Field(None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _per_depth(self) -> SoilIn:
        if len(self.vwc) != len(self.depths):
            raise ValueError("vwc and depths differ in length")
        if self.tsoil is not None and len(self.tsoil) != len(self.depths):
            raise ValueError("tsoil and depths differ in length")
        if len(set(self.depths)) != len(self.depths):
            raise ValueError("a depth is repeated")
        for name, values, low, high in (
            ("depths", self.depths, 0, 500),
            ("vwc", self.vwc, -VWC_TOLERANCE_PCT, 100),
            ("tsoil", self.tsoil or [], -60, 80),
        ):
            for value in values:
                if not low <= value <= high:
                    raise _OutOfRange(f"{name} value {value} outside {low}..{high}")
        return self


class _OutOfRange(ValueError):
    """A per-depth value outside its range (list items need a custom check)."""


class Envelope(BaseModel):
    """`{"v": 1, "readings": [...]}`: the readings stay raw so one bad one is refused alone."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: StrictInt
    readings: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_READINGS)

    @model_validator(mode="after")
    def _version(self) -> Envelope:
        if self.v != 1:
            raise ValueError(f"unsupported protocol version {self.v}")
        return self


def classify(exc: ValidationError) -> tuple[Reason, str]:
    """The dead-letter reason and a one-line detail for a pydantic error."""
    errors = exc.errors(include_url=False, include_input=False)
    for err in errors:
        ctx_error = (err.get("ctx") or {}).get("error")
        if err["type"] in _RANGE_ERRORS or isinstance(ctx_error, _OutOfRange):
            return Reason.OUT_OF_RANGE, _describe(err)
    return Reason.BAD_SCHEMA, "; ".join(_describe(e) for e in errors[:3])


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "reading"
    return f"{where}: {err['msg']}"

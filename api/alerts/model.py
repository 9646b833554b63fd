"""The alert notification: what the engine hands to delivery, one per alert transition.

The engine (api/alerts/engine, built separately) owns the lifecycle; this module only fixes the
shape of what is sent. Each rule carries the one number that matters to a herder in a typed
"figures" model, discriminated by `rule`, so a template can never ask for a number the alert
does not have.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jaylym.settings import DEVICE_ID_PATTERN


class Rule(StrEnum):
    overgrazing = "overgrazing"
    overstocked = "overstocked"
    off_plan = "off_plan"
    stray = "stray"
    immobile = "immobile"
    device_offline = "device_offline"
    low_battery = "low_battery"
    drought = "drought"


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


class Transition(StrEnum):
    opened = "opened"
    escalated = "escalated"
    renotify = "renotify"
    resolved = "resolved"


class _Figures(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OvergrazingFigures(_Figures):
    rule: Literal[Rule.overgrazing] = Rule.overgrazing
    utilisation: float = Field(ge=0, description="U_p, season grazing pressure / capacity.")


class OverstockedFigures(_Figures):
    rule: Literal[Rule.overstocked] = Rule.overstocked
    density_lu_per_ha: float = Field(ge=0)
    limit_lu_per_ha: float = Field(gt=0)
    minutes: int = Field(ge=0, description="How long the density has been above the limit.")


class OffPlanFigures(_Figures):
    rule: Literal[Rule.off_plan] = Rule.off_plan
    reason: Literal["resting", "closed", "outside_window"]
    minutes: int = Field(ge=0)


class StrayFigures(_Figures):
    rule: Literal[Rule.stray] = Rule.stray
    minutes: int = Field(ge=0)
    metres: int = Field(ge=0, description="Distance to the nearest pasture of the okrug.")


class ImmobileFigures(_Figures):
    rule: Literal[Rule.immobile] = Rule.immobile
    metres: int = Field(ge=0, description="Distance moved over the window.")
    hours: float = Field(gt=0, description="Length of the window of valid fixes.")


class DeviceOfflineFigures(_Figures):
    rule: Literal[Rule.device_offline] = Rule.device_offline
    minutes: int = Field(ge=0, description="Minutes since the last reading.")
    last_seen: datetime = Field(description="Time of the last reading (UTC).")

    @field_validator("last_seen")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _require_utc(value)


class LowBatteryFigures(_Figures):
    rule: Literal[Rule.low_battery] = Rule.low_battery
    volts: float = Field(ge=0)
    threshold_volts: float = Field(gt=0)
    days_to_empty: float | None = Field(None, ge=0, description="None when the trend is flat.")


class DroughtFigures(_Figures):
    rule: Literal[Rule.drought] = Rule.drought
    moisture_factor: float = Field(ge=0, le=1)
    days: int = Field(ge=0, description="Days the factor has stayed below the threshold.")


Figures = Annotated[
    OvergrazingFigures
    | OverstockedFigures
    | OffPlanFigures
    | StrayFigures
    | ImmobileFigures
    | DeviceOfflineFigures
    | LowBatteryFigures
    | DroughtFigures,
    Field(discriminator="rule"),
]


class Subject(BaseModel):
    """Who and where: ids for machines, display names for people. Names are free text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    okrug_id: str = Field(min_length=1, max_length=64)
    okrug_name: str = Field(min_length=1, max_length=200)
    pasture_id: str | None = Field(None, max_length=64)
    pasture_name: str | None = Field(None, max_length=200)
    herd_ids: tuple[str, ...] = ()
    herd_names: tuple[str, ...] = ()
    device_id: str | None = Field(None, pattern=DEVICE_ID_PATTERN)

    @model_validator(mode="after")
    def _names_match_ids(self) -> Subject:
        if len(self.herd_ids) != len(self.herd_names):
            raise ValueError("herd_ids and herd_names must have the same length")
        if (self.pasture_id is None) != (self.pasture_name is None):
            raise ValueError("pasture_id and pasture_name go together")
        return self


class Alert(BaseModel):
    """One notification: an alert transition to be told to people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str = Field(
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Stable id of the alert across transitions."
    )
    seq: int = Field(ge=1, description="Transition sequence number within the alert.")
    rule: Rule
    severity: Severity
    transition: Transition
    subject: Subject
    figures: Figures
    at: datetime = Field(description="When the transition happened (UTC).")

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _require_utc(value)

    @model_validator(mode="after")
    def _figures_match_rule(self) -> Alert:
        if self.figures.rule != self.rule:
            raise ValueError(f"figures are for {self.figures.rule}, alert is {self.rule}")
        return self

    @property
    def idempotency_stem(self) -> str:
        """The part of every delivery key that names this transition."""
        return f"{self.alert_id}/{self.seq}"


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("time must be timezone-aware (UTC)")
    return value.astimezone(UTC)

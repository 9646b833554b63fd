"""Every threshold of the alert engine, in one strict pydantic model with the issue's defaults.

Unknown keys are refused (`extra="forbid"`), so a misspelt threshold in a deployment's
configuration fails loudly instead of silently keeping a default.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from jaylym.settings import Settings

MINUTE = 60
HOUR = 3600
DAY = 86400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleConfig(_Strict):
    """What every rule has: an on/off switch, how long it must stay clear before its alert
    resolves, and an optional repeat interval that overrides the engine's."""

    enabled: bool = True
    clear_hold_s: int = Field(30 * MINUTE, ge=0, description="Clear this long before resolving.")
    repeat_interval_s: int | None = Field(
        None, ge=0, description="Re-notify an unacknowledged alert this often; None: engine's."
    )


class OvergrazingConfig(RuleConfig):
    """Season utilisation U_p = GP_p / C_p."""

    warning: float = Field(0.8, gt=0)
    critical: float = Field(1.0, gt=0)
    clear_margin: float = Field(
        0.05, ge=0, description="Hysteresis: resolves only below warning - margin."
    )
    clear_hold_s: int = Field(6 * HOUR, ge=0)

    @property
    def clear_below(self) -> float:
        return self.warning - self.clear_margin

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not 0 < self.clear_below <= self.warning <= self.critical:
            raise ValueError("need 0 < warning - clear_margin and warning <= critical")
        return self


class OverstockedConfig(RuleConfig):
    """Instant density above the pasture's load limit (LU/ha) for longer than `sustain_s`."""

    sustain_s: int = Field(30 * MINUTE, ge=0)
    critical_ratio: float = Field(1.5, gt=1, description="Critical at density >= ratio x limit.")
    clear_ratio: float = Field(0.9, gt=0, le=1, description="Resolves below ratio x limit.")


class OffPlanConfig(RuleConfig):
    """A herd inside a resting or closed pasture, or outside its plan window there."""

    sustain_s: int = Field(30 * MINUTE, ge=0)
    critical_after_s: int = Field(6 * HOUR, ge=0, description="Critical when off plan this long.")


class StrayConfig(RuleConfig):
    """A collar outside every pasture of its okrug."""

    sustain_s: int = Field(30 * MINUTE, ge=0)
    critical_after_s: int = Field(6 * HOUR, ge=0)


class ImmobileConfig(RuleConfig):
    """A collar that barely moved over a long window of valid fixes."""

    window_s: int = Field(10 * HOUR, gt=0)
    distance_m: float = Field(50.0, gt=0, description="Fires when it moved less than this.")
    clear_factor: float = Field(
        2.0, ge=1, description="Hysteresis: resolves only once it moved factor x distance_m."
    )
    trim_fraction: float = Field(
        0.1, ge=0, lt=0.5, description="Share of fixes farthest from the median left out (noise)."
    )

    @property
    def clear_distance_m(self) -> float:
        return self.distance_m * self.clear_factor


class OfflineConfig(RuleConfig):
    """No reading for `missed_intervals` x the device's expected interval."""

    missed_intervals: float = Field(3.0, gt=0)
    critical_after_s: int = Field(DAY, gt=0, description="Critical when silent this long.")


class LowBatteryConfig(RuleConfig):
    """Per device kind voltages, and a days-to-empty estimate from a linear trend."""

    warning_v: dict[str, float] = Field(default_factory=lambda: {"collar": 3.5, "soil": 3.5})
    critical_v: dict[str, float] = Field(default_factory=lambda: {"collar": 3.3, "soil": 3.3})
    empty_v: dict[str, float] = Field(default_factory=lambda: {"collar": 3.2, "soil": 3.2})
    clear_margin_v: float = Field(0.1, ge=0, description="Resolves at warning_v + margin.")
    trend_window_s: int = Field(7 * DAY, gt=0)
    trend_min_samples: int = Field(6, ge=2)
    trend_min_drop_v_per_day: float = Field(
        0.002, gt=0, description="A flatter fall is no trend (rounding, temperature)."
    )
    level_samples: int = Field(3, ge=1, description="Median of the last N samples is the level.")
    critical_days_to_empty: float = Field(2.0, ge=0)
    clear_hold_s: int = Field(HOUR, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        for kind, warn in self.warning_v.items():
            crit = self.critical_v.get(kind)
            if crit is not None and crit > warn:
                raise ValueError(f"critical_v[{kind}] must be <= warning_v[{kind}]")
        return self


class DroughtConfig(RuleConfig):
    """Herds on a pasture whose moisture factor stayed low for a week."""

    below: float = Field(0.5, gt=0)
    sustain_s: int = Field(7 * DAY, ge=0)
    critical_below: float = Field(0.35, gt=0)
    clear_margin: float = Field(
        0.05, ge=0, description="Hysteresis: resolves only above below + margin."
    )
    max_sample_gap_s: int = Field(2 * DAY, gt=0, description="Longer gaps break the run.")
    clear_hold_s: int = Field(DAY, ge=0)

    @property
    def clear_above(self) -> float:
        return self.below + self.clear_margin

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.critical_below > self.below:
            raise ValueError("need critical_below <= below")
        return self


class FixConfig(_Strict):
    """When a collar's position is known (the grazing model's `max_gap`)."""

    max_gap_intervals: float = Field(3.0, gt=0)
    max_gap_cap_s: int = Field(2 * HOUR, gt=0)
    density_sample_max_age_s: int = Field(
        HOUR, gt=0, description="A density sample older than this no longer says anything."
    )


class EngineConfig(_Strict):
    """The alert engine's whole configuration."""

    repeat_interval_s: int = Field(
        6 * HOUR, ge=0, description="Re-notify an open, unacknowledged alert this often; 0: never."
    )
    notify_on_resolve: bool = True
    evaluation_interval_s: float = Field(60.0, gt=0)
    fixes: FixConfig = FixConfig()
    overgrazing: OvergrazingConfig = OvergrazingConfig()
    overstocked: OverstockedConfig = OverstockedConfig()
    off_plan: OffPlanConfig = OffPlanConfig()
    stray: StrayConfig = StrayConfig()
    immobile: ImmobileConfig = ImmobileConfig()
    device_offline: OfflineConfig = OfflineConfig()
    low_battery: LowBatteryConfig = LowBatteryConfig()
    drought: DroughtConfig = DroughtConfig()

    def rule(self, name: str) -> RuleConfig:
        """The rule's settings; an alert of a rule this version no longer has (still in the
        database after an upgrade) gets the common defaults, so it can still resolve."""
        value = getattr(self, name, None)
        return value if isinstance(value, RuleConfig) else RuleConfig()

    def repeat_interval_for(self, rule: str) -> int:
        own = self.rule(rule).repeat_interval_s
        return self.repeat_interval_s if own is None else own

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        """The engine's slice of the settings: the two flat intervals, then any thresholds
        from `JAYLYM_ALERT_RULES` (JSON; it may also override the intervals)."""
        data: dict[str, object] = {
            "evaluation_interval_s": settings.alert_evaluation_interval_s,
            "repeat_interval_s": settings.alert_repeat_interval_s,
        }
        if settings.alert_rules:
            data |= json.loads(settings.alert_rules)
        return cls.model_validate(data)

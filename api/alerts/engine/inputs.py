"""Plain typed inputs of one evaluation: a snapshot of the registry, the recent fixes and the
grazing model's outputs. The engine never reads a store itself, so every rule is a pure
function of a `Snapshot` and the time, and tests build snapshots directly.

A field left as None means "not available this time": the rules that need it report
`evaluated=False`, and their open alerts are left alone rather than resolved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from jaylym.models import DeviceInfo, PositionReading


class PastureStatus(StrEnum):
    OPEN = "open"
    RESTING = "resting"
    CLOSED = "closed"


@dataclass(frozen=True)
class Pasture:
    """A pasture from the registry. `geometry` is a shapely (Multi)Polygon in lon/lat (WGS 84)."""

    id: str
    okrug: str
    name: str
    geometry: Any  # shapely ships no type information
    status: PastureStatus = PastureStatus.OPEN
    load_limit_lu_per_ha: float | None = None


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """The okrug plan lets `herd_id` graze `pasture_id` over [start_ms, end_ms), optionally
    under a plan load limit stricter than the pasture's legal one."""

    herd_id: str
    pasture_id: str
    start_ms: int
    end_ms: int
    load_limit_lu_per_ha: float | None = None


@dataclass(frozen=True, slots=True)
class Herd:
    id: str
    okrug: str
    name: str = ""
    herder_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of a series at one time (density, moisture factor, battery volts)."""

    ts_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class PastureGrazing:
    """The grazing model's outputs for one pasture at evaluation time.

    The series are what the sustained rules need: instant density over at least the last
    `overstocked.sustain_s`, and the moisture factor over at least `drought.sustain_s`.
    """

    pasture_id: str
    utilisation: float
    current_density_lu_per_ha: float
    moisture_factor: float
    herds_present: tuple[str, ...] = ()
    herd_time_s: Mapping[str, float] = field(default_factory=dict)
    density_series: Sequence[Sample] = ()
    moisture_series: Sequence[Sample] = ()


@dataclass(frozen=True)
class Snapshot:
    """Everything one evaluation looks at."""

    now_ms: int
    pastures: Sequence[Pasture] = ()
    herds: Sequence[Herd] = ()
    devices: Sequence[DeviceInfo] = ()
    plan: Sequence[PlanEntry] | None = None
    fixes: Mapping[str, Sequence[PositionReading]] | None = None
    grazing: Mapping[str, PastureGrazing] | None = None
    last_seen_ms: Mapping[str, int] | None = None
    battery: Mapping[str, Sequence[Sample]] | None = None

    @cached_property
    def collars(self) -> list[DeviceInfo]:
        """Active collars, in a stable order."""
        return sorted(
            (d for d in self.devices if d.kind == "collar" and d.active),
            key=lambda d: d.device_id,
        )

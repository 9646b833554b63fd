"""Season totals kept up to date window by window, instead of refetching a season of fixes.

GP is additive over adjacent windows (a tested property of the model), so a pasture's
LU-days since its season start can be carried forward: each `advance(to_ms)` evaluates only
[through_ms, to_ms) per pasture and adds it. A pasture whose season restarted in between is
reset and counted from its new season start. The ledger's state is plain values
(`SeasonAccount`) that the caller may persist and hand back after a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from api.grazing.model import GrazingModel
from api.grazing.results import GrazingResult, HerdInPasture, PastureGrazing
from api.grazing.seasons import season_start_ms
from jaylym.models import PositionReading, SoilReading


@dataclass(frozen=True, slots=True)
class SeasonAccount:
    """One pasture's grazing since its season start, counted up to `through_ms` (exclusive)."""

    pasture_id: str
    season_start_ms: int
    through_ms: int
    lu_days: float = 0.0
    herd_hours: Mapping[str, float] = field(default_factory=dict)
    herd_lu_days: Mapping[str, float] = field(default_factory=dict)


class SeasonLedger:
    """Running season totals for every pasture of one model."""

    def __init__(
        self, model: GrazingModel, accounts: Mapping[str, SeasonAccount] | None = None
    ) -> None:
        self.model = model
        self._accounts: dict[str, SeasonAccount] = dict(accounts or {})

    @property
    def accounts(self) -> dict[str, SeasonAccount]:
        """The current state, to persist."""
        return dict(self._accounts)

    def window_starts_ms(self, to_ms: int) -> dict[str, int]:
        """Where each pasture's next window starts if the ledger advances to `to_ms`."""
        starts = {}
        for pasture in self.model.pastures:
            season = season_start_ms(pasture.season, to_ms, self.model.config)
            account = self._accounts.get(pasture.pasture_id)
            if account is None or account.season_start_ms != season:
                starts[pasture.pasture_id] = season
            else:
                starts[pasture.pasture_id] = account.through_ms
        return starts

    def fetch_from_ms(self, to_ms: int) -> int:
        """Fixes the caller must supply for `advance(to_ms)`: from this time to `to_ms`."""
        starts = self.window_starts_ms(to_ms)
        return min(starts.values(), default=to_ms) - self.model.lookback_ms

    def advance(
        self,
        fixes: Mapping[str, Sequence[PositionReading]],
        to_ms: int,
        *,
        soil: Mapping[str, Sequence[SoilReading]] | None = None,
        expected_interval_s: Mapping[str, float] | None = None,
    ) -> GrazingResult:
        """Count up to `to_ms` and return every pasture's season figures (U_p at `to_ms`)."""
        for account in self._accounts.values():
            if to_ms < account.through_ms:
                raise ValueError(
                    f"pasture {account.pasture_id!r} is counted through {account.through_ms}: "
                    f"cannot go back to {to_ms}"
                )
        starts = self.window_starts_ms(to_ms)
        window = self.model.evaluate_from(
            fixes, starts, to_ms, soil=soil, expected_interval_s=expected_interval_s
        )
        merged = []
        for pasture, result in zip(self.model.pastures, window.pastures, strict=True):
            season = season_start_ms(pasture.season, to_ms, self.model.config)
            old = self._accounts.get(pasture.pasture_id)
            if old is None or old.season_start_ms != season:
                old = SeasonAccount(pasture.pasture_id, season, season)
            account = _add(old, result, to_ms)
            self._accounts[pasture.pasture_id] = account
            merged.append(_season_view(result, account))
        return GrazingResult(tuple(merged), window.counts)


def _add(account: SeasonAccount, window: PastureGrazing, to_ms: int) -> SeasonAccount:
    hours = dict(account.herd_hours)
    lu_days = dict(account.herd_lu_days)
    for herd in window.herds:
        hours[herd.herd_id] = hours.get(herd.herd_id, 0.0) + herd.hours
        lu_days[herd.herd_id] = lu_days.get(herd.herd_id, 0.0) + herd.lu_days
    return SeasonAccount(
        pasture_id=account.pasture_id,
        season_start_ms=account.season_start_ms,
        through_ms=to_ms,
        lu_days=account.lu_days + window.lu_days,
        herd_hours=hours,
        herd_lu_days=lu_days,
    )


def _season_view(window: PastureGrazing, account: SeasonAccount) -> PastureGrazing:
    """The window's current state with the season's totals."""
    gp = account.lu_days / window.area_ha
    capacity = window.capacity_lu_days_per_ha
    now = {h.herd_id: h for h in window.herds}
    herds = tuple(
        HerdInPasture(
            herd_id=herd_id,
            fraction_now=now[herd_id].fraction_now if herd_id in now else 0.0,
            lu_now=now[herd_id].lu_now if herd_id in now else 0.0,
            hours=account.herd_hours[herd_id],
            lu_days=account.herd_lu_days.get(herd_id, 0.0),
        )
        for herd_id in sorted(account.herd_hours)
    )
    return dataclasses.replace(
        window,
        start_ms=account.season_start_ms,
        lu_days=account.lu_days,
        lu_days_per_ha=gp,
        utilisation=None if capacity is None else gp / capacity,
        herds=herds,
    )

"""Every pasture's season figures, kept current without reading a season of fixes each time.

A `SeasonLedger` is committed through `now − settle` (the longest a fix can hold, 2 h), and
each call adds the recent window [committed, now) on a throw-away copy. GP is additive over
adjacent windows, so this equals one evaluation from the season start; only fixes stored more
than `settle` late are missed (any window can still be recomputed from the stored fixes). The
first call after a start, or after the registry changed what the model is built from, reads
once from the season start. Thread-safe: the API's requests share one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.alerts.runtime.registry_view import RegistryView
from api.grazing import GrazingConfig, GrazingModel, SeasonLedger
from api.grazing.results import GrazingResult
from jaylym.models import PositionReading, SoilReading


@dataclass
class _Built:
    key: str
    model: GrazingModel
    ledger: SeasonLedger


class SeasonTotals:
    def __init__(self, config: GrazingConfig) -> None:
        self.config = config
        self._built: _Built | None = None
        self._lock = threading.Lock()

    @property
    def settle_ms(self) -> int:
        return self.config.max_gap_cap_s * 1000

    def model(self, view: RegistryView) -> GrazingModel:
        return self._for(view).model

    def _for(self, view: RegistryView) -> _Built:
        key = view.model_key
        with self._lock:
            if self._built is None or self._built.key != key:
                # What the model is built from changed: start the accounts again rather
                # than mix two models' totals.
                model = GrazingModel(
                    view.grazing_pastures, view.grazing_herds, view.stations, self.config
                )
                self._built = _Built(key, model, SeasonLedger(model))
            return self._built

    def fetch_from_ms(self, view: RegistryView, now_ms: int) -> int:
        """`season()` at `now_ms` needs the fixes from this time to `now_ms`."""
        built = self._for(view)
        with self._lock:
            return built.ledger.fetch_from_ms(max(now_ms - self.settle_ms, 0))

    def season(
        self,
        view: RegistryView,
        fixes: Mapping[str, Sequence[PositionReading]],
        now_ms: int,
        *,
        soil: Mapping[str, Sequence[SoilReading]] | None = None,
    ) -> GrazingResult:
        """Every pasture from its season start to `now_ms` (utilisation is U_p)."""
        built = self._for(view)
        intervals = view.expected_interval_s
        commit_to = now_ms - self.settle_ms
        with self._lock:
            through = min((a.through_ms for a in built.ledger.accounts.values()), default=None)
            if through is None or commit_to > through:
                built.ledger.advance(fixes, commit_to, soil=soil, expected_interval_s=intervals)
            accounts = built.ledger.accounts
        if min((a.through_ms for a in accounts.values()), default=commit_to) > now_ms:
            # Asked about a time before what is committed (a clock step back): from scratch.
            return built.model.evaluate_season(
                fixes, now_ms, soil=soil, expected_interval_s=intervals
            )
        return SeasonLedger(built.model, accounts).advance(
            fixes, now_ms, soil=soil, expected_interval_s=intervals
        )

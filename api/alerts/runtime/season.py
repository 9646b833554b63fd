"""Every pasture's season figures, kept current without reading a season of fixes each time.

A `SeasonLedger` is committed through `now − settle` (the longest a fix can hold, 2 h), and
each call adds the recent window [committed, now) on a throw-away copy. GP is additive over
adjacent windows, so this equals one evaluation from the season start. The first call after a
start, or after the registry changed what the model is built from, reads once from the season
start. Thread-safe: the API's requests share one.

Fixes stored late (a collar emptying its flash queue after a day out of coverage, the ingest
replaying its spool after a long store outage) would land in windows already committed. The
caller therefore passes the store's newest reading time per device (`last_seen`) to
`fetch_from_ms`: a herd collar whose newest reading was older than the committed time and has
moved on may have filled anything after its old newest reading, so the ledger rewinds to the
latest checkpoint (one per hour of committed time) at or before it and counts again from there
with the fixes fetched from that time. The devices send their queue oldest first, so a replay
always moves `last_seen`; a reading stored more than `settle` behind its own device's newest
one is the case this cannot see (any window can still be recomputed from the stored fixes).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from api.alerts.runtime.registry_view import RegistryView
from api.grazing import GrazingConfig, GrazingModel, SeasonAccount, SeasonLedger
from api.grazing.results import GrazingResult
from jaylym.models import PositionReading, SoilReading

log = structlog.get_logger("jaylym.grazing.season")

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


class FixesTooShort(Exception):
    """The fixes given to `season()` start later than the ledger needs: another caller
    made it count again from earlier meanwhile. Fetch from `needed_from_ms` and call again."""

    def __init__(self, needed_from_ms: int) -> None:
        super().__init__(f"fixes needed from {needed_from_ms}")
        self.needed_from_ms = needed_from_ms


@dataclass
class _Built:
    key: str
    model: GrazingModel
    ledger: SeasonLedger
    # (committed through, the accounts then): where a late replay rewinds to
    checkpoints: list[tuple[int, dict[str, SeasonAccount]]] = field(default_factory=list)
    seen: dict[str, int] | None = None  # herd collars' newest reading at the previous call


class SeasonTotals:
    def __init__(
        self,
        config: GrazingConfig,
        *,
        checkpoint_every_ms: int = HOUR_MS,
        # A collar's flash queue holds weeks at its usual interval; a replay older than the
        # oldest checkpoint recounts from the season start, as after a restart.
        max_rewind_ms: int = 35 * DAY_MS,
    ) -> None:
        self.config = config
        self.checkpoint_every_ms = checkpoint_every_ms
        self.max_rewind_ms = max_rewind_ms
        self.rewinds = 0  # how often late fixes made the ledger count again (for tests, logs)
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

    def fetch_from_ms(
        self, view: RegistryView, now_ms: int, last_seen: Mapping[str, int] | None = None
    ) -> int:
        """`season()` at `now_ms` needs the fixes from this time to `now_ms`. With the
        store's `last_seen`, fixes stored late into committed windows are counted again."""
        built = self._for(view)
        with self._lock:
            if last_seen is not None:
                self._rewind_for_late_fixes(built, view, last_seen)
            return built.ledger.fetch_from_ms(max(now_ms - self.settle_ms, 0))

    def _rewind_for_late_fixes(
        self, built: _Built, view: RegistryView, last_seen: Mapping[str, int]
    ) -> None:
        collars = {c for h in view.grazing_herds for c in h.collar_ids}
        seen = {d: ts for d, ts in last_seen.items() if d in collars}
        before, built.seen = built.seen, seen
        accounts = built.ledger.accounts
        if before is None or not accounts:
            return  # nothing committed yet: the next fetch starts at the season start
        through = min(a.through_ms for a in accounts.values())
        # A device new since the previous call may have sent a queue from any time.
        moved = [before.get(d, -1) for d, ts in seen.items() if ts > before.get(d, -1)]
        late_from = min(moved, default=through)
        if late_from >= through:
            return
        kept = [cp for cp in built.checkpoints if cp[0] <= late_from]
        built.checkpoints = kept
        built.ledger = SeasonLedger(built.model, kept[-1][1] if kept else None)
        self.rewinds += 1
        log.info(
            "season_totals.rewind",
            late_from_ms=late_from,
            recount_from_ms=kept[-1][0] if kept else None,  # None: from the season start
            committed_ms=through,
        )

    def season(
        self,
        view: RegistryView,
        fixes: Mapping[str, Sequence[PositionReading]],
        now_ms: int,
        *,
        soil: Mapping[str, Sequence[SoilReading]] | None = None,
        fixes_from_ms: int | None = None,
    ) -> GrazingResult:
        """Every pasture from its season start to `now_ms` (utilisation is U_p).

        `fixes_from_ms`: where the caller's fetch started. Callers sharing this object across
        threads pass it, so that fixes fetched before another caller's rewind are refused
        (`FixesTooShort`) instead of being committed as if they were complete."""
        built = self._for(view)
        intervals = view.expected_interval_s
        commit_to = now_ms - self.settle_ms
        with self._lock:
            if fixes_from_ms is not None:
                needed = built.ledger.fetch_from_ms(max(commit_to, 0))
                if fixes_from_ms > needed:
                    raise FixesTooShort(needed)
            through = min((a.through_ms for a in built.ledger.accounts.values()), default=None)
            if through is None or commit_to > through:
                built.ledger.advance(fixes, commit_to, soil=soil, expected_interval_s=intervals)
                self._checkpoint(built, commit_to)
            accounts = built.ledger.accounts
        if min((a.through_ms for a in accounts.values()), default=commit_to) > now_ms:
            # Asked about a time before what is committed (a clock step back): from scratch.
            return built.model.evaluate_season(
                fixes, now_ms, soil=soil, expected_interval_s=intervals
            )
        return SeasonLedger(built.model, accounts).advance(
            fixes, now_ms, soil=soil, expected_interval_s=intervals
        )

    def _checkpoint(self, built: _Built, through_ms: int) -> None:
        cps = built.checkpoints
        if not cps or through_ms - cps[-1][0] >= self.checkpoint_every_ms:
            cps.append((through_ms, built.ledger.accounts))
            horizon = through_ms - self.max_rewind_ms
            while len(cps) > 1 and cps[0][0] < horizon:
                cps.pop(0)

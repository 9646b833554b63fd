"""One evaluation: the snapshot, the configuration, and what rules share (tracks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from api.alerts.engine.config import EngineConfig
from api.alerts.engine.inputs import Snapshot
from api.alerts.engine.tracks import Tracks, build_tracks


@dataclass
class Evaluation:
    snapshot: Snapshot
    config: EngineConfig = field(default_factory=EngineConfig)

    @property
    def now_ms(self) -> int:
        return self.snapshot.now_ms

    @cached_property
    def tracks(self) -> Tracks:
        """Computed on first use, once, for every rule that reads fixes."""
        return build_tracks(self.snapshot, self.config.fixes)

"""The alert engine loop and the delivery worker as one unit with a bounded start and stop.

`jaylym serve` starts it in the FastAPI lifespan; `jaylym alerts` runs it alone until SIGINT
or SIGTERM. Both read and write the registry database (alerts, their audit trail and the
delivery log are migrated tables of it) and the configured time-series store.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import structlog
from sqlalchemy import Engine

from api.alerts.delivery import Deliverer
from api.alerts.engine import AlertEngine, EngineConfig, LoopThread
from api.alerts.engine.loop import Clock
from api.alerts.engine.sql_repository import SqlAlchemyRepository
from api.alerts.runtime.registry_view import RegistryView
from api.alerts.runtime.sink import DeliverySink
from api.alerts.runtime.snapshot import RegistrySnapshotSource
from api.alerts.setup import build_deliverer
from api.grazing import GrazingConfig
from jaylym.registry.db import session_factory
from jaylym.settings import Settings
from jaylym.store.base import TimeSeriesStore

log = structlog.get_logger("jaylym.alerts.service")


def engine_config(settings: Settings, grazing: GrazingConfig) -> EngineConfig:
    """The engine's thresholds; when a fix holds is the grazing model's (one source of truth)
    unless JAYLYM_ALERT_RULES sets it explicitly."""
    config = EngineConfig.from_settings(settings)
    explicit = json.loads(settings.alert_rules or "{}").get("fixes", {})
    update = {
        k: v
        for k, v in {
            "max_gap_intervals": grazing.max_gap_intervals,
            "max_gap_cap_s": grazing.max_gap_cap_s,
        }.items()
        if k not in explicit
    }
    return config.model_copy(update={"fixes": config.fixes.model_copy(update=update)})


@dataclass
class AlertService:
    engine: AlertEngine
    source: RegistrySnapshotSource
    deliverer: Deliverer
    clock: Clock | None = None
    interval_s: float | None = None
    delivery_poll_s: float = 1.0

    def __post_init__(self) -> None:
        self._loop: LoopThread | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        db_engine: Engine,
        store: TimeSeriesStore,
        *,
        clock: Clock | None = None,
    ) -> AlertService:
        grazing = settings.grazing()
        delivery = settings.alerts_delivery()
        deliverer = build_deliverer(
            delivery, db_engine if delivery.db_url == settings.registry_url else None
        )
        source = RegistrySnapshotSource(
            session_factory(db_engine),
            store,
            grazing,
            timezone=settings.alerts_timezone,
            name_language=settings.alerts_default_language,
        )
        sink = DeliverySink(deliverer, lambda: _current_view(source))
        engine = AlertEngine(
            SqlAlchemyRepository(db_engine), sink, engine_config(settings, grazing)
        )
        return cls(engine, source, deliverer, clock=clock)

    def source_clock_ms(self) -> int:
        from api.alerts.engine import SystemClock

        return (self.clock or SystemClock()).now_ms()

    def start(self) -> None:
        self._stop.clear()
        self._worker = threading.Thread(
            target=self.deliverer.run,
            args=(self._stop,),
            kwargs={"poll_s": self.delivery_poll_s},
            name="jaylym-delivery",
            daemon=True,
        )
        self._worker.start()
        self._loop = LoopThread(
            self.engine, self.source, clock=self.clock, interval_s=self.interval_s
        )
        self._loop.start()
        log.info("alerts.started")

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop the loop and the worker, waiting at most `timeout_s` in all; True if both
        stopped. A send in flight finishes or is settled by `recover()` at the next start."""
        import time

        deadline = time.monotonic() + timeout_s
        stopped = True
        if self._loop is not None:
            stopped = self._loop.stop(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        if self._worker is not None:
            self._worker.join(max(0.0, deadline - time.monotonic()))
            stopped = stopped and not self._worker.is_alive()
        if stopped:
            self.deliverer.close()
        log.info("alerts.stopped", clean=stopped)
        return stopped


def _current_view(source: RegistrySnapshotSource) -> RegistryView:
    # The sink runs right after the source within one evaluation, so its view is current;
    # an acknowledgement through the API dispatches on its own, so read afresh then.
    return source.view if source.view is not None else source.load_view()

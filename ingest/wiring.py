"""The ingest assembled from the settings: time-series store, registry directory, ledger."""

from __future__ import annotations

from ingest.ledger_sql import SqlLedger
from ingest.service import IngestService
from jaylym.registry.db import make_engine
from jaylym.registry.directory import SqlDeviceDirectory
from jaylym.settings import Settings
from jaylym.store import open_store


def build_service(settings: Settings, client_id: str | None = None) -> IngestService:
    cfg = settings.ingest()
    if client_id:
        cfg = cfg.model_copy(update={"client_id": client_id})
    engine = make_engine(settings.registry_url)
    return IngestService(
        cfg, settings.mqtt(), open_store(settings), SqlDeviceDirectory(engine), SqlLedger(engine)
    )

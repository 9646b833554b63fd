"""`jaylym ingest` (what docker-compose runs) assembles against the registry's devices."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from ingest.wiring import build_service
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.registry.models import Device, Okrug
from jaylym.settings import Settings


def test_build_service_reads_devices_from_the_registry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        session.add(Okrug(id="sogety", name_kk="Сөгеті", name_ru="Согеты", name_en="Sogety"))
        session.flush()  # the okrug first: the device refers to it
        session.add(Device(id="c-001", kind="collar", okrug_id="sogety", expected_interval_s=600))
        session.commit()
    engine.dispose()
    settings = Settings(
        data_dir=tmp_path, database_url=url, tsdb="sqlite", ingest_metrics_port=0,
        ingest_client_id="ingest-1",
    )  # fmt: skip
    service = build_service(settings, client_id="ingest-2")
    try:
        assert service.cfg.client_id == "ingest-2"
        found = service.consumer.directory.lookup("c-001")
        assert found is not None
        assert (found.kind, found.okrug, found.expected_interval_s) == ("collar", "sogety", 600)
        assert service.consumer.directory.lookup("c-404") is None
    finally:
        service.spool.close()

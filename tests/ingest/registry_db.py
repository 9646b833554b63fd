"""A real registry database (the registry's own migrations) with devices registered in it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ingest.dedup import DeviceCounts
from jaylym.models import DeviceInfo
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.registry.models import Device, DeviceStats, Okrug


def make_registry(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def provision(url: str, devices: Iterable[DeviceInfo]) -> None:
    """Migrate the database at `url` and register the devices (and their okrugs)."""
    engine = make_registry(url)
    with Session(engine) as session:
        devices = list(devices)
        for okrug in sorted({d.okrug for d in devices}):
            if session.get(Okrug, okrug) is None:
                session.add(Okrug(id=okrug, name_kk=okrug, name_ru=okrug, name_en=okrug))
        session.flush()
        for d in devices:
            device = Device(
                id=d.device_id,
                kind=d.kind,
                okrug_id=d.okrug,
                active=d.active,
                dev_eui=d.dev_eui,
                expected_interval_s=d.expected_interval_s,
            )
            session.add(device)
        session.commit()
    engine.dispose()


def read_stats(url: str) -> dict[str, DeviceCounts]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.scalars(select(DeviceStats)).all()
        out = {r.device_id: DeviceCounts(r.received, r.missing, r.duplicates, r.last_seq)
               for r in rows}  # fmt: skip
    engine.dispose()
    return out

"""An API over a real registry (SQLite and PostgreSQL), seeded with two okrugs so every
role has things it may and may not see, and one token per role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session

from api.alerts.engine.tables import alerts as alerts_table
from api.core.config import ApiConfig
from api.main import create_app
from jaylym.models import PositionReading, Reading, SoilReading
from jaylym.registry.broker import BrokerAccounts, PasswordFileAccounts
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.registry.models import (
    ApiToken,
    Device,
    DlqMessage,
    GrazingPlanEntry,
    Herd,
    Herder,
    Okrug,
    Pasture,
)
from jaylym.registry.tokens import display_prefix, hash_token, new_token
from jaylym.store.base import StoreUnavailable, TimeSeriesStore
from jaylym.store.sqlite import SqliteStore

PEPPER = "test-pepper-0123456789abcdef"
LU = {"cattle": 1.0, "horse": 1.25, "sheep": 0.2, "goat": 0.15, "camel": 1.25}


def square(lon: float, lat: float, d: float = 0.01) -> dict[str, object]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass
class World:
    """Ids of the seeded objects. `a` objects are in okrug `sogety`, `b` in `tau`."""

    tokens: dict[str, str] = field(default_factory=dict)
    herder_a: int = 0
    herder_b: int = 0
    plan_a: int = 0
    plan_b: int = 0
    token_b: int = 0


def seed(session: Session) -> World:
    w = World()
    session.add_all(
        [
            Okrug(id="sogety", name_kk="Сөгеті", name_ru="Согеты", name_en="Sogety"),
            Okrug(id="tau", name_kk="Тау", name_ru="Тау", name_en="Tau"),
        ]
    )
    session.flush()
    ha = Herder(okrug_id="sogety", name="Serik", phone="+77011234567", channels=["sms"])
    hb = Herder(okrug_id="tau", name="Aigul", phone="+77017654321", language="ru")
    session.add_all([ha, hb])
    session.flush()
    w.herder_a, w.herder_b = ha.id, hb.id
    session.add_all(
        [
            Herd(id="herd-a", okrug_id="sogety", herder_id=ha.id, name="A", sheep=200, horse=4),
            Herd(id="herd-b", okrug_id="tau", herder_id=hb.id, name="B", cattle=30),
            Pasture(
                id="past-a",
                okrug_id="sogety",
                name="A",
                geometry=square(77.3, 43.55),
                area_ha=90.0,
                season="summer",
            ),
            Pasture(
                id="past-b",
                okrug_id="tau",
                name="B",
                geometry=square(77.5, 43.6),
                area_ha=90.0,
                season="summer",
            ),
        ]
    )
    session.flush()
    pa = GrazingPlanEntry(
        pasture_id="past-a",
        herd_id="herd-a",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 8, 1),
    )
    pb = GrazingPlanEntry(
        pasture_id="past-b",
        herd_id="herd-b",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 8, 1),
    )
    session.add_all(
        [
            pa,
            pb,
            Device(id="collar-a", kind="collar", okrug_id="sogety", herd_id="herd-a"),
            Device(
                id="soil-a",
                kind="soil",
                okrug_id="sogety",
                lat=43.56,
                lon=77.31,
                depths_cm=[10, 30],
            ),
            Device(id="collar-b", kind="collar", okrug_id="tau", herd_id="herd-b"),
            Device(id="soil-b", kind="soil", okrug_id="tau", depths_cm=[10]),
        ]
    )
    session.flush()
    w.plan_a, w.plan_b = pa.id, pb.id
    session.add(
        DlqMessage(
            topic="pasture/v1/tau/gps/collar-b/up",
            reason="bad_json",
            detail="Expecting value",
            payload=b"\xff{oops",
            payload_size=7,
        )
    )
    scopes: dict[str, tuple[str, list[str] | None, int | None]] = {
        "admin": ("admin", None, None),
        "coordinator": ("coordinator", ["sogety"], None),
        "viewer": ("viewer", ["sogety"], None),  # a read-only coordinator (Grafana's)
        "district": ("coordinator", None, None),
        "herder": ("herder", None, ha.id),
        "herder-b": ("herder", None, hb.id),
    }
    for name, (role, okrugs, herder_id) in scopes.items():
        token = new_token()
        row = ApiToken(
            name=name,
            token_hash=hash_token(token, PEPPER),
            prefix=display_prefix(token),
            role=role,
            okrugs=okrugs,
            herder_id=herder_id,
        )
        session.add(row)
        session.flush()
        w.tokens[name] = token
        if name == "herder-b":
            w.token_b = row.id
    session.execute(
        insert(alerts_table),
        [
            _alert_row("alert-a", "sogety", "herd-a", "past-a"),
            _alert_row("alert-b", "tau", "herd-b", "past-b"),
        ],
    )
    session.commit()
    return w


def _alert_row(alert_id: str, okrug: str, herd: str, pasture: str) -> dict[str, object]:
    """An open off-plan alert of one herd in one pasture, as the engine would write it."""
    return {
        "id": alert_id,
        "rule": "off_plan",
        "subject": f"herd:{herd}/pasture:{pasture}",
        "subject_kind": "herd-in-pasture",
        "okrug": okrug,
        "pasture_id": pasture,
        "herd_id": herd,
        "device_id": None,
        "state": "open",
        "severity": "warning",
        "value": 45.0,
        "unit": "min",
        "context": {"pasture_name": pasture, "reason": "resting"},
        "opened_ms": 1781254800000,
        "updated_ms": 1781254800000,
        "last_notified_ms": 1781254800000,
        "seq": 1,
        "version": 1,
    }


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    world: World
    broker_file: Path

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.tokens[role]}"}


def _no_store() -> TimeSeriesStore:
    raise StoreUnavailable("no store in this test")


def make_api(
    url: str,
    tmp_path: Path,
    *,
    store: TimeSeriesStore | None = None,
    broker: BrokerAccounts | None = None,
    auth_fail_limit: int = 50,
) -> Api:
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        world = seed(session)
    engine.dispose()
    passwd = tmp_path / "passwd"
    config = ApiConfig(
        database_url=url,
        token_pepper=PEPPER,  # type: ignore[arg-type]
        livestock_units=LU,
        auth_fail_limit=auth_fail_limit,
    )
    app = create_app(
        config, store=store, store_factory=_no_store, broker=broker or PasswordFileAccounts(passwd)
    )
    return Api(app=app, client=TestClient(app), world=world, broker_file=passwd)


NOW_MS = int(time.time() * 1000)


def seed_readings(store: TimeSeriesStore) -> None:
    """An hour of collar fixes (the newest of collar-a flagged) and soil samples."""
    readings: list[Reading] = []
    for i in range(6):
        ts = NOW_MS - 3_600_000 + i * 600_000
        for dev, herd, lon in (("collar-a", "herd-a", 77.31), ("collar-b", "herd-b", 77.51)):
            readings.append(
                PositionReading(
                    device_id=dev,
                    ts_ms=ts,
                    seq=i,
                    lat=43.555 + i * 1e-3,
                    lon=lon,
                    okrug="x",
                    herd_id=herd,
                    hdop=1.0,
                    sats=9,
                )
            )
        for dev in ("soil-a", "soil-b"):
            for depth in (10, 30):
                readings.append(
                    SoilReading(
                        device_id=dev,
                        ts_ms=ts,
                        seq=i,
                        depth_cm=depth,
                        vwc=20.0 + i,
                        okrug="x",
                        tsoil=12.0,
                    )
                )
    readings.append(
        PositionReading(
            device_id="collar-a",
            ts_ms=NOW_MS - 60_000,
            seq=7,
            lat=0.0,
            lon=0.0,
            okrug="sogety",
            herd_id="herd-a",
            flags=frozenset({"zero_fix"}),
        )
    )
    store.write(readings)


@pytest.fixture
def api(registry_url: str, tmp_path: Path) -> Iterator[Api]:
    """The API on SQLite and on PostgreSQL, with a real (SQLite) time-series store."""
    store = SqliteStore(tmp_path / "tsdb.sqlite3")
    seed_readings(store)
    built = make_api(registry_url, tmp_path, store=store)
    yield built
    built.client.close()
    built.app.state.engine.dispose()
    store.close()


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    """The API on SQLite only, for tests about HTTP behaviour rather than the database."""
    store = SqliteStore(tmp_path / "tsdb.sqlite3")
    seed_readings(store)
    built = make_api(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, store=store)
    yield built
    built.client.close()
    built.app.state.engine.dispose()
    store.close()

"""A registry seeded with `world`, a SQLite time-series store, local HTTP receivers for SMS,
Telegram and webhooks, and the settings that point delivery at them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.core.config import ApiConfig
from api.grazing import GrazingConfig
from api.main import create_app
from jaylym.registry.broker import PasswordFileAccounts
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.settings import Settings
from jaylym.store.sqlite import SqliteStore
from tests.api.alerts.runtime.world import PEPPER, World, seed
from tests.recording_http import Recorder, Reply, recording_server

LU = {"cattle": 1.0, "horse": 1.25, "sheep": 0.2, "goat": 0.15, "camel": 1.25}

# One receiver answers like each provider: Mobizon (code 0), Telegram (ok + result), webhook.
PROVIDER_OK = {"code": 0, "data": {"messageId": "m-1"}, "ok": True, "result": {"message_id": 7}}


@dataclass
class Wired:
    url: str
    db: Engine
    store: SqliteStore
    world: World
    receiver: Recorder
    settings: Settings
    tmp: Path

    def app(self, *, grazing: GrazingConfig | None = None, alerts: bool = False) -> TestClient:
        config = ApiConfig(database_url=self.url, token_pepper=PEPPER, livestock_units=LU)  # type: ignore[arg-type]
        app = create_app(
            config,
            store=self.store,
            broker=PasswordFileAccounts(self.tmp / "passwd"),
            grazing=grazing,
            alert_settings=self.settings if alerts else None,
        )
        return TestClient(app)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.tokens[who]}"}


def settings_for(url: str, receiver: Recorder, tmp: Path, **extra: object) -> Settings:
    return Settings(
        database_url=url,
        data_dir=tmp,
        sms_gateway="mobizon",
        sms_base_url=receiver.url,
        sms_api_key="kz-key",  # type: ignore[arg-type]
        telegram_bot_token="123:tg",  # type: ignore[arg-type]
        telegram_api_url=receiver.url,
        webhook_secret="hook-secret",  # type: ignore[arg-type]
        webhook_allow_http=True,
        delivery_timeout_s=5.0,
        alert_repeat_interval_s=3600,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def receiver() -> Iterator[Recorder]:
    with recording_server() as recorder:
        recorder.default = Reply(200, PROVIDER_OK)
        yield recorder


def _wired(url: str, tmp_path: Path, receiver: Recorder) -> Iterator[Wired]:
    db = make_engine(url)
    upgrade(db)
    with Session(db) as session:
        world = seed(session, f"{receiver.url}/hook/dana")
    store = SqliteStore(tmp_path / "tsdb.sqlite3")
    yield Wired(url, db, store, world, receiver, settings_for(url, receiver, tmp_path), tmp_path)
    store.close()
    db.dispose()


@pytest.fixture
def wired(registry_url: str, tmp_path: Path, receiver: Recorder) -> Iterator[Wired]:
    """On SQLite and on PostgreSQL."""
    yield from _wired(registry_url, tmp_path, receiver)


@pytest.fixture
def wired_sqlite(tmp_path: Path, receiver: Recorder) -> Iterator[Wired]:
    yield from _wired(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path, receiver)

"""`jaylym coordinator add|list` on a real SQLite registry: the coordinator it makes is an
alert recipient with the right channels and language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.alerts.recipients import Endpoint
from api.alerts.runtime.registry_view import load_view
from jaylym.cli import app
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.registry.models import Okrug
from jaylym.settings import get_settings

runner = CliRunner()


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("JAYLYM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JAYLYM_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        session.add(Okrug(id="sogety", name_kk="Сөгеті", name_ru="Согеты", name_en="Sogety"))
        session.commit()
    engine.dispose()
    yield url
    get_settings.cache_clear()


def test_a_coordinator_added_from_the_shell_receives_alerts(registry: str) -> None:
    args = ["coordinator", "add", "--name", "Dana", "--okrug", "sogety", "--language", "ru"]
    args += ["--telegram-chat-id", "555", "--channel", "telegram", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["okrugs"] == ["sogety"]
    engine = make_engine(registry)
    with Session(engine) as session:
        view = load_view(session, {})
    engine.dispose()
    (dana,) = view.people
    assert dana.id == f"coordinator-{made['id']}"
    assert dana.role == "coordinator"
    assert dana.language == "ru"
    assert dana.okrug_ids == {"sogety"}
    assert dana.endpoints == (Endpoint("telegram", "555"),)
    listed = runner.invoke(app, ["coordinator", "list"])
    assert "Dana\tsogety\tru\ttelegram" in listed.stdout


def test_bad_coordinator_input_is_refused(registry: str) -> None:
    no_chat = runner.invoke(app, ["coordinator", "add", "--name", "X", "--channel", "telegram"])
    assert no_chat.exit_code == 1
    assert "needs its address" in no_chat.output
    hidden = runner.invoke(app, ["coordinator", "add", "--name", "X", "--okrug", "nowhere"])
    assert hidden.exit_code == 1
    assert "unknown okrug 'nowhere'" in hidden.output

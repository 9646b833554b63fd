"""The registry's `jaylym` commands, end to end on a real SQLite registry: each prints JSON
with --json, validates like the API, and what it creates works through the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.core.config import ApiConfig
from api.main import create_app
from jaylym.cli import app
from jaylym.mqtt_passwd import read_entries, verify_password
from jaylym.registry.migrate import head_revision
from jaylym.settings import get_settings

runner = CliRunner()
PEPPER = "cli-test-pepper-0123456789"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("JAYLYM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JAYLYM_DATABASE_URL", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("JAYLYM_TOKEN_PEPPER", PEPPER)
    monkeypatch.setenv("JAYLYM_MQTT_PASSWD_FILE", str(tmp_path / "passwd"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # logs (stderr) may precede the JSON in `output`


def test_operator_sets_up_a_district_from_the_shell(env: Path) -> None:
    head = head_revision()
    assert run("db", "upgrade", "--json") == {"from": None, "to": head}
    assert run("db", "upgrade", "--json") == {"from": head, "to": head}
    okrug = run(
        "okrug",
        "add",
        "sogety",
        "--name-kk",
        "Сөгеті",
        "--name-ru",
        "Согеты",
        "--name-en",
        "Sogety",
        "--json",
    )
    assert okrug["name_kk"] == "Сөгеті"
    herd = run(
        "herd",
        "add",
        "flock-1",
        "--okrug",
        "sogety",
        "--name",
        "Flock",
        "--sheep",
        "100",
        "--horse",
        "4",
        "--json",
    )
    assert herd["livestock_units"] == pytest.approx(100 * 0.2 + 4 * 1.25)

    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "kok",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[77.3, 43.55], [77.31, 43.55], [77.31, 43.56], [77.3, 43.55]]],
                },
                "properties": {"okrug_id": "sogety", "name": "Kok", "season": "summer"},
            }
        ],
    }
    path = env / "pastures.geojson"
    path.write_text(json.dumps(fc))
    assert run("pasture", "import", str(path), "--json") == {"created": ["kok"], "updated": []}

    device = run(
        "device",
        "add",
        "collar-01",
        "--kind",
        "collar",
        "--okrug",
        "sogety",
        "--herd",
        "flock-1",
        "--json",
    )
    password = device["mqtt"]["password"]
    assert device["broker_registered"] is True
    assert verify_password(password, read_entries(env / "passwd")["collar-01"])
    listed = run("device", "list", "--json")
    assert [d["id"] for d in listed] == ["collar-01"]
    assert "password" not in json.dumps(listed)
    revoked = run("device", "revoke", "collar-01", "--json")
    assert revoked["active"] is False
    assert "collar-01" not in read_entries(env / "passwd")

    created = run(
        "admin",
        "token",
        "create",
        "--name",
        "coord",
        "--role",
        "coordinator",
        "--okrug",
        "sogety",
        "--json",
    )
    client = TestClient(create_app(ApiConfig.from_settings(get_settings())))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"})
    assert me.json()["okrugs"] == ["sogety"]
    herds = client.get("/api/v1/herds", headers={"Authorization": f"Bearer {created['token']}"})
    assert [h["id"] for h in herds.json()["items"]] == ["flock-1"]


def test_bad_input_is_one_clear_line_and_exit_1(env: Path) -> None:
    run("db", "upgrade", "--json")
    result = runner.invoke(app, ["device", "add", "Bad/Id", "--kind", "collar", "--okrug", "x"])
    assert result.exit_code == 1
    assert "id:" in result.output
    result = runner.invoke(app, ["herd", "add", "flock-1", "--okrug", "nowhere", "--name", "F"])
    assert result.exit_code == 1
    assert "unknown okrug 'nowhere'" in result.output
    bad = env / "bad.geojson"
    bad.write_text("{nope")
    result = runner.invoke(app, ["pasture", "import", str(bad)])
    assert result.exit_code == 1
    assert "not JSON" in result.output

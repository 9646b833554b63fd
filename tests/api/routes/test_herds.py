"""Herds: composition, livestock units from the configured coefficients."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.config import ApiConfig
from api.main import create_app
from jaylym.settings import Settings
from tests.api.conftest import Api


def test_livestock_units_follow_the_configured_coefficients(api: Api) -> None:
    body = {
        "id": "herd-n",
        "okrug_id": "sogety",
        "herder_id": api.world.herder_a,
        "name": "N",
        "composition": {"cattle": 10, "horse": 4, "sheep": 100, "goat": 20, "camel": 2},
    }
    r = api.client.post("/api/v1/herds", json=body, headers=api.as_("coordinator"))
    assert r.status_code == 201, r.text
    # 10*1.0 + 4*1.25 + 100*0.20 + 20*0.15 + 2*1.25 = 40.5
    assert r.json()["livestock_units"] == pytest.approx(40.5)
    r = api.client.patch(
        "/api/v1/herds/herd-n", json={"composition": {"sheep": 0}}, headers=api.as_("coordinator")
    )
    assert r.json()["composition"] == {"cattle": 10, "horse": 4, "sheep": 0, "goat": 20, "camel": 2}
    assert r.json()["livestock_units"] == pytest.approx(20.5)
    # The herder sees their new herd.
    mine = api.client.get("/api/v1/herds", headers=api.as_("herder")).json()["items"]
    assert {h["id"] for h in mine} == {"herd-a", "herd-n"}


def test_config_endpoint_shows_coefficients_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.api.conftest import PEPPER, make_api

    monkeypatch.setenv("JAYLYM_LU_SHEEP", "0.15")
    api = make_api(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", token_pepper=PEPPER)
    config = ApiConfig.from_settings(settings)
    client = TestClient(create_app(config))
    r = client.get("/api/v1/config/livestock-units", headers=api.as_("herder"))
    assert r.status_code == 200, r.text
    assert r.json() == {"cattle": 1.0, "horse": 1.25, "sheep": 0.15, "goat": 0.15, "camel": 1.25}


def test_defaults_are_nrcs_plus_camel() -> None:
    assert Settings().livestock_units() == {
        "cattle": 1.0,
        "horse": 1.25,
        "sheep": 0.20,
        "goat": 0.15,
        "camel": 1.25,
    }


def test_negative_head_counts_are_refused_with_paths(api: Api) -> None:
    body = {"id": "herd-m", "okrug_id": "sogety", "name": "M", "composition": {"goat": -1}}
    r = api.client.post("/api/v1/herds", json=body, headers=api.as_("admin"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.composition.goat"

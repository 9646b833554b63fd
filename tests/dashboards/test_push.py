"""`jaylym grafana push --url --token` against a real local HTTP server implementing the
Grafana API routes it calls: everything lands by uid in one folder, a second push changes
nothing and duplicates nothing, drift on the server is repaired."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from dashboards.common import API_UID, FOLDER_UID, INFLUX_UID
from jaylym.cli import app
from jaylym.settings import get_settings
from tests.dashboards.grafana_api import GrafanaApiServer

TOKEN = "glsa_test_service_account_token"
API_TOKEN = "jlm_read_only_coordinator"
ENV = {
    "JAYLYM_INFLUX_URL": "http://influxdb:8086",
    "JAYLYM_INFLUX_DB": "jaylym",
    "JAYLYM_GRAFANA_API_URL": "http://api:8000",
    "JAYLYM_GRAFANA_API_TOKEN": API_TOKEN,
}
DASHBOARD_UIDS = {
    "jaylym-district",
    "jaylym-pasture",
    "jaylym-herd",
    "jaylym-devices",
    "jaylym-alerts",
}

runner = CliRunner()


@pytest.fixture
def grafana() -> Iterator[GrafanaApiServer]:
    get_settings.cache_clear()
    with GrafanaApiServer(TOKEN) as server:
        yield server
    get_settings.cache_clear()


def _push(server: GrafanaApiServer, token: str = TOKEN, **env: str) -> Any:
    get_settings.cache_clear()
    result = runner.invoke(
        app,
        ["grafana", "push", "--url", server.url, "--token", token, "--json"],
        env={**ENV, **env},
    )
    return result


def test_first_push_creates_everything_in_one_folder(grafana: GrafanaApiServer) -> None:
    result = _push(grafana)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["grafana_version"] == "11.3.0"
    assert report["warnings"] == []
    assert set(report["created"]) == {
        f"folder/{FOLDER_UID}",
        f"datasource/{INFLUX_UID}",
        f"datasource/{API_UID}",
        *(f"dashboard/{uid}" for uid in DASHBOARD_UIDS),
    }
    state = grafana.state
    assert list(state.folders) == [FOLDER_UID]
    assert set(state.dashboards) == DASHBOARD_UIDS
    assert {d["meta"]["folderUid"] for d in state.dashboards.values()} == {FOLDER_UID}
    assert all(r.authorization == f"Bearer {TOKEN}" for r in state.requests)

    posted = {r.body["uid"]: r.body for r in state.requests if r.path == "/api/datasources"}
    assert posted[INFLUX_UID]["url"] == "http://influxdb:8086"
    assert posted[INFLUX_UID]["jsonData"]["dbName"] == "jaylym"
    assert posted[API_UID]["url"] == "http://api:8000"
    assert posted[API_UID]["secureJsonData"]["httpHeaderValue1"] == f"Bearer {API_TOKEN}"
    saved = [r.body for r in state.requests if r.path == "/api/dashboards/db"]
    assert all(body["dashboard"]["id"] is None and body["overwrite"] for body in saved)


def test_second_push_duplicates_nothing_and_rewrites_no_dashboard(
    grafana: GrafanaApiServer,
) -> None:
    assert _push(grafana).exit_code == 0
    before = len(grafana.state.requests)
    result = _push(grafana)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)

    second = grafana.state.requests[before:]
    creations = [r for r in second if r.method == "POST" and r.path != "/api/dashboards/db"]
    assert creations == []
    assert [r for r in second if r.path == "/api/dashboards/db"] == []
    # The API datasource carries a secret Grafana never returns, so it is re-sent in place.
    assert [(r.method, r.path) for r in second if r.method == "PUT"] == [
        ("PUT", f"/api/datasources/uid/{API_UID}")
    ]
    assert report["created"] == []
    assert len(grafana.state.folders) == 1
    assert len(grafana.state.datasources) == 2
    assert len(grafana.state.dashboards) == 5
    assert {d["dashboard"]["version"] for d in grafana.state.dashboards.values()} == {1}


def test_push_repairs_drift_by_uid(grafana: GrafanaApiServer) -> None:
    assert _push(grafana).exit_code == 0
    herd = grafana.state.dashboards["jaylym-herd"]
    herd["dashboard"]["title"] = "edited in the UI"
    grafana.state.dashboards["jaylym-alerts"]["meta"]["folderUid"] = ""  # moved to General

    report = json.loads(_push(grafana).output)

    assert set(report["updated"]) >= {"dashboard/jaylym-herd", "dashboard/jaylym-alerts"}
    assert grafana.state.dashboards["jaylym-herd"]["dashboard"]["title"] == "Jaylym / Herd"
    assert grafana.state.dashboards["jaylym-herd"]["dashboard"]["version"] == 2
    assert grafana.state.dashboards["jaylym-alerts"]["meta"]["folderUid"] == FOLDER_UID
    assert len(grafana.state.dashboards) == 5


def test_influx_1x_credentials_go_to_user_and_password(grafana: GrafanaApiServer) -> None:
    result = _push(grafana, JAYLYM_INFLUX_USERNAME="grafana", JAYLYM_INFLUX_PASSWORD="s3cret")
    assert result.exit_code == 0, result.output
    posted = next(r.body for r in grafana.state.requests if r.path == "/api/datasources")
    assert posted["uid"] == INFLUX_UID
    assert posted["user"] == "grafana"
    assert posted["secureJsonData"] == {"password": "s3cret"}
    assert "httpHeaderName1" not in posted["jsonData"]


def test_bad_token_fails_cleanly_without_writes(grafana: GrafanaApiServer) -> None:
    result = _push(grafana, token="wrong")
    assert result.exit_code == 1
    assert "Unauthorized" in result.output or "401" in result.output
    assert grafana.state.writes() == []


def test_push_without_url_is_a_usage_error() -> None:
    get_settings.cache_clear()
    result = runner.invoke(app, ["grafana", "push"], env={"JAYLYM_GRAFANA_URL": ""})
    get_settings.cache_clear()
    assert result.exit_code == 2


def test_push_warns_when_the_infinity_plugin_is_missing(grafana: GrafanaApiServer) -> None:
    grafana.state.plugins = []
    result = _push(grafana)
    assert result.exit_code == 0, result.output
    (warning,) = json.loads(result.output)["warnings"]
    assert "yesoreyeram-infinity-datasource is not installed" in warning
    assert len(grafana.state.dashboards) == 5  # pushed all the same


def test_plain_output_names_version_changes_and_warnings(grafana: GrafanaApiServer) -> None:
    grafana.state.plugins = []
    get_settings.cache_clear()
    result = runner.invoke(
        app, ["grafana", "push", "--url", grafana.url, "--token", TOKEN], env=ENV
    )
    assert result.exit_code == 0, result.output
    assert f"Grafana 11.3.0 at {grafana.url}" in result.output
    assert "created   dashboard/jaylym-district" in result.output
    assert "warning: plugin yesoreyeram-infinity-datasource is not installed" in result.output

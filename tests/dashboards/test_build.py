"""`jaylym grafana build`: the committed files are what the code generates, and the
provisioning YAML wires Grafana to the same datasource uids the dashboards use."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from dashboards import build
from dashboards.common import API_UID, FOLDER_UID, INFLUX_UID
from dashboards.provisioning import CONTAINER_DASHBOARDS
from jaylym.cli import app

runner = CliRunner()


def test_committed_files_are_current() -> None:
    stale = build.stale()
    assert not stale, f"stale generated files {stale}: run `jaylym grafana build` and commit"


def test_build_writes_then_check_passes_and_detects_edits(tmp_path: Path) -> None:
    first = runner.invoke(app, ["grafana", "build", "--out", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "7 file(s) written" in first.output
    assert sorted(p.name for p in (tmp_path / "dashboards").glob("*.json")) == [
        "alerts.json",
        "devices.json",
        "district.json",
        "herd.json",
        "pasture.json",
    ]
    assert (
        runner.invoke(app, ["grafana", "build", "--check", "--out", str(tmp_path)]).exit_code == 0
    )
    again = runner.invoke(app, ["grafana", "build", "--out", str(tmp_path)])
    assert "0 file(s) written, 7 unchanged" in again.output

    herd = tmp_path / "dashboards" / "herd.json"
    herd.write_text(herd.read_text().replace("Distance per day", "Distance"))
    (tmp_path / "provisioning" / "dashboards" / "jaylym.yaml").unlink()
    check = runner.invoke(app, ["grafana", "build", "--check", "--out", str(tmp_path)])
    assert check.exit_code == 1
    assert "stale: dashboards/herd.json" in check.output
    assert "stale: provisioning/dashboards/jaylym.yaml" in check.output


def test_datasource_provisioning_matches_the_dashboards() -> None:
    text = (build.DEPLOY / "provisioning" / "datasources" / "jaylym.yaml").read_text()
    sources = {s["uid"]: s for s in yaml.safe_load(text)["datasources"]}
    assert set(sources) == {INFLUX_UID, API_UID}
    influx = sources[INFLUX_UID]
    assert influx["type"] == "influxdb"
    assert influx["jsonData"]["version"] == "InfluxQL"
    assert influx["url"] == "${JAYLYM_INFLUX_URL}"
    api = sources[API_UID]
    assert api["type"] == "yesoreyeram-infinity-datasource"
    # The coordinator token comes from Grafana's environment, never from a committed file.
    assert api["secureJsonData"]["httpHeaderValue1"] == "Bearer ${JAYLYM_GRAFANA_API_TOKEN}"
    # Only in secureJsonData (encrypted by Grafana, never sent to browsers), and as a custom
    # header, which Grafana's datasource proxy (the geomap's GeoJSON layer) also applies.
    assert api["jsonData"]["httpHeaderName1"] == "Authorization"
    assert "Bearer" not in yaml.safe_dump({k: v for k, v in api.items() if k != "secureJsonData"})
    assert "viewer" in (build.DEPLOY / "provisioning" / "datasources" / "jaylym.yaml").read_text()
    assert api["url"] in api["jsonData"]["allowedHosts"]


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    text = (build.DEPLOY / "provisioning" / "dashboards" / "jaylym.yaml").read_text()
    (provider,) = yaml.safe_load(text)["providers"]
    assert provider["type"] == "file"
    assert provider["folderUid"] == FOLDER_UID
    assert provider["options"]["path"] == CONTAINER_DASHBOARDS
    assert provider["allowUiUpdates"] is False


def test_grafana_commands_are_listed() -> None:
    result = runner.invoke(app, ["grafana", "--help"])
    assert result.exit_code == 0
    assert "build" in result.output
    assert "push" in result.output


def test_provisioning_placeholders_are_jaylym_settings() -> None:
    """Grafana expands ${VAR} from its environment; compose passes the same JAYLYM_* values
    the services read, so every placeholder must be a real setting."""
    from jaylym.settings import Settings

    text = (build.DEPLOY / "provisioning" / "datasources" / "jaylym.yaml").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    placeholders = set(re.findall(r"\$\{(\w+)\}", body))
    assert placeholders == {
        "JAYLYM_INFLUX_URL",
        "JAYLYM_INFLUX_DB",
        "JAYLYM_INFLUX_TOKEN",
        "JAYLYM_GRAFANA_API_URL",
        "JAYLYM_GRAFANA_API_TOKEN",
    }
    fields = {f"JAYLYM_{name.upper()}" for name in Settings.model_fields}
    assert placeholders <= fields

"""Grafana provisioning: the two datasources and the dashboard provider.

The same datasource definitions serve file provisioning (with `${VAR}` placeholders Grafana
expands from its environment at start) and `jaylym grafana push` (with real values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards.common import API_UID, FOLDER_TITLE, FOLDER_UID, INFLUX_UID
from dashboards.queries import INFINITY_TYPE, INFLUX_TYPE

# Heads the datasources file: what the API token must be.
DATASOURCES_NOTE = (
    "# JAYLYM_GRAFANA_API_TOKEN must be a read-only coordinator token, made with\n"
    "# `jaylym admin token create --name grafana --role viewer` (docs/storage-dashboards.md).\n"
)

# Where the committed dashboards live inside the Grafana container (docker-compose mounts
# deploy/grafana/dashboards there).
CONTAINER_DASHBOARDS = "/var/lib/grafana/dashboards/jaylym"


@dataclass(frozen=True)
class DatasourceValues:
    """What the datasources point at. Defaults are Grafana environment placeholders."""

    influx_url: str = "${JAYLYM_INFLUX_URL}"
    influx_db: str = "${JAYLYM_INFLUX_DB}"
    influx_token: str | None = "${JAYLYM_INFLUX_TOKEN}"  # noqa: S105 (a placeholder)
    influx_username: str | None = None
    influx_password: str | None = None
    api_url: str = "${JAYLYM_GRAFANA_API_URL}"
    api_token: str | None = "${JAYLYM_GRAFANA_API_TOKEN}"  # noqa: S105 (a placeholder)


def influx_datasource(values: DatasourceValues) -> dict[str, Any]:
    """InfluxDB in InfluxQL mode over the v1-compatible API (1.8+, 2.x with DBRP, 3.x).

    Auth: on 2.x/3.x a token goes in `Authorization: Token …` (Grafana's documented way for
    InfluxQL there); on 1.x a username and password."""
    json_data: dict[str, Any] = {
        "version": "InfluxQL",
        "dbName": values.influx_db,
        "httpMode": "POST",
        "timeInterval": "1m",
    }
    secure: dict[str, Any] = {}
    source: dict[str, Any] = {
        "uid": INFLUX_UID,
        "name": "Jaylym InfluxDB",
        "type": INFLUX_TYPE,
        "access": "proxy",
        "url": values.influx_url,
        "database": values.influx_db,
        "isDefault": True,
        "editable": False,
    }
    if values.influx_token:
        json_data["httpHeaderName1"] = "Authorization"
        secure["httpHeaderValue1"] = f"Token {values.influx_token}"
    elif values.influx_username:
        source["user"] = values.influx_username
        secure["password"] = values.influx_password or ""
    source["jsonData"] = json_data
    if secure:
        source["secureJsonData"] = secure
    return source


def api_datasource(values: DatasourceValues) -> dict[str, Any]:
    """The Jaylym API through the Infinity plugin, authenticated as a read-only coordinator.

    The token is a custom header, not Infinity's own bearer setting, because Grafana's
    datasource proxy (which the geomap's GeoJSON layer goes through) applies custom headers."""
    json_data: dict[str, Any] = {
        "auth_method": "none",
        "allowedHosts": [values.api_url],
        "timeoutInSeconds": 30,
    }
    source: dict[str, Any] = {
        "uid": API_UID,
        "name": "Jaylym API",
        "type": INFINITY_TYPE,
        "access": "proxy",
        "url": values.api_url,
        "isDefault": False,
        "editable": False,
        "jsonData": json_data,
    }
    if values.api_token:
        json_data["httpHeaderName1"] = "Authorization"
        source["secureJsonData"] = {"httpHeaderValue1": f"Bearer {values.api_token}"}
    return source


def datasources(values: DatasourceValues | None = None) -> list[dict[str, Any]]:
    values = values or DatasourceValues()
    return [influx_datasource(values), api_datasource(values)]


def datasources_file() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "deleteDatasources": [],
        "datasources": datasources(),
    }


def dashboards_file() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "jaylym",
                "orgId": 1,
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": CONTAINER_DASHBOARDS, "foldersFromFilesStructure": False},
            }
        ],
    }

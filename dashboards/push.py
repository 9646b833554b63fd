"""Push the datasources and dashboards to a running Grafana (Grafana Cloud, a district server)
through grafana-client.

Idempotent: everything is addressed by its fixed uid, so a second push updates in place and
never duplicates. Objects already identical on the server are left alone, so repeated pushes
do not pile up dashboard versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from dashboards import build, provisioning
from dashboards.common import FOLDER_TITLE, FOLDER_UID
from dashboards.queries import INFINITY_TYPE

# Fields Grafana adds or owns on a stored dashboard, ignored when comparing.
_SERVER_OWNED = ("id", "version")


@dataclass
class PushReport:
    """What a push changed, by uid, and what the target Grafana lacks."""

    grafana_version: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "grafana_version": self.grafana_version,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "warnings": self.warnings,
        }


def _check_target(api: Any, report: PushReport) -> None:
    """Which Grafana this is, and whether the API datasource's plugin is installed."""
    info = api.health.check() or {}
    report.grafana_version = str(info.get("version", ""))
    plugins = {p.get("id") for p in api.plugin.list() or []}
    if INFINITY_TYPE not in plugins:
        report.warnings.append(
            f"plugin {INFINITY_TYPE} is not installed: the alert and pasture-map panels will "
            f"fail until it is (GF_INSTALL_PLUGINS={INFINITY_TYPE})"
        )


def _missing(exc: GrafanaClientError) -> bool:
    return getattr(exc, "status_code", None) == 404


def _ensure_folder(api: Any, report: PushReport) -> None:
    try:
        folder = api.folder.get_folder(FOLDER_UID)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        report.created.append(f"folder/{FOLDER_UID}")
        return
    if folder.get("title") != FOLDER_TITLE:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        report.updated.append(f"folder/{FOLDER_UID}")
    else:
        report.unchanged.append(f"folder/{FOLDER_UID}")


def _same_datasource(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    # Secrets are write-only in Grafana's API: a datasource carrying secrets is always re-sent.
    if wanted.get("secureJsonData"):
        return False
    return all(current.get(k) == v for k, v in wanted.items())


def _push_datasource(api: Any, wanted: dict[str, Any], report: PushReport) -> None:
    uid = wanted["uid"]
    try:
        current = api.datasource.get_datasource_by_uid(uid)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        api.datasource.create_datasource(wanted)
        report.created.append(f"datasource/{uid}")
        return
    if _same_datasource(current, wanted):
        report.unchanged.append(f"datasource/{uid}")
        return
    api.datasource.update_datasource_by_uid(uid, {**wanted, "id": current.get("id")})
    report.updated.append(f"datasource/{uid}")


def _strip(dashboard: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dashboard.items() if k not in _SERVER_OWNED}


def _push_dashboard(api: Any, wanted: dict[str, Any], report: PushReport) -> None:
    uid = wanted["uid"]
    try:
        current = api.dashboard.get_dashboard(uid)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        current = None
    if current is not None:
        same_folder = current.get("meta", {}).get("folderUid") == FOLDER_UID
        if same_folder and _strip(current.get("dashboard", {})) == _strip(wanted):
            report.unchanged.append(f"dashboard/{uid}")
            return
    api.dashboard.update_dashboard(
        {
            "dashboard": {**_strip(wanted), "id": None},
            "folderUid": FOLDER_UID,
            "overwrite": True,
            "message": "jaylym grafana push",
        }
    )
    (report.updated if current is not None else report.created).append(f"dashboard/{uid}")


def push(
    url: str,
    token: str,
    values: provisioning.DatasourceValues,
    *,
    timeout: float = 30.0,
) -> PushReport:
    """Create or update the folder, both datasources and every dashboard on `url`."""
    # grafana-client is untyped; its element APIs return decoded JSON.
    api: Any = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    report = PushReport()
    _check_target(api, report)
    _ensure_folder(api, report)
    for source in provisioning.datasources(values):
        # `editable` is a provisioning-file key; the HTTP API does not know it.
        _push_datasource(api, {k: v for k, v in source.items() if k != "editable"}, report)
    for board in build.boards().values():
        _push_dashboard(api, build.dashboard_json(board), report)
    return report

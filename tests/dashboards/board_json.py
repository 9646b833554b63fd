"""Reading the committed dashboard JSON the way Grafana does: panels, targets, variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dashboards.build import DEPLOY

DASHBOARD_DIR = DEPLOY / "dashboards"


def committed() -> dict[str, dict[str, Any]]:
    """Every committed dashboard by file stem."""
    return {
        path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every non-row panel, including those inside collapsed rows."""
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def influx_targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in panels(board):
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("type") == "influxdb":
                yield panel, target


def path_of(name: str) -> Path:
    return DASHBOARD_DIR / f"{name}.json"

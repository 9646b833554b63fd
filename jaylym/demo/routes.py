"""Read routes the demo page needs before the API serves them itself (the integration issue
mounts the grazing and alert endpoints in `jaylym serve`). The demo adds a route here only
when the app has none at that path, so once the API's own land these step aside.

Same paths, auth and scoping as the registry's routes: a token is required and objects outside
the caller's scope answer 404 or are left out.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Query

from api.core.problems import ProblemError
from api.deps import AccessDep
from jaylym.registry.models import Herd, Pasture

GRAZING_PATH = "/api/v1/pastures/{pasture_id}/grazing"
ALERTS_PATH = "/api/v1/alerts"


def _has_route(app: FastAPI, path: str) -> bool:
    return any(getattr(r, "path", None) == path for r in app.routes)


def mount(app: FastAPI, feed: Any, repository: Any, summary: Any) -> list[str]:
    """Add what is missing; returns the paths added. `feed`: the demo's SnapshotSource (its
    latest grazing results), `repository`: the alert repository, `summary(alert)`: one line
    of English for an alert."""
    router = APIRouter(tags=["demo"])
    added = []

    if not _has_route(app, GRAZING_PATH):

        @router.get(GRAZING_PATH, summary="Season grazing figures of a pasture (demo)")
        def grazing(pasture_id: str, access: AccessDep) -> dict[str, Any]:
            access.get(Pasture, pasture_id)  # 404 when unknown or out of scope
            result = feed.last_grazing.get(pasture_id)
            if result is None:
                raise ProblemError(503, "grazing not evaluated yet: retry in a few seconds")
            fields: dict[str, Any] = result.api_fields()
            return fields

        added.append(GRAZING_PATH)

    if not _has_route(app, ALERTS_PATH):

        @router.get(ALERTS_PATH, summary="Alerts, newest first (demo)")
        def alerts(
            access: AccessDep,
            state: str | None = Query(None, pattern="^(open|acknowledged|resolved)$"),
            limit: int = Query(100, ge=1, le=500),
        ) -> dict[str, Any]:
            from api.alerts.engine import AlertFilter, AlertState

            flt = AlertFilter(state=AlertState(state) if state else None, limit=limit)
            pastures = set(
                access.session.scalars(access.select(Pasture).with_only_columns(Pasture.id))
            )
            herds = set(access.session.scalars(access.select(Herd).with_only_columns(Herd.id)))
            items = []
            for a in sorted(repository.list_alerts(flt), key=lambda a: -a.updated_ms):
                s = a.subject
                present = set(a.context.get("herds_present") or [])
                if not (
                    (s.pasture_id and s.pasture_id in pastures)
                    or (s.herd_id and s.herd_id in herds)
                    or present & herds
                    or access.principal.role == "admin"
                ):
                    continue
                items.append(
                    {
                        "id": a.id,
                        "rule": a.rule,
                        "severity": str(a.severity),
                        "state": str(a.state),
                        "subject": {
                            "kind": str(s.kind),
                            "okrug": s.okrug,
                            "pasture_id": s.pasture_id,
                            "herd_id": s.herd_id,
                            "device_id": s.device_id,
                        },
                        "value": a.value,
                        "unit": a.unit,
                        "opened_ms": a.opened_ms,
                        "updated_ms": a.updated_ms,
                        "summary": summary(a),
                    }
                )
            return {"items": items, "next_cursor": None}

        added.append(ALERTS_PATH)

    if added:
        app.include_router(router)
    return added

"""Latest position of every visible collar, as GeoJSON."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request, Response
from sqlalchemy import select

from api.core.latest_fixes import Collar, LatestFixes
from api.core.problems import ProblemError, problem_responses
from api.deps import AccessDep, StoreDep
from api.routes._base import resource_router
from api.schemas.telemetry import PositionCollection
from jaylym.models import datetime_to_ms
from jaylym.registry.models import Device
from jaylym.store.base import StoreError

router = resource_router("positions")


@router.get(
    "/latest",
    summary="Latest valid fix of every visible collar",
    response_model=PositionCollection,
    responses=problem_responses(503),
)
def latest_positions(request: Request, access: AccessDep, store: StoreDep) -> Response:
    # The caller's collars, scoped in SQL on every request; only the fixes come from the
    # shared cache (api/core/latest_fixes.py), never a view made for another caller.
    columns = select(Device.id, Device.herd_id, Device.okrug_id).where(Device.kind == "collar")
    # Core rows (the session's connection, not the ORM's row loading: 2 000 rows per request)
    db = access.session.connection()
    rows = db.execute(columns.where(access.condition(Device)).order_by(Device.id))
    collars: list[Collar] = [(d, h, o) for d, h, o in rows]
    now_ms = datetime_to_ms(datetime.now(UTC))
    cache: LatestFixes = request.app.state.latest_fixes

    def every_collar() -> list[Collar]:  # unscoped: the cache serves every caller
        return [(d, h, o) for d, h, o in db.execute(columns)]

    try:
        view = cache.get(store, every_collar, now_ms) if collars else None
        body = view.geojson(store, collars, now_ms) if view else None
    except StoreError as exc:
        raise ProblemError(503, f"time-series store: {exc}") from exc
    except TimeoutError as exc:
        raise ProblemError(503, str(exc)) from exc
    return Response(
        body or b'{"type":"FeatureCollection","features":[]}', media_type="application/json"
    )

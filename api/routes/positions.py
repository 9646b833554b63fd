"""Latest position of every visible collar, as GeoJSON."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.core.latest_fixes import Collar, LatestFixes
from api.core.problems import ProblemError, problem_responses
from api.core.shared_bodies import NOT_MODIFIED, Body, SharedBodies, answer, scope_key
from api.deps import CurrentUser, StoreDep
from api.policy import Access
from api.routes._base import resource_router
from api.schemas.telemetry import PositionCollection
from jaylym.models import datetime_to_ms
from jaylym.registry.models import Device
from jaylym.store.base import StoreError, TimeSeriesStore

router = resource_router("positions")


@router.get(
    "/latest",
    summary="Latest valid fix of every visible collar",
    description="Shared answers: `age_s` is the fix's age when the answer was made, at most "
    "JAYLYM_API_SHARED_MAX_AGE_S before it is sent (the `Age` header says how long). Send "
    "`If-None-Match` with the last `ETag` to get a 304 while nothing changed.",
    response_model=PositionCollection,
    responses={**problem_responses(503), **NOT_MODIFIED},
)
async def latest_positions(request: Request, principal: CurrentUser, store: StoreDep) -> Response:
    # On the event loop: a stored body is answered from memory; building one (registry, store,
    # serialising) runs in the thread pool, once per scope at a time (shared_bodies.py).
    bodies: SharedBodies = request.app.state.shared_bodies
    cache: LatestFixes = request.app.state.latest_fixes
    sessions: sessionmaker[Session] = request.app.state.sessions
    # The caller's whole scope is the key: a body is only ever reused for the same scope.
    key = ("positions/latest", scope_key(principal))

    def build(generation: int) -> Body:
        # a session of its own: requests of the same scope may wait for this build
        with sessions() as session:
            view, content = _build(Access(principal, session), store, cache)
        return bodies.put(key, content, "application/json", view, generation)

    return await answer(request, bodies, key, cache.current(), build)


def _build(access: Access, store: TimeSeriesStore, cache: LatestFixes) -> tuple[object, bytes]:
    # The caller's collars, scoped in SQL; only the fixes come from the shared view
    # (api/core/latest_fixes.py), never a view made for another caller.
    columns = select(Device.id, Device.herd_id, Device.okrug_id).where(Device.kind == "collar")
    # Core rows (the session's connection, not the ORM's row loading: 2 000 rows per request)
    db = access.session.connection()
    rows = db.execute(columns.where(access.condition(Device)).order_by(Device.id))
    collars: list[Collar] = [(d, h, o) for d, h, o in rows]
    now_ms = datetime_to_ms(datetime.now(UTC))

    def every_collar() -> list[Collar]:  # unscoped: the cache serves every caller
        return [(d, h, o) for d, h, o in db.execute(columns)]

    try:
        view = cache.get(store, every_collar, now_ms) if collars else None
        content = view.geojson(store, collars, now_ms) if view else None
    except StoreError as exc:
        raise ProblemError(503, f"time-series store: {exc}") from exc
    except TimeoutError as exc:
        raise ProblemError(503, str(exc)) from exc
    return view, content or b'{"type":"FeatureCollection","features":[]}'

"""Grazing pressure per pasture, computed from the stored fixes (docs/grazing.md).

Mounted before the pastures router: `/pastures/grazing` must not be read as a pasture id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.alerts.runtime.registry_view import load_view
from api.alerts.runtime.season import FixesTooShort, SeasonTotals
from api.core.paging import CursorQuery, LimitQuery, Page
from api.core.params import SlugId
from api.core.problems import ProblemError, field_error, problem_responses
from api.core.shared_bodies import NOT_MODIFIED, Body, SharedBodies, answer, scope_key
from api.core.single_flight import SingleFlight
from api.deps import AccessDep, CurrentUser, StoreDep, authorize
from api.grazing import GrazingConfig, GrazingModel
from api.grazing.results import GrazingResult
from api.policy import Access
from api.routes._base import API, page
from api.schemas.grazing import GrazingFeature, GrazingFeatureCollection, PastureGrazingRead
from jaylym.models import datetime_to_ms
from jaylym.registry.models import Pasture
from jaylym.store.base import StoreError, TimeSeriesStore

router = APIRouter(
    prefix=f"{API}/pastures",
    tags=["grazing"],
    dependencies=[Depends(authorize("grazing"))],
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)

MAX_WINDOW = timedelta(days=400)  # a season and then some


def _model(
    access: AccessDep, config: GrazingConfig, pasture_ids: set[str]
) -> tuple[GrazingModel, dict[str, float]]:
    """The model over these pastures and every herd (any herd may walk into them)."""
    view = load_view(
        access.session, config.lu_coefficients, timezone=config.timezone, pasture_ids=pasture_ids
    )
    model = GrazingModel(view.grazing_pastures, view.grazing_herds, view.stations, config)
    return model, view.expected_interval_s


def _soil_ms(config: GrazingConfig) -> int:
    return round(config.moisture_window_days * 86_400_000)


def _evaluate(
    store: TimeSeriesStore,
    model: GrazingModel,
    intervals: dict[str, float],
    starts: dict[str, int],
    end_ms: int,
) -> GrazingResult:
    try:
        fixes = store.positions(min(starts.values()) - model.lookback_ms, end_ms)
        soil = store.soil_readings(end_ms - _soil_ms(model.config), end_ms)
    except StoreError as exc:
        raise ProblemError(503, f"time-series store: {exc}") from exc
    return model.evaluate_from(fixes, starts, end_ms, soil=soil, expected_interval_s=intervals)


@dataclass(frozen=True)
class SeasonFigures:
    """Every pasture's season figures, shared by the requests of the next few seconds
    (app.state.season_figures); each request keeps only the pastures its caller sees."""

    pasture_ids: frozenset[str]  # every pasture registered when computed
    items: dict[str, PastureGrazingRead]  # those the model could evaluate, in its order


def _season_figures(request: Request, access: AccessDep, store: TimeSeriesStore) -> SeasonFigures:
    """Season figures from the app's running totals: after the first call, each computation
    reads the fixes of the last hours only (see api/alerts/runtime/season.py)."""
    totals: SeasonTotals = request.app.state.season_totals
    config = totals.config
    registered = frozenset(access.session.scalars(select(Pasture.id)))  # unscoped: shared
    view = load_view(access.session, config.lu_coefficients, timezone=config.timezone)
    now_ms = datetime_to_ms(datetime.now(UTC))
    try:
        # The newest reading per device: a collar's late replay is counted again.
        start = totals.fetch_from_ms(view, now_ms, store.last_seen())
        soil = store.soil_readings(now_ms - _soil_ms(config), now_ms + 1)
        for _ in range(3):  # another request may rewind the totals in between: fetch again
            fixes = store.positions(start, now_ms + 1)
            try:
                result = totals.season(view, fixes, now_ms, soil=soil, fixes_from_ms=start)
                break
            except FixesTooShort as short:
                start = short.needed_from_ms
        else:
            raise ProblemError(503, "grazing totals kept changing: try again")
    except StoreError as exc:
        raise ProblemError(503, f"time-series store: {exc}") from exc
    items = {
        p.pasture_id: PastureGrazingRead.model_validate(p.api_fields()) for p in result.pastures
    }
    return SeasonFigures(registered, items)


def _season(
    request: Request, access: AccessDep, store: TimeSeriesStore, wanted: set[str]
) -> tuple[SeasonFigures, list[PastureGrazingRead]]:
    """The figures of the `wanted` pastures (already scoped by the caller's page query), from
    the shared computation; a pasture registered since it was made forces a new one."""
    shared: SingleFlight[SeasonFigures] = request.app.state.season_figures
    try:
        figures = shared.get(
            lambda: _season_figures(request, access, store),
            usable=lambda f: wanted <= f.pasture_ids,
        )
    except TimeoutError as exc:
        raise ProblemError(503, str(exc)) from exc
    return figures, [item for pid, item in figures.items.items() if pid in wanted]


def _read(result: GrazingResult) -> list[PastureGrazingRead]:
    return [PastureGrazingRead.model_validate(p.api_fields()) for p in result.pastures]


@router.get(
    "/grazing",
    summary="Grazing pressure of every visible pasture over its current season",
    description="Shared answers, at most JAYLYM_API_SHARED_MAX_AGE_S old (the `Age` header "
    "says how old). Send `If-None-Match` with the last `ETag` to get a 304 while nothing "
    "changed.",
    response_model=Page[PastureGrazingRead] | GrazingFeatureCollection,
    responses=NOT_MODIFIED,
)
async def all_grazing(
    request: Request,
    principal: CurrentUser,
    store: StoreDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: Literal["json", "geojson"] = Query(
        "json", description="`geojson`: a FeatureCollection for map layers."
    ),
) -> Response:
    # On the event loop: a stored body is answered from memory; building one (registry, store,
    # the model) runs in the thread pool, once per key at a time (shared_bodies.py).
    bodies: SharedBodies = request.app.state.shared_bodies
    shared: SingleFlight[SeasonFigures] = request.app.state.season_figures
    sessions: sessionmaker[Session] = request.app.state.sessions
    # The caller's whole scope and the request's parameters: same key, same bytes.
    key = ("pastures/grazing", scope_key(principal), limit, cursor, format)

    def build(generation: int) -> Body:
        # a session of its own: requests with the same key may wait for this build
        with sessions() as session:
            access = Access(principal, session)
            figures, answer = _all_grazing(request, access, store, limit, cursor, format)
        content = answer.model_dump_json(by_alias=True).encode()
        return bodies.put(key, content, "application/json", figures, generation)

    return await answer(request, bodies, key, shared.current(), build)


def _all_grazing(
    request: Request,
    access: AccessDep,
    store: TimeSeriesStore,
    limit: int,
    cursor: str | None,
    format: str,
) -> tuple[SeasonFigures | None, Page[PastureGrazingRead] | GrazingFeatureCollection]:
    rows, nxt = page(access.session, access.select(Pasture), Pasture.id, limit, cursor, str)
    figures: SeasonFigures | None = None
    items: list[PastureGrazingRead] = []
    if rows:
        figures, items = _season(request, access, store, {p.id for p in rows})
    if format == "json":
        return figures, Page(items=items, next_cursor=nxt)
    by_id = {g.pasture_id: g for g in items}
    features = [
        GrazingFeature(
            id=p.id,
            geometry=p.geometry,
            properties={"id": p.id, "name": p.name, "okrug": p.okrug_id, "status": p.status}
            | by_id[p.id].model_dump(exclude={"pasture_id"}),
        )
        for p in rows
        if p.id in by_id
    ]
    return figures, GrazingFeatureCollection(features=features, next_cursor=nxt)


@router.get(
    "/{pasture_id}/grazing",
    summary="Grazing pressure of a pasture over a window",
    description="`start` defaults to the start of the pasture's season, `end` to now. "
    "`utilisation` is the window's share of the season's capacity (U_p for the season).",
)
def pasture_grazing(
    pasture_id: SlugId,
    request: Request,
    access: AccessDep,
    store: StoreDep,
    start: datetime | None = Query(None, description="Default: the pasture's season start."),
    end: datetime | None = Query(None, description="Default: now."),
) -> PastureGrazingRead:
    pasture = access.get(Pasture, pasture_id)
    config: GrazingConfig = request.app.state.grazing
    model, intervals = _model(access, config, {pasture.id})
    if not model.pastures:
        raise ProblemError(422, f"pasture {pasture_id!r} has an unusable geometry")
    end = end or datetime.now(UTC)
    if (start is not None and start.tzinfo is None) or end.tzinfo is None:
        raise field_error("query.start", "give times with a UTC offset, e.g. 2026-06-01T00:00Z")
    end_ms = datetime_to_ms(end)
    start_ms = datetime_to_ms(start) if start else model.season_starts_ms(end_ms)[pasture.id]
    if end_ms <= start_ms:
        raise field_error("query.end", "end must be after start")
    if end_ms - start_ms > MAX_WINDOW.total_seconds() * 1000:
        raise field_error("query.start", f"at most {MAX_WINDOW.days} days per request")
    return _read(_evaluate(store, model, intervals, {pasture.id: start_ms}, end_ms))[0]

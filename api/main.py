"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

import jaylym
from api import web
from api.alerts.runtime.season import SeasonTotals
from api.core import problems
from api.core.bodylimit import BodyLimit
from api.core.config import ApiConfig
from api.core.latest_fixes import LatestFixes
from api.core.ratelimit import FailureLimiter
from api.core.registry_generation import RegistryGeneration
from api.core.shared_bodies import SharedBodies
from api.core.single_flight import SingleFlight
from api.core.textguard import refuse_nul
from api.core.token_cache import TokenCache
from api.grazing.config import GrazingConfig
from api.routes import (
    alerts,
    config,
    devices,
    dlq,
    grazing,
    health,
    herders,
    herds,
    me,
    okrugs,
    pastures,
    plans,
    positions,
    stations,
    tokens,
)
from jaylym.registry.broker import BrokerAccounts, broker_accounts
from jaylym.registry.db import make_engine, session_factory
from jaylym.settings import Settings
from jaylym.store.base import TimeSeriesStore

if TYPE_CHECKING:
    from api.alerts.runtime.service import AlertService

log = structlog.get_logger("jaylym.api")

ROUTERS = (
    health,
    me,
    config,
    okrugs,
    grazing,  # before pastures: /pastures/grazing is not a pasture id
    pastures,
    plans,
    herds,
    herders,
    devices,
    tokens,
    positions,
    stations,
    dlq,
    alerts,
)

# Examples for schemas that come from geojson-pydantic rather than from us.
_GEOJSON_EXAMPLES: dict[str, Any] = {
    "Polygon": {
        "type": "Polygon",
        "coordinates": [[[77.3, 43.55], [77.32, 43.55], [77.32, 43.565], [77.3, 43.55]]],
    },
    "MultiPolygon": {
        "type": "MultiPolygon",
        "coordinates": [[[[77.3, 43.55], [77.32, 43.55], [77.32, 43.565], [77.3, 43.55]]]],
    },
    "Point": {"type": "Point", "coordinates": [77.311, 43.557]},
    "Position2D": [77.311, 43.557],
    "Position3D": [77.311, 43.557, 1820.0],
    "LineString": {"type": "LineString", "coordinates": [[77.31, 43.556], [77.311, 43.557]]},
}


def default_store_factory() -> Callable[[], TimeSeriesStore]:
    """The configured store (JAYLYM_TSDB), opened on first use so the registry answers even
    when the store is down at start."""

    def factory() -> TimeSeriesStore:
        from jaylym.settings import get_settings
        from jaylym.store import open_store

        return open_store(get_settings())

    return factory


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    service = _start_alerts(app)
    yield
    if service is not None:
        service.stop(app.state.alerts_stop_timeout_s)
    store = app.state.store
    if store is not None and app.state.owns_store:
        store.close()
    app.state.engine.dispose()


def _start_alerts(app: FastAPI) -> AlertService | None:
    """The alert engine loop and delivery worker, when this process runs them."""
    settings: Settings | None = app.state.alert_settings
    if settings is None:
        return None
    from api.alerts.runtime.service import AlertService

    store = app.state.store
    if store is None:
        try:  # shared with the routes from now on (the lifespan closes it if it owns it)
            store = app.state.store = app.state.store_factory()
        except Exception:
            # The stores connect lazily, so this is a misconfiguration, not an outage.
            log.exception("alerts.not_started", reason="time-series store unavailable")
            return None
    service = AlertService.from_settings(settings, app.state.engine, store)
    service.start()
    return service


def create_app(
    config: ApiConfig | None = None,
    *,
    store: TimeSeriesStore | None = None,
    store_factory: Callable[[], TimeSeriesStore] | None = None,
    broker: BrokerAccounts | None = None,
    grazing: GrazingConfig | None = None,
    alert_settings: Settings | None = None,
) -> FastAPI:
    """Build the app with every router mounted. Arguments override what the settings name.

    The alert engine and delivery worker run in the app's lifespan when `alert_settings` is
    given, or, with no `config` either, when JAYLYM_ALERTS_IN_SERVE is on."""
    if config is None:
        from jaylym.settings import get_settings

        settings = get_settings()
        config = ApiConfig.from_settings(settings)
        grazing = grazing or settings.grazing()
        if alert_settings is None and settings.alerts_in_serve:
            alert_settings = settings
    app = FastAPI(
        lifespan=_lifespan,
        title="Jaylym API",
        version=jaylym.__version__,
        description="Pasture registry, grazing pressure and alerts for Unions of Pasture Users. "
        "Every route except /healthz needs `Authorization: Bearer <token>`; errors are RFC 9457 "
        "problem documents.",
        dependencies=[Depends(refuse_nul)],
    )
    engine = make_engine(config.database_url)
    app.state.config = config
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.store = store
    app.state.owns_store = store is None  # a store passed in belongs to the caller
    app.state.store_factory = (
        store_factory if store_factory is not None else default_store_factory()
    )
    app.state.broker = broker or broker_accounts(
        config.mqtt_passwd_file, config.mqtt_reload_pid_file
    )
    app.state.registry_generation = generation = RegistryGeneration(engine)
    app.state.token_cache = TokenCache(config.shared_max_age_s, lambda: generation.value)
    app.state.shared_bodies = SharedBodies(config.shared_max_age_s, lambda: generation.value)
    app.state.latest_fixes = LatestFixes(config.shared_max_age_s)
    app.state.season_figures = SingleFlight[object](config.shared_max_age_s)  # routes/grazing
    app.state.auth_limiter = FailureLimiter(config.auth_fail_limit, config.auth_fail_window_s)
    # One source of truth for LU coefficients: the registry's setting.
    app.state.grazing = grazing or GrazingConfig(lu_coefficients=dict(config.livestock_units))
    app.state.season_totals = SeasonTotals(app.state.grazing)
    app.state.alert_settings = alert_settings
    app.state.alerts_stop_timeout_s = 10.0
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    for module in ROUTERS:
        app.include_router(module.router)
    web.mount(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operations in schema["paths"].values():
            for operation in operations.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    # Errors are problem documents only (the `model=` also adds JSON).
                    if code >= "400" and problems.PROBLEM_MEDIA in content:
                        content.pop("application/json", None)
        for name, component in schema.get("components", {}).get("schemas", {}).items():
            if "examples" not in component and "example" not in component:
                for geo_name, ex in _GEOJSON_EXAMPLES.items():
                    if name == geo_name:
                        component["examples"] = [ex]
        app.openapi_schema = schema
    return app.openapi_schema

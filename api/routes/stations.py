"""Soil-station moisture series."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import Query

from api.core.params import SlugId
from api.core.problems import ProblemError, problem_responses
from api.deps import AccessDep, StoreDep
from api.routes._base import resource_router
from api.routes.devices import time_range
from api.schemas.telemetry import SoilPoint, SoilSeries
from jaylym.models import ms_to_datetime
from jaylym.registry.models import Device
from jaylym.store.base import StoreError

router = resource_router("stations")


@router.get(
    "/{station_id}/soil", summary="Soil moisture of a station", responses=problem_responses(503)
)
def soil(
    station_id: SlugId,
    access: AccessDep,
    store: StoreDep,
    start: datetime | None = Query(None, description="Default: 7 days before end."),
    end: datetime | None = Query(None, description="Default: now."),
    every: int | None = Query(
        None, ge=60, le=86_400 * 31, description="Mean per interval of valid readings, seconds."
    ),
) -> SoilSeries:
    device = access.get(Device, station_id)
    if device.kind != "soil":
        raise ProblemError(404, "station not found")
    start_ms, end_ms = time_range(start, end, timedelta(days=7), timedelta(days=400))
    if every is None and end_ms - start_ms > 31 * 86_400_000:
        raise ProblemError(422, "raw series are limited to 31 days; give `every`")
    try:
        samples = store.soil(device.id, start_ms, end_ms, every)
    except StoreError as exc:
        raise ProblemError(503, f"time-series store: {exc}") from exc
    return SoilSeries(
        device_id=device.id,
        start=ms_to_datetime(start_ms),
        end=ms_to_datetime(end_ms),
        every_s=every,
        samples=[
            SoilPoint(time=ms_to_datetime(s.ts_ms), depth_cm=s.depth_cm, vwc=s.vwc, tsoil=s.tsoil)
            for s in samples
        ],
    )

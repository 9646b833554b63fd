"""Latest position of every visible collar, as GeoJSON."""

from __future__ import annotations

from datetime import UTC, datetime

from api.core.problems import ProblemError, problem_responses
from api.deps import AccessDep, StoreDep
from api.routes._base import resource_router
from api.schemas.telemetry import PositionCollection, PositionFeature, PositionProperties
from jaylym.models import PositionReading, datetime_to_ms, ms_to_datetime
from jaylym.registry.models import Device
from jaylym.store.base import StoreError

router = resource_router("positions")
LOOKBACK_MS = 7 * 24 * 3600 * 1000  # older than a week is not "latest" for a herder


@router.get(
    "/latest", summary="Latest valid fix of every visible collar", responses=problem_responses(503)
)
def latest_positions(access: AccessDep, store: StoreDep) -> PositionCollection:
    collars = {
        d.id: d
        for d in access.session.scalars(access.select(Device).where(Device.kind == "collar"))
    }
    now_ms = datetime_to_ms(datetime.now(UTC))
    try:
        # `latest()` may hold a flagged fix; the newest *valid* one comes from the window.
        by_device = store.positions(now_ms - LOOKBACK_MS, now_ms + 1) if collars else {}
    except StoreError as exc:
        raise ProblemError(503, f"time-series store: {exc}") from exc
    features = []
    for device_id in sorted(collars):
        valid = [
            r for r in by_device.get(device_id, []) if isinstance(r, PositionReading) and r.valid
        ]
        if not valid:
            continue
        fix = valid[-1]
        device = collars[device_id]
        features.append(
            PositionFeature(
                type="Feature",
                id=device_id,
                geometry={"type": "Point", "coordinates": [fix.lon, fix.lat]},
                properties=PositionProperties(
                    device_id=device_id,
                    herd_id=device.herd_id,
                    okrug_id=device.okrug_id,
                    time=ms_to_datetime(fix.ts_ms),
                    age_s=max(0, (now_ms - fix.ts_ms) // 1000),
                    hdop=fix.hdop,
                    sats=fix.sats,
                    bat=fix.bat,
                ),
            )
        )
    return PositionCollection(type="FeatureCollection", features=features)

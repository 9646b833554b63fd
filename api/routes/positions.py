"""Latest position of every visible collar, as GeoJSON."""

from __future__ import annotations

from datetime import UTC, datetime

from api.core.problems import ProblemError, problem_responses
from api.deps import AccessDep, StoreDep
from api.routes._base import resource_router
from api.schemas.telemetry import PositionCollection, PositionFeature, PositionProperties
from jaylym.models import PositionReading, datetime_to_ms, ms_to_datetime
from jaylym.registry.models import Device
from jaylym.store.base import StoreError, TimeSeriesStore

router = resource_router("positions")
HOUR_MS = 3_600_000
# Windows scanned for collars whose very latest reading is not a valid fix; older than a
# week is not "latest" for a herder.
LOOKBACKS_MS = (6 * HOUR_MS, 24 * HOUR_MS, 7 * 24 * HOUR_MS)


def newest_valid_fixes(
    store: TimeSeriesStore, wanted: set[str], now_ms: int
) -> dict[str, PositionReading]:
    """The newest valid fix per collar. `latest()` answers most collars in one query; only
    those whose latest reading is flagged (or not a fix) cost a window scan, widened step by
    step, so a district of a thousand collars does not read a week of fixes."""
    found: dict[str, PositionReading] = {}
    for device_id, latest in store.latest().items():
        reading = latest.reading
        if device_id in wanted and isinstance(reading, PositionReading) and reading.valid:
            found[device_id] = reading
    for lookback in LOOKBACKS_MS:
        missing = wanted - found.keys()
        if not missing:
            break
        for device_id, readings in store.positions(now_ms - lookback, now_ms + 1).items():
            if device_id in missing:
                valid = [r for r in readings if r.valid]
                if valid:
                    found[device_id] = valid[-1]
    cutoff = now_ms - LOOKBACKS_MS[-1]
    return {d: r for d, r in found.items() if r.ts_ms >= cutoff}


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
        fixes = newest_valid_fixes(store, set(collars), now_ms) if collars else {}
    except StoreError as exc:
        raise ProblemError(503, f"time-series store: {exc}") from exc
    features = []
    for device_id in sorted(collars):
        fix = fixes.get(device_id)
        if fix is None:
            continue
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

"""Devices: registry, provisioning of MQTT credentials, revocation, and collar tracks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Query, status
from sqlalchemy import select

from api.core.paging import CursorQuery, LimitQuery, Page
from api.core.params import SlugId
from api.core.problems import ProblemError, field_error, problem_responses
from api.crud import device_read, issue_credentials, provision_device, revoke_device
from api.deps import AccessDep, BrokerDep, OptionalStoreDep, StoreDep
from api.routes._base import page, resource_router
from api.schemas.devices import (
    DeviceCreate,
    DeviceProvisioned,
    DeviceRead,
    DeviceUpdate,
    MqttCredentials,
)
from api.schemas.telemetry import TrackCollection, TrackFeature, TrackProperties
from jaylym.models import PositionReading, datetime_to_ms, ms_to_datetime
from jaylym.registry.models import Device, DeviceStats, Herd
from jaylym.store.base import StoreError, TimeSeriesStore

router = resource_router("devices")
MAX_TRACK_SPAN = timedelta(days=31)


def _last_seen(store: TimeSeriesStore | None) -> dict[str, int]:
    if store is None:
        return {}
    try:
        return store.last_seen()
    except StoreError:
        return {}  # the registry answers even when the store is down; last_seen is null


def _reads(
    access: AccessDep, devices: list[Device], store: TimeSeriesStore | None
) -> list[DeviceRead]:
    ids = [d.id for d in devices]
    stats = (
        {
            s.device_id: s
            for s in access.session.scalars(
                select(DeviceStats).where(DeviceStats.device_id.in_(ids))
            )
        }
        if ids
        else {}
    )
    seen = _last_seen(store) if ids else {}
    return [device_read(d, stats.get(d.id), seen.get(d.id)) for d in devices]


@router.get("", summary="List devices")
def list_devices(
    access: AccessDep,
    store: OptionalStoreDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[DeviceRead]:
    rows, nxt = page(access.session, access.select(Device), Device.id, limit, cursor, str)
    return Page(items=_reads(access, list(rows), store), next_cursor=nxt)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a device",
    responses=problem_responses(409, 503),
)
def create_device(body: DeviceCreate, access: AccessDep, broker: BrokerDep) -> DeviceProvisioned:
    """Returns the device's MQTT credentials once; the broker accepts them at once."""
    return provision_device(access, body, broker)


@router.get("/{device_id}", summary="Get a device")
def get_device(device_id: SlugId, access: AccessDep, store: OptionalStoreDep) -> DeviceRead:
    return _reads(access, [access.get(Device, device_id)], store)[0]


@router.patch("/{device_id}", summary="Update a device")
def update_device(
    device_id: SlugId, body: DeviceUpdate, access: AccessDep, store: OptionalStoreDep
) -> DeviceRead:
    device = access.get(Device, device_id)
    fields = body.model_dump(exclude_unset=True)
    if "herd_id" in fields:
        if device.kind != "collar" and body.herd_id is not None:
            raise field_error("body.herd_id", "only collars belong to a herd")
        if body.herd_id is not None:
            herd = access.reference(Herd, body.herd_id, "body.herd_id")
            if herd.okrug_id != device.okrug_id:
                raise field_error("body.herd_id", "herd is in another okrug")
        device.herd_id = body.herd_id
    for name in ("name", "lat", "lon", "depths_cm", "calibration", "expected_interval_s"):
        value = fields.get(name)
        if value is not None:
            setattr(device, name, value)
    access.session.commit()
    return _reads(access, [device], store)[0]


@router.post(
    "/{device_id}/revoke", summary="Revoke a device's access", responses=problem_responses(503)
)
def revoke(
    device_id: SlugId, access: AccessDep, broker: BrokerDep, store: OptionalStoreDep
) -> DeviceRead:
    """The broker refuses it from now on and the ingest drops what it still sends."""
    device = access.get(Device, device_id)
    revoke_device(access, device, broker)
    return _reads(access, [device], store)[0]


@router.post(
    "/{device_id}/credentials",
    status_code=status.HTTP_201_CREATED,
    summary="Issue new MQTT credentials",
    responses=problem_responses(503),
)
def new_credentials(device_id: SlugId, access: AccessDep, broker: BrokerDep) -> MqttCredentials:
    """Replaces the device's password (shown once) and re-admits a revoked device."""
    return issue_credentials(access, access.get(Device, device_id), broker)


@router.delete(
    "/{device_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a device",
    responses=problem_responses(503),
)
def delete_device(device_id: SlugId, access: AccessDep, broker: BrokerDep) -> None:
    device = access.get(Device, device_id)
    revoke_device(access, device, broker)
    access.session.delete(device)
    access.session.commit()


def time_range(
    start: datetime | None, end: datetime | None, default: timedelta, limit: timedelta
) -> tuple[int, int]:
    end = end or datetime.now(UTC)
    start = start or end - default
    if start.tzinfo is None or end.tzinfo is None:
        raise field_error("query.start", "give times with a UTC offset, e.g. 2026-06-01T00:00Z")
    if end <= start:
        raise field_error("query.end", "end must be after start")
    if end - start > limit:
        raise field_error("query.start", f"at most {limit.days} days per request")
    return datetime_to_ms(start), datetime_to_ms(end)


@router.get(
    "/{device_id}/track", summary="A collar's track as GeoJSON", responses=problem_responses(503)
)
def track(
    device_id: SlugId,
    access: AccessDep,
    store: StoreDep,
    start: datetime | None = Query(None, description="Default: 24 h before end."),
    end: datetime | None = Query(None, description="Default: now."),
) -> TrackCollection:
    device = access.get(Device, device_id)
    start_ms, end_ms = time_range(start, end, timedelta(days=1), MAX_TRACK_SPAN)
    try:
        readings = store.device_readings(device.id, start_ms, end_ms)
    except StoreError as exc:
        raise ProblemError(503, f"time-series store: {exc}") from exc
    fixes = [r for r in readings if isinstance(r, PositionReading)]
    valid = [r for r in fixes if r.valid]
    features = []
    if len(valid) >= 2:
        features.append(
            TrackFeature(
                type="Feature",
                id=device.id,
                geometry={
                    "type": "LineString",
                    "coordinates": [[r.lon, r.lat] for r in valid],
                },
                properties=TrackProperties(
                    device_id=device.id,
                    herd_id=device.herd_id,
                    start=ms_to_datetime(start_ms),
                    end=ms_to_datetime(end_ms),
                    times=[ms_to_datetime(r.ts_ms) for r in valid],
                    points=len(valid),
                    flagged=len(fixes) - len(valid),
                ),
            )
        )
    return TrackCollection(type="FeatureCollection", features=features)

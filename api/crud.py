"""Writes shared by the routes and the `jaylym` CLI, so both validate and register alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from api.core.problems import FieldError, ProblemError, field_error
from api.policy import Access
from api.schemas.devices import DeviceCreate, DeviceProvisioned, DeviceRead, MqttCredentials
from api.schemas.herds import Composition, HerdCreate, HerdRead
from api.schemas.pastures import ImportResult, PastureCreate, PastureImport
from api.schemas.tokens import TokenCreate, TokenCreated
from jaylym.registry.broker import BrokerAccounts, BrokerError, new_password
from jaylym.registry.models import ApiToken, Device, DeviceStats, Herd, Herder, Okrug, Pasture
from jaylym.registry.tokens import display_prefix, hash_token, new_token

MAX_IMPORT_FEATURES = 2000


def herd_read(h: Herd, lu: dict[str, float]) -> HerdRead:
    return HerdRead(
        id=h.id,
        okrug_id=h.okrug_id,
        herder_id=h.herder_id,
        name=h.name,
        composition=Composition(**h.composition()),
        livestock_units=round(h.livestock_units(lu), 3),
        created_at=h.created_at,
    )


def create_herd(access: Access, body: HerdCreate, lu: dict[str, float]) -> HerdRead:
    access.reference(Okrug, body.okrug_id, "body.okrug_id")
    if body.herder_id is not None:
        herder = access.reference(Herder, body.herder_id, "body.herder_id")
        if herder.okrug_id != body.okrug_id:
            raise field_error("body.herder_id", "herder is in another okrug")
    if access.session.get(Herd, body.id) is not None:
        raise ProblemError(409, f"herd id {body.id!r} is taken")
    herd = Herd(
        id=body.id,
        okrug_id=body.okrug_id,
        herder_id=body.herder_id,
        name=body.name,
        **body.composition.model_dump(),
    )
    access.session.add(herd)
    access.session.commit()
    return herd_read(herd, lu)


def pasture_from(body: PastureCreate) -> dict[str, Any]:
    values = body.model_dump(exclude={"geometry"})
    values["geometry"] = body.geometry.model_dump(exclude_none=True)
    values["area_ha"] = body.area_ha
    return values


def import_pastures(access: Access, fc: PastureImport, *, replace: bool) -> ImportResult:
    """All features or none: every error is reported with its feature path."""
    if len(fc.features) > MAX_IMPORT_FEATURES:
        raise field_error("body.features", f"at most {MAX_IMPORT_FEATURES} features per import")
    errors: list[FieldError] = []
    bodies: list[PastureCreate] = []
    for i, feature in enumerate(fc.features):
        props = dict(feature.properties or {})
        if "id" not in props and feature.id is not None:
            props["id"] = str(feature.id)
        props["geometry"] = (
            feature.geometry.model_dump(exclude_none=True) if feature.geometry else None
        )
        try:
            bodies.append(PastureCreate.model_validate(props))
        except ValidationError as exc:
            for e in exc.errors():
                where = ".".join(str(p) for p in e["loc"])
                errors.append(
                    FieldError(field=f"body.features.{i}.{where}".rstrip("."), message=e["msg"])
                )
    ids = [b.id for b in bodies]
    if len(set(ids)) != len(ids):
        errors.append(FieldError(field="body.features", message="duplicate pasture ids"))
    for i, b in enumerate(bodies):
        if not access.visible(Okrug, b.okrug_id):
            errors.append(
                FieldError(
                    field=f"body.features.{i}.okrug_id", message=f"unknown okrug {b.okrug_id!r}"
                )
            )
    if errors:
        raise ProblemError(
            422, f"{len(errors)} invalid field(s); nothing imported", errors=errors[:200]
        )
    created, updated = [], []
    for b in bodies:
        existing = access.session.get(Pasture, b.id)
        if existing is not None:
            if not replace or not access.visible(Pasture, b.id):
                raise ProblemError(
                    409, f"pasture {b.id!r} exists; nothing imported (use replace to update)"
                )
            for name, value in pasture_from(b).items():
                setattr(existing, name, value)
            updated.append(b.id)
        else:
            access.session.add(Pasture(**pasture_from(b)))
            created.append(b.id)
    access.session.commit()
    return ImportResult(created=created, updated=updated)


def device_read(device: Device, stats: DeviceStats | None, last_seen_ms: int | None) -> DeviceRead:
    return DeviceRead(
        id=device.id,
        kind=device.kind,
        okrug_id=device.okrug_id,
        herd_id=device.herd_id,
        name=device.name,
        lat=device.lat,
        lon=device.lon,
        depths_cm=list(device.depths_cm or []),
        calibration=dict(device.calibration or {}),
        expected_interval_s=device.expected_interval_s,
        dev_eui=device.dev_eui,
        active=device.active,
        broker_registered=device.active and device.mqtt_password_hash is not None,
        last_seen=datetime.fromtimestamp(last_seen_ms / 1000, UTC) if last_seen_ms else None,
        received=stats.received if stats else 0,
        missing=stats.missing if stats else 0,
        duplicates=stats.duplicates if stats else 0,
        last_seq=stats.last_seq if stats else None,
        created_at=device.created_at,
        revoked_at=device.revoked_at,
    )


def topic_prefix(device_id: str) -> str:
    return f"pasture/v1/+/+/{device_id}/"


def provision_device(
    access: Access, body: DeviceCreate, broker: BrokerAccounts
) -> DeviceProvisioned:
    access.reference(Okrug, body.okrug_id, "body.okrug_id")
    if body.herd_id is not None:
        herd = access.reference(Herd, body.herd_id, "body.herd_id")
        if herd.okrug_id != body.okrug_id:
            raise field_error("body.herd_id", "herd is in another okrug")
    if access.session.get(Device, body.id) is not None:
        # Taken, visible or not: ids are global (they are MQTT usernames).
        raise ProblemError(409, f"device id {body.id!r} is taken")
    dev_eui = body.dev_eui.lower() if body.dev_eui else None
    if dev_eui and access.session.query(Device).filter(Device.dev_eui == dev_eui).first():
        raise ProblemError(409, "DevEUI is registered to another device")
    password, hashed = new_password()
    device = Device(
        **body.model_dump(exclude={"dev_eui"}), dev_eui=dev_eui, mqtt_password_hash=hashed
    )
    access.session.add(device)
    access.session.flush()
    try:
        broker.set_device(device.id, hashed)
    except BrokerError as exc:
        access.session.rollback()
        raise ProblemError(503, f"broker could not be updated: {exc}") from exc
    access.session.commit()
    read = device_read(device, None, None)
    return DeviceProvisioned(
        **read.model_dump(),
        mqtt=MqttCredentials(
            username=device.id, password=password, topic_prefix=topic_prefix(device.id)
        ),
    )


def issue_credentials(access: Access, device: Device, broker: BrokerAccounts) -> MqttCredentials:
    """A new password for a device (lost, leaked, or to re-admit a revoked one); the old
    one stops working when the broker reloads."""
    password, hashed = new_password()
    device.mqtt_password_hash = hashed
    device.active = True
    device.revoked_at = None
    access.session.flush()
    try:
        broker.set_device(device.id, hashed)
    except BrokerError as exc:
        access.session.rollback()
        raise ProblemError(503, f"broker could not be updated: {exc}") from exc
    access.session.commit()
    return MqttCredentials(
        username=device.id, password=password, topic_prefix=topic_prefix(device.id)
    )


def revoke_device(access: Access, device: Device, broker: BrokerAccounts) -> None:
    """Inactive in the registry (the ingest drops it) and gone from the broker."""
    device.active = False
    device.revoked_at = device.revoked_at or datetime.now(UTC)
    device.mqtt_password_hash = None
    access.session.flush()
    try:
        broker.remove_device(device.id)
    except BrokerError as exc:
        access.session.rollback()
        raise ProblemError(503, f"broker could not be updated: {exc}") from exc
    access.session.commit()


def create_token(access: Access, body: TokenCreate, pepper: str) -> TokenCreated:
    if body.herder_id is not None:
        access.reference(Herder, body.herder_id, "body.herder_id")
    for i, okrug in enumerate(body.okrugs or []):
        access.reference(Okrug, okrug, f"body.okrugs.{i}")
    token = new_token()
    row = ApiToken(
        name=body.name,
        token_hash=hash_token(token, pepper),
        prefix=display_prefix(token),
        role=body.role,
        okrugs=sorted(set(body.okrugs)) if body.okrugs is not None else None,
        herder_id=body.herder_id,
        expires_at=body.expires_at,
    )
    access.session.add(row)
    access.session.commit()
    return TokenCreated(**_token_fields(row), token=token)


def _token_fields(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "okrugs": row.okrugs,
        "herder_id": row.herder_id,
        "prefix": row.prefix,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
        "last_used_at": row.last_used_at,
    }

"""The SQL implementation of `jaylym.models.DeviceDirectory`, which the ingest reads."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jaylym.models import DeviceInfo, DeviceKind, is_device_id
from jaylym.registry.models import Device


def device_info(device: Device) -> DeviceInfo:
    kind: DeviceKind = "collar" if device.kind == "collar" else "soil"
    return DeviceInfo(
        device_id=device.id,
        kind=kind,
        okrug=device.okrug_id,
        herd_id=device.herd_id,
        active=device.active,
        dev_eui=device.dev_eui,
        expected_interval_s=device.expected_interval_s,
    )


class SqlDeviceDirectory:
    """Looks devices up in the registry, one short session per call.

    No cache here: a revoked device must stop being accepted at once; the ingest may wrap
    this in its own short-lived cache if lookups show up in its profile.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def lookup(self, device_id: str) -> DeviceInfo | None:
        if not is_device_id(device_id):
            return None
        with Session(self.engine) as session:
            device = session.get(Device, device_id)
            return device_info(device) if device is not None else None

    def by_dev_eui(self, dev_eui: str) -> DeviceInfo | None:
        dev_eui = dev_eui.lower()
        if len(dev_eui) != 16 or any(c not in "0123456789abcdef" for c in dev_eui):
            return None
        with Session(self.engine) as session:
            device = session.scalars(select(Device).where(Device.dev_eui == dev_eui)).first()
            return device_info(device) if device is not None else None

"""`jaylym device add|list|revoke|sync-broker`."""

from __future__ import annotations

import typer

from api.commands._common import JsonOption, admin_access, broker, build, config, emit, reported

app = typer.Typer(
    help="Devices: register with MQTT credentials, list, revoke.", no_args_is_help=True
)


@app.command("add")
def add(
    device_id: str = typer.Argument(..., help="Lowercase [a-z0-9-], 3-32 characters."),
    kind: str = typer.Option(..., help="collar or soil."),
    okrug: str = typer.Option(..., help="Okrug id."),
    herd: str | None = typer.Option(None, help="Collars: the herd wearing it."),
    name: str = typer.Option("", help="Free text."),
    lat: float | None = typer.Option(None, help="Soil stations: latitude (WGS84)."),
    lon: float | None = typer.Option(None, help="Soil stations: longitude (WGS84)."),
    depth: list[int] = typer.Option([], help="Soil stations: sensor depth, cm (repeat)."),
    interval: int = typer.Option(900, help="Expected reporting interval, seconds."),
    dev_eui: str | None = typer.Option(None, help="LoRaWAN DevEUI (16 hex digits)."),
    as_json: bool = JsonOption,
) -> None:
    """Register a device and print its MQTT credentials (shown once)."""
    from api.crud import provision_device
    from api.schemas.devices import DeviceCreate

    body = build(
        DeviceCreate,
        {
            "id": device_id,
            "kind": kind,
            "okrug_id": okrug,
            "herd_id": herd,
            "name": name,
            "lat": lat,
            "lon": lon,
            "depths_cm": depth,
            "expected_interval_s": interval,
            "dev_eui": dev_eui,
        },
    )
    cfg = config()
    with reported(), admin_access(cfg) as access:
        created = provision_device(access, body, broker(cfg))
    emit(
        created,
        as_json,
        lambda d: (
            f"device {d.id} registered; MQTT username {d.mqtt.username} "
            f"password {d.mqtt.password}\nShown once: flash it into the device now."
            + (
                ""
                if d.broker_registered
                else "\nWarning: JAYLYM_MQTT_PASSWD_FILE is unset; the broker was not told."
            )
        ),
    )


@app.command("list")
def list_devices(as_json: bool = JsonOption) -> None:
    """Every registered device."""
    from api.crud import device_read
    from jaylym.registry.models import Device

    with admin_access(config()) as access:
        devices = [
            device_read(d, None, None).model_dump(mode="json")
            for d in access.session.scalars(access.select(Device).order_by(Device.id))
        ]
    emit(
        devices,
        as_json,
        lambda ds: (
            "\n".join(
                f"{d['id']:32} {d['kind']:6} {d['okrug_id']:16} {d['herd_id'] or '-':16} "
                f"{'active' if d['active'] else 'revoked'}"
                for d in ds
            )
            or "no devices"
        ),
    )


@app.command("revoke")
def revoke(device_id: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """Remove a device's broker access; the ingest drops what it still sends."""
    from api.crud import device_read, revoke_device
    from jaylym.registry.models import Device

    cfg = config()
    with reported(), admin_access(cfg) as access:
        device = access.get(Device, device_id)
        revoke_device(access, device, broker(cfg))
        result = device_read(device, None, None)
    emit(result, as_json, lambda d: f"device {d.id} revoked")


@app.command("sync-broker")
def sync_broker(as_json: bool = JsonOption) -> None:
    """Rewrite device entries of the broker's password file from the registry (after a
    restore, or when the file was lost); other users in the file are kept."""
    from jaylym.mqtt_passwd import read_entries, write_entries
    from jaylym.registry.broker import PasswordFileAccounts
    from jaylym.registry.models import Device

    cfg = config()
    accounts = broker(cfg)
    if not isinstance(accounts, PasswordFileAccounts):
        with reported():
            from api.core.problems import ProblemError

            raise ProblemError(400, "JAYLYM_MQTT_PASSWD_FILE is not set")
        return
    with admin_access(cfg) as access:
        devices = list(access.session.scalars(access.select(Device)))
    entries = read_entries(accounts.path)
    for d in devices:
        entries.pop(d.id, None)
        if d.active and d.mqtt_password_hash:
            entries[d.id] = d.mqtt_password_hash
    write_entries(accounts.path, entries)
    accounts.reload()
    active = sorted(d.id for d in devices if d.active and d.mqtt_password_hash)
    emit({"devices": active}, as_json, lambda r: f"{len(r['devices'])} devices in the broker")

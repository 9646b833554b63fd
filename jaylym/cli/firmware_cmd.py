"""`jaylym nmea`, `jaylym firmware sim` and `jaylym simulate`: the device firmware on a host."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

app = typer.Typer(help="Run the device firmware on this host.", no_args_is_help=True)


def nmea(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="NMEA 0183 log (lines starting with # are skipped)."
    ),
    lenient: bool = typer.Option(
        False, "--lenient", help="Accept sentences without a checksum (bad ones stay rejected)."
    ),
    stats: bool = typer.Option(False, "--stats", help="Print sentence counts to stderr."),
) -> None:
    """Decode NMEA with the firmware's own parser: one JSON fix per line (time, lat, lon, mode)."""
    from jaylym.firmware_host import firmware_module

    nmea_mod = firmware_module("common.nmea")
    parser = nmea_mod.Parser(require_checksum=not lenient)

    def emit(fix: object) -> None:
        if fix is None:
            return
        record = fix_record(fix)
        sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")

    with file.open("rb") as handle:
        for raw in handle:
            if raw.startswith(b"#"):
                continue
            emit(parser.feed(raw))
    emit(parser.flush())
    if stats:
        typer.echo(json.dumps(parser.counts, sort_keys=True), err=True)


def fix_record(fix: object) -> dict[str, object]:
    """The JSON form of a firmware `Fix`: always time/lat/lon/mode, the rest when known."""
    get = fix.__getattribute__
    record: dict[str, object] = {
        "time": get("iso_time")(),
        "lat": get("lat_e9") / 1e9,
        "lon": get("lon_e9") / 1e9,
        "mode": get("mode"),
    }
    for key in ("alt", "hdop", "sats"):
        value = get(key)
        if value is not None:
            record[key] = value
    return record


@app.command("sim")
def sim(
    kind: str = typer.Argument(..., help="collar or soil"),
    device_id: str = typer.Option(..., "--device-id", help="The device id (its MQTT user)."),
    broker: str = typer.Option(
        ..., "--broker", help="mqtt://ID:PASSWORD@host:port (or give --password)."
    ),
    password: str | None = typer.Option(
        None, "--password", help="The device's broker password (instead of in the URL)."
    ),
    okrug: str = typer.Option("sogety", "--okrug", help="Okrug topic level."),
    track: Path | None = typer.Option(
        None,
        "--track",
        exists=True,
        dir_okay=False,
        help="Collar: CSV (Latitude, Longitude) or NMEA log. Soil: an ISMN .stm record.",
    ),
    speed: float = typer.Option(
        1.0, "--speed", min=0.01, max=100000, help="Simulated seconds per real second."
    ),
    cycles: int | None = typer.Option(None, "--cycles", min=1, help="Stop after N cycles."),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="The device's flash folder. Default: <data_dir>/sim/<id>."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the simulated world."),
    ca: Path | None = typer.Option(
        None, "--ca", exists=True, dir_okay=False, help="Broker CA certificate, for mqtts://."
    ),
    cpython: bool = typer.Option(
        False, "--cpython", help="Run on CPython instead of the MicroPython unix port."
    ),
) -> None:
    """Run the device firmware on the MicroPython unix port with the simulated board."""
    import subprocess

    from jaylym.firmware_host import FirmwareHostError
    from jaylym.firmware_sim import SimDevice
    from jaylym.settings import get_settings

    if kind not in ("collar", "soil"):
        raise typer.BadParameter("collar or soil", param_hint="KIND")
    folder = state_dir or get_settings().data_dir / "sim" / device_id
    device = SimDevice(
        device_id=device_id,
        kind="collar" if kind == "collar" else "soil",
        broker_url=broker,
        folder=folder,
        okrug=okrug,
        password=password,
        track=track,
        speed=speed,
        seed=seed,
        ca=ca,
    )
    try:
        device.provision()
        if cpython:
            device.run_cpython(cycles)
            return
        argv, env = device.micropython_argv(cycles)
    except (FirmwareHostError, ValueError) as exc:
        typer.echo(f"jaylym firmware sim: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"running {kind} {device_id} on {argv[0]} in {folder}", err=True)
    try:
        raise typer.Exit(subprocess.call(argv, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def simulate(
    broker: str = typer.Option(
        ..., "--broker", help="mqtt://host:port of the broker the fleet reports to."
    ),
    collars: int = typer.Option(4, "--collars", min=0, max=10000, help="Simulated collars."),
    soil: int = typer.Option(2, "--soil", min=0, max=10000, help="Simulated soil stations."),
    speed: float = typer.Option(60.0, "--speed", min=0.01, help="Simulated seconds per second."),
    max_processes: int = typer.Option(
        12,
        "--max-processes",
        min=0,
        help="MicroPython processes at most (2 cores: each mostly sleeps); the rest of the "
        "fleet runs on CPython threads, the same firmware code.",
    ),
    passwd_file: Path | None = typer.Option(
        None,
        "--passwd-file",
        help="Mosquitto password file to add the devices to (then SIGHUP the broker).",
    ),
    prefix: str = typer.Option("sim", "--prefix", help="Device ids are PREFIX-c001, PREFIX-s001."),
    okrug: str = typer.Option("sogety", "--okrug", help="Okrug topic level."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Default <data_dir>/sim."),
    cycles: int | None = typer.Option(None, "--cycles", min=1, help="Stop after N cycles."),
) -> None:
    """Start a fleet of simulated collars and soil stations (MicroPython first, then CPython)."""
    import secrets
    import threading
    import time

    from jaylym.firmware_sim import SimDevice
    from jaylym.mqtt_passwd import set_password
    from jaylym.settings import get_settings, parse_mqtt_url

    base = parse_mqtt_url(broker)
    root = state_dir or get_settings().data_dir / "sim"
    devices: list[SimDevice] = []
    for kind, count, letter in (("collar", collars, "c"), ("soil", soil, "s")):
        for i in range(1, count + 1):
            device_id = f"{prefix}-{letter}{i:03d}"
            folder = root / device_id
            known = folder / "device.json"
            password = (
                json.loads(known.read_text()).get("password")
                if known.exists()
                else secrets.token_hex(12)
            )
            devices.append(
                SimDevice(
                    device_id=device_id,
                    kind="collar" if kind == "collar" else "soil",
                    broker_url=f"mqtt://{base.host}:{base.port}",
                    folder=folder,
                    okrug=okrug,
                    password=password,
                    speed=speed,
                )
            )
    if passwd_file is not None:
        for device in devices:
            set_password(passwd_file, device.device_id, device.password or "")
        typer.echo(f"{len(devices)} devices in {passwd_file}: reload the broker (SIGHUP)", err=True)
    processes = []
    threads = []
    for n, device in enumerate(devices):
        if n < max_processes:
            processes.append(device.start(cycles))
        else:
            thread = threading.Thread(target=device.run_cpython, args=(cycles,), daemon=True)
            thread.start()
            threads.append(thread)
    typer.echo(
        f"fleet: {len(processes)} on MicroPython, {len(threads)} on CPython; logs in {root}",
        err=True,
    )
    try:
        while any(p.poll() is None for p in processes) or any(t.is_alive() for t in threads):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in processes:
            try:
                proc.wait(timeout=10)
            except Exception:
                proc.kill()


@app.command("bundle")
def bundle_cmd(
    kind: str = typer.Argument(..., help="collar or soil"),
    dest: Path = typer.Argument(..., file_okay=False, help="Folder to write (then mpremote cp)."),
    device_id: str | None = typer.Option(None, "--device-id", help="Write device.json for it."),
    broker: str | None = typer.Option(None, "--broker", help="mqtt://ID:PASSWORD@host:port"),
    okrug: str = typer.Option("sogety", "--okrug", help="Okrug topic level."),
    wifi_ssid: str | None = typer.Option(None, "--wifi-ssid", help="Wi-Fi network (ESP32)."),
    wifi_password: str | None = typer.Option(None, "--wifi-password", help="Wi-Fi password."),
    board: str = typer.Option("esp32", "--board", help="Board module under firmware/boards/."),
    ca: Path | None = typer.Option(
        None, "--ca", exists=True, dir_okay=False, help="Broker CA certificate, for mqtts://."
    ),
) -> None:
    """Build what a board's flash holds: .mpy bytecode, main.py and (optionally) device.json."""
    import re

    from jaylym.firmware_host import FirmwareHostError, bundle
    from jaylym.settings import DEVICE_ID_PATTERN, parse_mqtt_url

    device: dict[str, object] | None = None
    if device_id is not None:
        if not re.match(DEVICE_ID_PATTERN, device_id) or not re.match(DEVICE_ID_PATTERN, okrug):
            raise typer.BadParameter("3..32 of a-z, 0-9, -", param_hint="--device-id/--okrug")
        if broker is None:
            raise typer.BadParameter("needed with --device-id", param_hint="--broker")
        url = parse_mqtt_url(broker)
        if url.tls and ca is None:
            raise typer.BadParameter("mqtts:// needs the broker's CA (--ca)", param_hint="--ca")
        if url.username not in (None, device_id):
            raise typer.BadParameter("the user must be the device id", param_hint="--broker")
        device = {
            "id": device_id,
            "kind": kind,
            "okrug": okrug,
            "host": url.host,
            "port": url.port,
            "password": url.password.get_secret_value() if url.password else "",
            "board": board,
        }
        if url.tls:
            device["tls"] = True
            device["ca"] = "ca.der"
        if wifi_ssid:
            device["wifi_ssid"] = wifi_ssid
            device["wifi_password"] = wifi_password or ""
    try:
        out = bundle(kind, dest, device, board)
    except FirmwareHostError as exc:
        typer.echo(f"jaylym firmware bundle: {exc}", err=True)
        raise typer.Exit(2) from None
    files = "main.py device.json" if device is not None else "main.py"
    if device is not None and device.get("tls") and ca is not None:
        from jaylym.firmware_sim import ca_der

        (out / "ca.der").write_bytes(ca_der(ca))
        files += " ca.der"
    typer.echo(f"cd {out} && mpremote cp -r common boards : + cp {files} : + reset", err=True)

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

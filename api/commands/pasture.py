"""`jaylym pasture import FILE`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from api.commands._common import JsonOption, admin_access, build, config, emit, reported

app = typer.Typer(help="Pastures: import GeoJSON.", no_args_is_help=True)


@app.command("import")
def import_file(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="GeoJSON FeatureCollection."
    ),
    replace: bool = typer.Option(False, help="Update pastures whose id exists."),
    as_json: bool = JsonOption,
) -> None:
    """Import every pasture of a FeatureCollection, or none if any is invalid."""
    from api.crud import import_pastures
    from api.schemas.pastures import PastureImport

    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        typer.echo(f"jaylym: {file}: not JSON ({exc})", err=True)
        raise typer.Exit(1) from None
    fc = build(PastureImport, raw)
    with reported(), admin_access(config()) as access:
        result = import_pastures(access, fc, replace=replace)
    emit(result, as_json, lambda r: f"created {len(r.created)}, updated {len(r.updated)}")

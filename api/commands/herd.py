"""`jaylym herd add`."""

from __future__ import annotations

import typer

from api.commands._common import JsonOption, admin_access, build, config, emit, reported

app = typer.Typer(help="Herds.", no_args_is_help=True)


@app.command("add")
def add(
    herd_id: str = typer.Argument(..., help="Lowercase [a-z0-9-], 3-32 characters."),
    okrug: str = typer.Option(..., help="Home okrug id."),
    name: str = typer.Option(..., help="Herd name."),
    herder_id: int | None = typer.Option(None, help="Herder record id."),
    cattle: int = typer.Option(0, min=0),
    horse: int = typer.Option(0, min=0),
    sheep: int = typer.Option(0, min=0),
    goat: int = typer.Option(0, min=0),
    camel: int = typer.Option(0, min=0),
    as_json: bool = JsonOption,
) -> None:
    """Register a herd with its composition; prints its livestock units."""
    from api.crud import create_herd
    from api.schemas.herds import HerdCreate

    body = build(
        HerdCreate,
        {
            "id": herd_id,
            "okrug_id": okrug,
            "name": name,
            "herder_id": herder_id,
            "composition": {
                "cattle": cattle,
                "horse": horse,
                "sheep": sheep,
                "goat": goat,
                "camel": camel,
            },
        },
    )
    cfg = config()
    with reported(), admin_access(cfg) as access:
        herd = create_herd(access, body, cfg.livestock_units)
    emit(herd, as_json, lambda h: f"herd {h.id}: {h.livestock_units} LU")

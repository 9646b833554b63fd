"""`jaylym okrug add`: the first thing a new district needs before pastures and herds."""

from __future__ import annotations

import typer

from api.commands._common import JsonOption, admin_access, build, config, emit, reported

app = typer.Typer(help="Okrugs (rural districts).", no_args_is_help=True)


@app.command("add")
def add(
    okrug_id: str = typer.Argument(..., help="Slug, e.g. sogety."),
    name_kk: str = typer.Option(..., help="Name in Kazakh."),
    name_ru: str = typer.Option(..., help="Name in Russian."),
    name_en: str = typer.Option(..., help="Name in English."),
    as_json: bool = JsonOption,
) -> None:
    """Register an okrug."""
    from api.core.problems import ProblemError
    from api.schemas.okrugs import OkrugCreate, OkrugRead
    from jaylym.registry.models import Okrug

    body = build(
        OkrugCreate, {"id": okrug_id, "name_kk": name_kk, "name_ru": name_ru, "name_en": name_en}
    )
    with reported(), admin_access(config()) as access:
        if access.session.get(Okrug, body.id) is not None:
            raise ProblemError(409, f"okrug {body.id!r} already exists")
        okrug = Okrug(**body.model_dump())
        access.session.add(okrug)
        access.session.commit()
        result = OkrugRead.model_validate(okrug, from_attributes=True)
    emit(result, as_json, lambda o: f"okrug {o.id} registered")

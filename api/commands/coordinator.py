"""`jaylym coordinator add|list`: the okrug coordinators who receive every alert of their okrugs
(herders are reached through their herder record)."""

from __future__ import annotations

import typer

from api.commands._common import JsonOption, admin_access, build, config, emit, reported

app = typer.Typer(help="Coordinators who receive alerts.", no_args_is_help=True)


@app.command("add")
def add(
    name: str = typer.Option(..., help="Full name."),
    okrug: list[str] = typer.Option([], help="An okrug whose alerts they get; repeat. None: all."),
    language: str = typer.Option("kk", help="kk, ru or en."),
    phone: str | None = typer.Option(None, help="E.164 phone for SMS."),
    telegram_chat_id: int | None = typer.Option(None, help="Telegram chat id."),
    webhook_url: str | None = typer.Option(None, help="Webhook URL (signed JSON POST)."),
    channel: list[str] = typer.Option([], help="sms, telegram, mqtt or webhook; repeat."),
    as_json: bool = JsonOption,
) -> None:
    """Register a coordinator as an alert recipient."""
    from api.schemas.coordinators import CoordinatorCreate, CoordinatorRead
    from jaylym.registry.contacts import Coordinator
    from jaylym.registry.models import Okrug

    body = build(
        CoordinatorCreate,
        {
            "name": name,
            "okrugs": okrug or None,
            "language": language,
            "phone": phone,
            "telegram_chat_id": telegram_chat_id,
            "webhook_url": webhook_url,
            "channels": channel,
        },
    )
    with reported(), admin_access(config()) as access:
        for i, okrug_id in enumerate(body.okrugs or []):
            access.reference(Okrug, okrug_id, f"okrug[{i}]")
        row = Coordinator(**body.model_dump(), active=True)
        access.session.add(row)
        access.session.commit()
        result = CoordinatorRead.model_validate(row, from_attributes=True)
    emit(result, as_json, lambda c: f"coordinator {c.id} ({c.name}) registered")


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """Every coordinator who receives alerts."""
    from sqlalchemy import select

    from api.schemas.coordinators import CoordinatorRead
    from jaylym.registry.contacts import Coordinator

    with reported(), admin_access(config()) as access:
        rows = access.session.scalars(select(Coordinator).order_by(Coordinator.id)).all()
        result = [CoordinatorRead.model_validate(r, from_attributes=True) for r in rows]
    if as_json:
        emit([r.model_dump(mode="json") for r in result], True, str)
    else:
        for c in result:
            okrugs = ",".join(c.okrugs) if c.okrugs else "all"
            typer.echo(f"{c.id}\t{c.name}\t{okrugs}\t{c.language}\t{','.join(c.channels)}")

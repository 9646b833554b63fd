"""`jaylym admin token create`: API tokens for people and dashboards."""

from __future__ import annotations

from datetime import datetime

import typer

from api.commands._common import JsonOption, admin_access, build, config, emit, reported

app = typer.Typer(help="Administration: API tokens.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def create(
    name: str = typer.Option(..., help="Who or what holds it."),
    role: str = typer.Option(
        "admin", help="admin, coordinator, herder, or viewer (a read-only coordinator)."
    ),
    okrug: list[str] = typer.Option(
        [], help="Coordinator or viewer scope (repeat); none: the whole district."
    ),
    herder_id: int | None = typer.Option(None, help="Herder tokens: the herder record."),
    expires_at: datetime | None = typer.Option(None, help="UTC expiry, e.g. 2027-01-01T00:00Z."),
    as_json: bool = JsonOption,
) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    from datetime import UTC

    from api.crud import create_token
    from api.schemas.tokens import TokenCreate

    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    body = build(
        TokenCreate,
        {
            "name": name,
            "role": role,
            "okrugs": okrug or None,
            "herder_id": herder_id,
            "expires_at": expires_at,
        },
    )
    cfg = config()
    with reported(), admin_access(cfg) as access:
        created = create_token(access, body, cfg.token_pepper.get_secret_value())
    emit(
        created, as_json, lambda c: f"token {c.id} ({c.role}): {c.token}\nShown once: store it now."
    )

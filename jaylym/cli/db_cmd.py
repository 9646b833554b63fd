"""`jaylym db`: the registry database's schema."""

from __future__ import annotations

import json

import typer

from jaylym.settings import get_settings

app = typer.Typer(help="Registry database: migrate and inspect.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    revision: str = typer.Option("head", help="Target revision."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Create or migrate the registry database (JAYLYM_DATABASE_URL) to the newest schema."""
    from jaylym.registry.db import make_engine
    from jaylym.registry.migrate import current_revision
    from jaylym.registry.migrate import upgrade as run_upgrade

    engine = make_engine(get_settings().registry_url)
    before = current_revision(engine)
    run_upgrade(engine, revision)
    after = current_revision(engine)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps({"from": before, "to": after}))
    else:
        typer.echo(f"registry at revision {after} (was {before or 'empty'})")


@app.command("current")
def current(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Print the registry's schema revision."""
    from jaylym.registry.db import make_engine
    from jaylym.registry.migrate import current_revision

    engine = make_engine(get_settings().registry_url)
    revision = current_revision(engine)
    engine.dispose()
    typer.echo(json.dumps({"revision": revision}) if as_json else (revision or "empty"))

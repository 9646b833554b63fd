"""`jaylym grafana build|push`: generate the dashboards and provisioning, or push them."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(
    help="Grafana dashboards as code: build the JSON and provisioning, or push to a Grafana.",
    no_args_is_help=True,
)


@app.command()
def build(
    out: Path = typer.Option(
        None, help="Folder to write into (default: deploy/grafana/ of this checkout)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 and list the files that are stale."
    ),
) -> None:
    """Write deploy/grafana/dashboards/*.json and the provisioning YAML beside them."""
    from dashboards import build as builder

    root = out or builder.DEPLOY
    if check:
        stale = builder.stale(root)
        for relative in stale:
            typer.echo(f"stale: {relative}")
        raise typer.Exit(1 if stale else 0)
    written = builder.write(root)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"{len(written)} file(s) written, {len(builder.render()) - len(written)} unchanged")


@app.command()
def push(
    url: str = typer.Option(
        None, help="Grafana base URL. Default: JAYLYM_GRAFANA_URL.", show_default=False
    ),
    token: str = typer.Option(
        None,
        help="Grafana service-account token. Default: JAYLYM_GRAFANA_TOKEN.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create or update the Jaylym folder, datasources and dashboards on a running Grafana.

    Datasources point at JAYLYM_INFLUX_* and JAYLYM_GRAFANA_API_URL/_TOKEN."""
    from grafana_client.client import GrafanaException

    from dashboards.provisioning import DatasourceValues
    from dashboards.push import push as do_push
    from jaylym.settings import get_settings

    settings = get_settings()
    url = url or settings.grafana_url or ""
    secret = settings.grafana_token.get_secret_value() if settings.grafana_token else ""
    token = token or secret
    if not url or not token:
        typer.echo(
            "jaylym grafana push: --url and --token (or JAYLYM_GRAFANA_*) are required", err=True
        )
        raise typer.Exit(2)

    def reveal(value: object) -> str | None:
        get = getattr(value, "get_secret_value", None)
        return str(get()) if callable(get) else None

    values = DatasourceValues(
        influx_url=settings.influx_url,
        influx_db=settings.influx_db,
        influx_token=reveal(settings.influx_token),
        influx_username=settings.influx_username,
        influx_password=reveal(settings.influx_password),
        api_url=settings.grafana_api_url,
        api_token=reveal(settings.grafana_api_token),
    )
    try:
        report = do_push(url, token, values)
    except GrafanaException as exc:
        typer.echo(f"jaylym grafana push: {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    typer.echo(f"Grafana {report.grafana_version or '(version unknown)'} at {url}")
    for kind in ("created", "updated", "unchanged"):
        for uid in getattr(report, kind):
            typer.echo(f"{kind:9} {uid}")
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)

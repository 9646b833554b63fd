"""The one `jaylym` command. Each subsystem owns a small typer module; this table mounts them.

Subsystem CLI modules keep heavy imports (FastAPI, shapely, paho) inside their commands so
that `jaylym --help` stays fast on a small district server.
"""

from __future__ import annotations

import importlib
import sys

import typer

from jaylym.settings import SettingsError, get_settings

app = typer.Typer(
    name="jaylym",
    help="Jaylym: pasture telemetry for Unions of Pasture Users.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# name -> "module:attribute" of a typer.Typer mounted as a command group.
GROUPS: dict[str, str] = {
    "settings": "jaylym.cli.settings_cmd:app",
    "firmware": "jaylym.cli.firmware_cmd:app",
    "grafana": "dashboards.cli:app",
    "db": "jaylym.cli.db_cmd:app",
    "admin": "api.commands.admin:app",
    "device": "api.commands.device:app",
    "pasture": "api.commands.pasture:app",
    "herd": "api.commands.herd:app",
    "okrug": "api.commands.okrug:app",
    "coordinator": "api.commands.coordinator:app",
}
# name -> "module:attribute" of a plain function mounted as a command.
COMMANDS: dict[str, str] = {
    "version": "jaylym.cli.settings_cmd:version",
    "serve": "api.cli:serve",
    "demo": "api.cli:demo",
    "nmea": "jaylym.cli.firmware_cmd:nmea",
    "simulate": "jaylym.cli.firmware_cmd:simulate",
    "alerts": "api.cli:alerts",
    "ingest": "ingest.cli:ingest",
    "bench": "jaylym.cli.bench_cmd:bench",
}


def _load(ref: str) -> object:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Pasture telemetry: devices -> MQTT -> ingest -> time-series store -> API, alerts, Grafana."""
    from jaylym.logs import configure_logging

    configure_logging(get_settings())


for _name, _ref in GROUPS.items():
    _sub = _load(_ref)
    assert isinstance(_sub, typer.Typer)
    app.add_typer(_sub, name=_name)
for _name, _ref in COMMANDS.items():
    _func = _load(_ref)
    assert callable(_func)
    app.command(name=_name)(_func)


def main() -> None:
    """Console entry point: a bad setting is one line on stderr and exit code 2."""
    try:
        app()
    except SettingsError as exc:
        print(f"jaylym: invalid setting: {exc}", file=sys.stderr)
        sys.exit(2)

"""The one `jaylym` command: it lists its commands and each group answers --help."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jaylym.cli import COMMANDS, GROUPS, app

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in [*GROUPS, *COMMANDS]:
        assert name in result.output


@pytest.mark.parametrize("name", sorted([*GROUPS, *COMMANDS]))
def test_each_command_has_help(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output


def test_settings_show_json_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from jaylym.settings import get_settings

    monkeypatch.setenv("JAYLYM_INFLUX_PASSWORD", "hunter2")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["settings", "show", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    values = json.loads(result.output)
    assert values["influx_password"] == "**********"
    assert "hunter2" not in result.output

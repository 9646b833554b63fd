"""Settings: every JAYLYM_* variable is read, validated, and explained when wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jaylym.settings import Settings, SettingsError, load_settings, parse_mqtt_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("JAYLYM_") and not name.startswith("JAYLYM_TEST_"):
            monkeypatch.delenv(name)


def test_defaults_are_embedded_and_safe() -> None:
    s = load_settings()
    assert s.tsdb == "sqlite"
    assert s.registry_url.startswith("sqlite:///")
    assert s.registry_url.endswith("var/jaylym.db")


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAYLYM_TSDB", "influx")
    monkeypatch.setenv("JAYLYM_INFLUX_URL", "http://influx.local:8086")
    monkeypatch.setenv("JAYLYM_INFLUX_TOKEN", "s3cret")
    s = load_settings()
    assert s.tsdb == "influx"
    cfg = s.influx()
    assert cfg.url == "http://influx.local:8086"
    assert cfg.token is not None
    assert cfg.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(cfg)


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAYLYM_TSDB", "foo")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "JAYLYM_TSDB" in str(err.value)
    assert "\n" not in str(err.value)


def test_production_refuses_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAYLYM_ENV", "production")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "JAYLYM_DATABASE_URL" in str(err.value)
    assert "JAYLYM_MQTT_URL" in str(err.value)


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "password", "tls"),
    [
        ("mqtt://broker:1884", "broker", 1884, None, None, False),
        ("mqtts://dev%40x:p%3Aw@10.0.0.1", "10.0.0.1", 8883, "dev@x", "p:w", True),
        ("mqtt://127.0.0.1", "127.0.0.1", 1883, None, None, False),
    ],
)
def test_mqtt_url_parsing(url, host, port, user, password, tls) -> None:
    cfg = parse_mqtt_url(url)
    assert (cfg.host, cfg.port, cfg.username, cfg.tls) == (host, port, user, tls)
    assert (cfg.password.get_secret_value() if cfg.password else None) == password


@pytest.mark.parametrize("url", ["http://broker", "mqtt://", "broker:1883"])
def test_mqtt_url_rejected(url: str) -> None:
    with pytest.raises(ValueError, match=r"scheme|host"):
        parse_mqtt_url(url)


def test_every_setting_is_described() -> None:
    missing = [n for n, f in Settings.model_fields.items() if not f.description]
    assert missing == []


def test_readme_configuration_table_is_current() -> None:
    from pathlib import Path

    from jaylym.cli.settings_cmd import replace_readme_block, settings_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    absent = [n for n in Settings.model_fields if f"`JAYLYM_{n.upper()}`" not in readme]
    assert absent == [], "run `jaylym settings table --readme README.md`"
    assert replace_readme_block(readme, settings_table()) == readme, (
        "README settings table is stale: run `jaylym settings table --readme README.md`"
    )


def test_cli_bad_setting_is_one_line_not_a_traceback() -> None:
    env = {"JAYLYM_TSDB": "foo", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "jaylym", "settings", "show"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "JAYLYM_TSDB" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

"""Configuration of delivery: channels exist only when configured; secrets stay secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from api.alerts.setup import build_channels, build_deliverer
from jaylym.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("JAYLYM_") and not name.startswith("JAYLYM_TEST_"):
            monkeypatch.delenv(name)


def test_defaults_only_mqtt() -> None:
    settings = load_settings()
    config = settings.alerts_delivery()
    assert config.timezone == "Asia/Almaty"
    assert config.default_language == "kk"
    assert config.db_url == settings.registry_url  # the log lives in the registry database
    channels = build_channels(config)
    assert sorted(channels) == ["mqtt"]


def test_every_channel_when_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAYLYM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JAYLYM_WEBHOOK_SECRET", "hook-secret")
    monkeypatch.setenv("JAYLYM_SMS_GATEWAY", "smsc")
    monkeypatch.setenv("JAYLYM_SMS_LOGIN", "sogety")
    monkeypatch.setenv("JAYLYM_SMS_PASSWORD", "sms-secret")
    monkeypatch.setenv("JAYLYM_TELEGRAM_BOT_TOKEN", "123:tg-secret")
    monkeypatch.setenv("JAYLYM_ALERTS_TIMEZONE", "Asia/Aqtobe")
    config = load_settings().alerts_delivery()
    for secret in ("hook-secret", "sms-secret", "tg-secret"):
        assert secret not in repr(config)
    deliverer = build_deliverer(config)
    try:
        assert sorted(deliverer.channels) == ["mqtt", "sms", "telegram", "webhook"]
        assert deliverer.timezone == "Asia/Aqtobe"
        assert (tmp_path / "jaylym.db").exists()  # the registry database by default
    finally:
        deliverer.close()


def test_unknown_time_zone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAYLYM_ALERTS_TIMEZONE", "Asia/Nowhere")
    with pytest.raises(SettingsError, match="JAYLYM_ALERTS_TIMEZONE"):
        load_settings()

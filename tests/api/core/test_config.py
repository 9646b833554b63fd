"""The API's configuration slice refuses unsafe production settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from api.core.config import ApiConfig
from jaylym.settings import Settings

LU = {"cattle": 1.0, "horse": 1.25, "sheep": 0.2, "goat": 0.15, "camel": 1.25}


def test_production_refuses_the_development_pepper_and_sqlite() -> None:
    with pytest.raises(ValidationError, match="JAYLYM_TOKEN_PEPPER"):
        ApiConfig(env="production", database_url="postgresql+psycopg://db/j", livestock_units=LU)
    with pytest.raises(ValidationError, match="server database"):
        ApiConfig(
            env="production",
            database_url="sqlite:///x.db",
            livestock_units=LU,
            token_pepper=SecretStr("a-real-secret-pepper-value"),
        )


def test_settings_refuse_production_without_a_pepper() -> None:
    with pytest.raises(ValidationError, match="JAYLYM_TOKEN_PEPPER"):
        Settings(
            env="production",
            database_url="postgresql+psycopg://db/j",
            mqtt_url="mqtt://u:p@broker:1883",
        )
    ok = Settings(
        env="production",
        database_url="postgresql+psycopg://db/j",
        mqtt_url="mqtt://u:p@broker:1883",
        token_pepper="0123456789abcdef0123",
    )
    config = ApiConfig.from_settings(ok)
    assert config.token_pepper.get_secret_value() == "0123456789abcdef0123"
    assert config.livestock_units == LU


def test_slice_is_closed() -> None:
    with pytest.raises(ValidationError):
        ApiConfig(database_url="sqlite://", livestock_units=LU, surprise=1)  # type: ignore[call-arg]

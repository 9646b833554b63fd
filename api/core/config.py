"""The API's slice of `jaylym.settings.Settings` (it never reads the environment itself)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from jaylym.settings import Settings

# Development-only pepper: refused in production (Settings refuses an unset pepper there).
DEV_PEPPER = "jaylym-development-pepper-not-secret"


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str = "development"
    database_url: str
    token_pepper: SecretStr = SecretStr(DEV_PEPPER)
    auth_fail_limit: int = Field(10, ge=1)
    auth_fail_window_s: float = Field(60.0, gt=0)
    livestock_units: dict[str, float]
    mqtt_passwd_file: Path | None = None
    mqtt_reload_pid_file: Path | None = None
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    shared_max_age_s: float = Field(5.0, ge=0)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> ApiConfig:
        if self.env == "production":
            if self.token_pepper.get_secret_value() == DEV_PEPPER:
                raise ValueError("production needs JAYLYM_TOKEN_PEPPER")
            if self.database_url.startswith("sqlite"):
                raise ValueError("production needs a server database (JAYLYM_DATABASE_URL)")
        return self

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiConfig:
        return cls(
            env=settings.env,
            database_url=settings.registry_url,
            token_pepper=settings.token_pepper or SecretStr(DEV_PEPPER),
            auth_fail_limit=settings.auth_fail_limit,
            auth_fail_window_s=settings.auth_fail_window_s,
            livestock_units=settings.livestock_units(),
            mqtt_passwd_file=settings.mqtt_passwd_file,
            mqtt_reload_pid_file=settings.mqtt_reload_pid_file,
            max_body_bytes=settings.api_max_body_bytes,
            shared_max_age_s=settings.api_shared_max_age_s,
        )

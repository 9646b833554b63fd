"""The one settings model: every `JAYLYM_*` environment variable is a field here.

Subsystems take their slice through small `extra="forbid"` models (see `mqtt()`, `influx()`),
so a service never reads the environment itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVICE_ID_PATTERN = r"^[a-z0-9-]{3,32}$"


class MqttConfig(BaseModel):
    """Where the broker is and who we are on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False


class InfluxConfig(BaseModel):
    """How to reach InfluxDB through its v1-compatible HTTP API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    database: str
    retention_policy: str | None = None
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = 10.0
    batch_size: int = 5000
    flush_interval_s: float = 1.0
    gzip: bool = True


def parse_mqtt_url(url: str) -> MqttConfig:
    """`mqtt://user:pass@host:port` (or `mqtts://`) into its parts; percent-escapes allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"scheme must be mqtt:// or mqtts://, got {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise ValueError("no host in MQTT URL")
    tls = parts.scheme in ("mqtts", "ssl")
    return MqttConfig(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=SecretStr(unquote(parts.password)) if parts.password else None,
        tls=tls,
    )


class Settings(BaseSettings):
    """Jaylym's configuration. Each field is read from `JAYLYM_<FIELD NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="JAYLYM_",
        extra="forbid",
        case_sensitive=False,
        validate_default=True,
    )

    env: Literal["development", "test", "production"] = Field(
        "development",
        description="Deployment kind. `production` refuses unsafe defaults (embedded stores, "
        "anonymous broker access).",
    )
    data_dir: Path = Field(
        Path("./var"),
        description="Directory for local state: SQLite files, the ingest spool, demo data.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of every service."
    )
    log_format: Literal["json", "console"] = Field(
        "json", description="`json` for machines (default), `console` for people at a terminal."
    )

    mqtt_url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="Broker URL, `mqtt://user:pass@host:port` or `mqtts://…` for TLS.",
    )

    tsdb: Literal["influx", "sqlite"] = Field(
        "sqlite",
        description="Time-series store: `influx` (InfluxDB v1-compatible API) or `sqlite` "
        "(embedded file under the data directory).",
    )
    influx_url: str = Field(
        "http://127.0.0.1:8086", description="InfluxDB base URL (v1-compatible HTTP API)."
    )
    influx_db: str = Field(
        "jaylym",
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description="InfluxDB database (the bucket mapped through DBRP on 2.x/3.x).",
    )
    influx_retention_policy: str | None = Field(
        None, description="Retention policy to write into; the database default when unset."
    )
    influx_token: SecretStr | None = Field(
        None, description="Token for `Authorization: Token …` (InfluxDB 2.x/3.x)."
    )
    influx_username: str | None = Field(None, description="InfluxDB 1.x username.")
    influx_password: SecretStr | None = Field(None, description="InfluxDB 1.x password.")
    influx_timeout_s: float = Field(10.0, gt=0, description="Per-request timeout, seconds.")
    influx_batch_size: int = Field(5000, ge=1, le=100_000, description="Lines per write request.")
    influx_flush_interval_s: float = Field(
        1.0, gt=0, description="Longest a partial batch waits before it is written, seconds."
    )
    influx_gzip: bool = Field(True, description="Gzip write bodies.")

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the registry. Default: SQLite file "
        "`<data_dir>/jaylym.db`. Production: `postgresql+psycopg://…`.",
    )

    api_host: str = Field("127.0.0.1", description="Address `jaylym serve` binds to.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `jaylym serve` binds to.")

    grafana_url: str | None = Field(
        None, description="Grafana base URL that `jaylym grafana push` sends dashboards to."
    )
    grafana_token: SecretStr | None = Field(
        None,
        description="Grafana service-account token (Editor or Admin) for `jaylym grafana push`.",
    )
    grafana_api_url: str = Field(
        "http://127.0.0.1:8000",
        description="Jaylym API base URL as Grafana reaches it (the `jaylym-api` datasource).",
    )
    grafana_api_token: SecretStr | None = Field(
        None,
        description="Read-only coordinator API token Grafana uses for alerts and pasture "
        "polygons. Create it with `jaylym admin token create`.",
    )

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_parses(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        if self.database_url is None or self.database_url.startswith("sqlite"):
            problems.append("JAYLYM_DATABASE_URL must name a server database in production")
        if parse_mqtt_url(self.mqtt_url).username is None:
            problems.append("JAYLYM_MQTT_URL must carry credentials in production")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def registry_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'jaylym.db'}"

    def mqtt(self) -> MqttConfig:
        return parse_mqtt_url(self.mqtt_url)

    def influx(self) -> InfluxConfig:
        return InfluxConfig(
            url=self.influx_url,
            database=self.influx_db,
            retention_policy=self.influx_retention_policy,
            token=self.influx_token,
            username=self.influx_username,
            password=self.influx_password,
            timeout_s=self.influx_timeout_s,
            batch_size=self.influx_batch_size,
            flush_interval_s=self.influx_flush_interval_s,
            gzip=self.influx_gzip,
        )


class SettingsError(Exception):
    """A setting is wrong; the message names it and fits on one line."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad `JAYLYM_*` variable and what is wrong with it."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p != "__root__"]
        name = "JAYLYM_" + loc[0].upper() if loc else "settings"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {msg}")
    return "; ".join(parts)


def load_settings() -> Settings:
    """Read the environment, or raise `SettingsError` with a one-line message."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()

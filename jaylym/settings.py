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


class IngestConfig(BaseModel):
    """The ingest's slice of the settings (see the `ingest_*` fields of `Settings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = "jaylym-ingest"
    mqtt_protocol: Literal["3.1.1", "5"] = "3.1.1"
    session_expiry_s: int = 14 * 24 * 3600
    shared_group: str | None = None
    batch_max: int = 500
    flush_interval_s: float = 0.2
    max_payload_bytes: int = 65536
    max_future_s: int = 600
    max_age_days: int = 400
    dedup_window: int = 200_000
    spool_dir: Path = Path("./var/spool")
    spool_max_bytes: int = 512 * 1024 * 1024
    max_speed_kmh: float = 15.0
    max_hdop: float = 10.0
    soil_saturation_pct: float = 50.0
    flatline_h: float = 12.0
    directory_ttl_s: float = 30.0
    metrics_port: int = 9108
    metrics_host: str = "127.0.0.1"


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

    ingest_client_id: str = Field(
        "jaylym-ingest",
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description="Stable MQTT client id of the ingest: the broker keeps its persistent "
        "session under this name. Give each process of a shared group its own id.",
    )
    ingest_mqtt_protocol: Literal["3.1.1", "5"] = Field(
        "3.1.1",
        description="MQTT protocol of the ingest's subscription, `3.1.1` or `5`. Both resume a "
        "70 000-message backlog on Mosquitto 2.0.11; 3.1.1 also works with the demo's amqtt.",
    )
    ingest_session_expiry_s: int = Field(
        14 * 24 * 3600,
        ge=60,
        description="MQTT 5 session expiry: how long the broker keeps queueing for a stopped "
        "ingest, seconds.",
    )
    ingest_shared_group: str | None = Field(
        None,
        pattern=r"^[a-z0-9-]{1,32}$",
        description="Subscribe through `$share/<name>/…` so several ingest processes split "
        "the load.",
    )
    ingest_batch_max: int = Field(
        500,
        ge=1,
        le=65535,
        description="Most messages per durable write and acknowledgement batch; keep it "
        "within the broker's `max_inflight_messages`.",
    )
    ingest_flush_interval_s: float = Field(
        0.2, gt=0, le=10, description="Longest a partial batch waits before it is written, s."
    )
    ingest_max_payload_bytes: int = Field(
        65536, ge=256, description="Larger messages are dead-lettered as `too_large`."
    )
    ingest_max_future_s: int = Field(
        600, ge=0, description="Readings further in the future than this are rejected, s."
    )
    ingest_max_age_days: int = Field(
        400,
        ge=1,
        description="Readings older than this (the store's retention) are rejected, days.",
    )
    ingest_dedup_window: int = Field(
        200_000,
        ge=100,
        description="How many recent (device, seq, ts) keys are remembered to drop exact "
        "repeats before they cost a write.",
    )
    ingest_spool_max_bytes: int = Field(
        512 * 1024 * 1024,
        ge=65536,
        description="Size bound of the on-disk spool used while the store is unreachable; "
        "when full the ingest stops acknowledging and the broker holds the backlog.",
    )
    ingest_max_speed_kmh: float = Field(
        15.0, gt=0, description="Collar fixes implying a faster move are flagged `speed`."
    )
    ingest_max_hdop: float = Field(10.0, gt=0, description="Fixes above this HDOP are flagged.")
    ingest_soil_saturation_pct: float = Field(
        50.0,
        gt=0,
        le=100,
        description="Volumetric water content at saturation, percent (ISMN flags C03, D10).",
    )
    ingest_flatline_h: float = Field(
        12.0, gt=0, description="A soil value unchanged this long is flagged D09/D10, hours."
    )
    ingest_directory_ttl_s: float = Field(
        30.0, ge=0, description="How long a device looked up in the registry is cached, s."
    )
    ingest_metrics_port: int = Field(
        9108,
        ge=0,
        le=65535,
        description="Port of the ingest's Prometheus `/metrics` and `/healthz` (0: off).",
    )
    ingest_metrics_host: str = Field(
        "127.0.0.1", description="Address the ingest's metrics endpoint binds to."
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

    def ingest(self) -> IngestConfig:
        return IngestConfig(
            **{
                name.removeprefix("ingest_"): getattr(self, name)
                for name in type(self).model_fields
                if name.startswith("ingest_")
            },
            spool_dir=self.data_dir / "spool",
        )

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

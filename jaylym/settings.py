"""The one settings model: every `JAYLYM_*` environment variable is a field here.

Subsystems take their slice through small `extra="forbid"` models (see `mqtt()`, `influx()`),
so a service never reads the environment itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal
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

if TYPE_CHECKING:  # the grazing model is imported only when asked for (see `grazing()`)
    from api.grazing.config import GrazingConfig

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
    retries: int = Field(3, ge=0, le=10)
    retry_backoff_s: float = Field(0.5, ge=0)


class IngestConfig(BaseModel):
    """The ingest's slice of the settings (see the `ingest_*` fields of `Settings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = "jaylym-ingest"
    mqtt_protocol: Literal["3.1.1", "5"] = "3.1.1"
    session_expiry_s: int = 14 * 24 * 3600
    shared_group: str | None = None
    batch_max: int = 2000
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
    stats_interval_s: float = 60.0
    overlap_commit: bool = False


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


def _json_object(value: str) -> object:
    import json

    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None


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
    influx_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of a request after a 5xx, timeout or connection error, before "
        "the store reports itself unavailable.",
    )
    influx_retry_backoff_s: float = Field(
        0.5,
        ge=0,
        description="First retry delay, seconds; doubled per retry (capped at 10 s), with jitter.",
    )
    tsdb_retention_days: int = Field(
        0,
        ge=0,
        description="Embedded SQLite store only: delete readings older than this many days "
        "(checked at start and hourly). 0 keeps everything.",
    )

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the registry. Default: SQLite file "
        "`<data_dir>/jaylym.db`. Production: `postgresql+psycopg://…`.",
    )

    api_host: str = Field("127.0.0.1", description="Address `jaylym serve` binds to.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `jaylym serve` binds to.")
    api_shared_max_age_s: float = Field(
        5.0,
        ge=0,
        description="How old the district-wide answers that polling requests share may be, s: "
        "the latest positions (`GET /positions/latest`) and the season's grazing figures "
        "(`GET /pastures/grazing`), each computed once per period however many clients poll, "
        "then scoped per caller; also how long each scope's finished answer and a verified "
        "token are reused at most (a registry write through the API drops them at once; one "
        "by another process, e.g. the CLI, is seen within this). 0: computed for every "
        "request.",
    )
    api_keep_alive_s: int = Field(
        75,
        ge=1,
        description="How long `jaylym serve` keeps an idle HTTP connection open, s. Longer "
        "than a reverse proxy's or a busy client's own idle time: when the server closes "
        "first, a request sent on the closing connection fails (uvicorn's 5 s default made "
        "50 polling clients lose answers that way).",
    )

    alerts_timezone: str = Field(
        "Asia/Almaty",
        description="IANA time zone in which alert messages show times (herders read local time).",
    )
    alerts_default_language: Literal["kk", "ru", "en"] = Field(
        "kk", description="Language of alert messages for a recipient who has not chosen one."
    )
    alerts_delivery_db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the alert delivery log (attempts, idempotency keys). "
        "Default: the registry database (its migrations create the tables); set it only to "
        "keep the log apart.",
    )
    delivery_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Timeout of one delivery request (HTTP or MQTT PUBACK)."
    )
    delivery_max_attempts: int = Field(
        12,
        ge=1,
        le=50,
        description="Attempts per alert delivery before it is marked failed (12 with the "
        "default back-off: at least 25 min of retries, so a 10-min outage is survived).",
    )
    delivery_backoff_base_s: float = Field(
        5.0, gt=0, description="First retry delay; doubles each attempt, with random jitter."
    )
    delivery_backoff_max_s: float = Field(
        600.0, gt=0, description="Longest delay between two delivery attempts (before jitter)."
    )
    delivery_max_retry_after_s: float = Field(
        3600.0,
        gt=0,
        description="Longest `retry_after` a channel may ask for (HTTP 429); beyond it the "
        "delivery fails rather than waits.",
    )
    webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key that signs alert webhooks. Webhooks are off when unset."
    )
    webhook_allow_http: bool = Field(
        False, description="Allow plain `http://` webhook URLs (default: https only)."
    )
    sms_gateway: str = Field(
        "mobizon",
        description="SMS gateway template: `mobizon`, `smsc` (shipped in "
        "api/alerts/channels/sms_gateways/) or the path of a JSON template of your own.",
    )
    sms_base_url: str | None = Field(
        None, description="Override the gateway template's base URL (a proxy, a test server)."
    )
    sms_api_key: SecretStr | None = Field(
        None, description="SMS gateway API key (Mobizon). SMS is off without credentials."
    )
    sms_login: str | None = Field(None, description="SMS gateway login (SMSC).")
    sms_password: SecretStr | None = Field(None, description="SMS gateway password (SMSC).")
    sms_sender: str | None = Field(
        None, description="Registered sender name (alpha name); the gateway default when unset."
    )
    telegram_bot_token: SecretStr | None = Field(
        None, description="Telegram bot token for alert messages. Telegram is off when unset."
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Telegram Bot API base URL."
    )
    alert_evaluation_interval_s: float = Field(
        60.0, gt=0, description="How often the alert engine evaluates every rule, seconds."
    )
    alert_repeat_interval_s: int = Field(
        21600,
        ge=0,
        description="Re-notify an open, unacknowledged alert this often, seconds (0: never).",
    )
    alert_rules: str | None = Field(
        None,
        description="Alert thresholds overriding the defaults, as JSON, e.g. "
        '`{"overgrazing": {"warning": 0.7}, "stray": {"sustain_s": 3600}}` '
        "(keys as in docs/alerts.md; unknown keys are refused).",
    )

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
        "polygons. Create it with `jaylym admin token create --role viewer`.",
    )
    grazing_utilisation: float = Field(
        0.5, gt=0, le=1, description="Share of a season's forage that may be grazed (take half)."
    )
    grazing_intake_kg_dm_per_lu_day: float = Field(
        11.8, gt=0, description="Dry-matter intake of one livestock unit per day, kg."
    )
    grazing_max_gap_intervals: float = Field(
        3.0, gt=0, description="A collar fix holds for at most this many expected intervals."
    )
    grazing_max_gap_cap_s: int = Field(
        7200, gt=0, le=7200, description="A collar fix never holds longer than this, s (≤ 2 h)."
    )
    grazing_moisture_window_days: float = Field(
        14.0, gt=0, description="Soil readings this far back feed the moisture factor, days."
    )
    grazing_moisture_station_radius_m: float = Field(
        5000.0, ge=0, description="A pasture without a station uses the nearest within this, m."
    )
    grazing_wilting_point_pct: float = Field(
        12.0, ge=0, le=100, description="Default wilting point of a soil station, VWC % (loam)."
    )
    grazing_field_capacity_pct: float = Field(
        28.0, ge=0, le=100, description="Default field capacity of a soil station, VWC % (loam)."
    )
    grazing_season_starts: str | None = Field(
        None,
        description="Local season start (MM-DD) per pasture kind as JSON, overriding the "
        'defaults, e.g. `{"summer": "06-10"}` (kinds: spring, summer, autumn, winter, '
        "year_round). Dates are local to JAYLYM_ALERTS_TIMEZONE.",
    )
    alerts_in_serve: bool = Field(
        True,
        description="Run the alert engine and the delivery worker inside `jaylym serve`. "
        "Turn off when `jaylym alerts` runs as its own process.",
    )
    token_pepper: SecretStr | None = Field(
        None,
        description="Secret mixed into API token hashes (HMAC-SHA256), so a leaked registry "
        "database alone cannot verify tokens. Required in production.",
    )
    auth_fail_limit: int = Field(
        10, ge=1, description="Failed API authentications per client before it is refused (429)."
    )
    auth_fail_window_s: float = Field(
        60.0, gt=0, description="Window over which failed authentications are counted, seconds."
    )
    api_max_body_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Largest request body the API reads, bytes; larger ones get 413 before any "
        "parsing (a GeoJSON import bigger than this is split into several requests).",
    )
    lu_cattle: float = Field(1.0, gt=0, le=10, description="Livestock units per head of cattle.")
    lu_horse: float = Field(1.25, gt=0, le=10, description="Livestock units per horse.")
    lu_sheep: float = Field(0.20, gt=0, le=10, description="Livestock units per sheep.")
    lu_goat: float = Field(0.15, gt=0, le=10, description="Livestock units per goat.")
    lu_camel: float = Field(1.25, gt=0, le=10, description="Livestock units per camel.")
    mqtt_passwd_file: Path | None = Field(
        None,
        description="Mosquitto password file the registry writes device credentials into "
        "(shared with the broker). Unset: devices get credentials but the broker is not told.",
    )
    mqtt_reload_pid_file: Path | None = Field(
        None,
        description="File holding the broker's PID; after a password-file change the registry "
        "sends it SIGHUP. Unset (docker-compose): the broker's entrypoint watches the file.",
    )
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
        2000,
        ge=1,
        le=65535,
        description="Most messages per durable write and acknowledgement batch; keep it "
        "within the broker's `max_inflight_messages` (2000 in deploy/mosquitto).",
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
    ingest_stats_interval_s: float = Field(
        60.0,
        ge=0.1,
        le=3600,
        description="How often the ingest writes its `device_stats` and `dlq` increments to "
        "the time-series store (for the Devices dashboard), seconds.",
    )
    ingest_overlap_commit: bool = Field(
        False,
        description="Decode the next batch on a second thread's time while the previous one "
        "is written and committed; two batches then sit in the broker's window, so keep twice "
        "`JAYLYM_INGEST_BATCH_MAX` within `max_inflight_messages`. For a store and registry on "
        "other hosts; with everything on one busy 2-core machine it cost CPU "
        "(bench/results/ingest-round2.md).",
    )

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_parses(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @field_validator("alerts_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("grazing_season_starts")
    @classmethod
    def _season_starts_is_a_json_object(cls, value: str | None) -> str | None:
        if value is not None and not isinstance(_json_object(value), dict):
            raise ValueError("must be a JSON object")
        return value

    @field_validator("alert_rules")
    @classmethod
    def _alert_rules_is_a_json_object(cls, value: str | None) -> str | None:
        if value is not None and not isinstance(_json_object(value), dict):
            raise ValueError("must be a JSON object")
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
        if self.token_pepper is None or len(self.token_pepper.get_secret_value()) < 16:
            problems.append("JAYLYM_TOKEN_PEPPER must be set (16+ characters) in production")
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
            retries=self.influx_retries,
            retry_backoff_s=self.influx_retry_backoff_s,
        )

    def alerts_delivery(self) -> AlertsDeliveryConfig:
        return AlertsDeliveryConfig(
            timezone=self.alerts_timezone,
            default_language=self.alerts_default_language,
            db_url=self.alerts_delivery_db_url or self.registry_url,
            timeout_s=self.delivery_timeout_s,
            max_attempts=self.delivery_max_attempts,
            backoff_base_s=self.delivery_backoff_base_s,
            backoff_max_s=self.delivery_backoff_max_s,
            max_retry_after_s=self.delivery_max_retry_after_s,
            mqtt=self.mqtt(),
            webhook_secret=self.webhook_secret,
            webhook_allow_http=self.webhook_allow_http,
            sms_gateway=self.sms_gateway,
            sms_base_url=self.sms_base_url,
            sms_api_key=self.sms_api_key,
            sms_login=self.sms_login or "",
            sms_password=self.sms_password,
            sms_sender=self.sms_sender or "",
            telegram_bot_token=self.telegram_bot_token,
            telegram_api_url=self.telegram_api_url,
        )

    @property
    def tsdb_path(self) -> Path:
        """The embedded time-series store's file."""
        return self.data_dir / "tsdb.sqlite3"

    def livestock_units(self) -> dict[str, float]:
        """LU per head by species: deployment configuration (a ministry order may change it)."""
        return {
            "cattle": self.lu_cattle,
            "horse": self.lu_horse,
            "sheep": self.lu_sheep,
            "goat": self.lu_goat,
            "camel": self.lu_camel,
        }

    def grazing(self) -> GrazingConfig:
        """The grazing model's slice: LU coefficients are the registry's (one source of
        truth), local dates follow the alerts' time zone."""
        import json

        from api.grazing.config import DEFAULT_SEASON_STARTS, GrazingConfig

        starts = dict(DEFAULT_SEASON_STARTS)
        if self.grazing_season_starts:
            starts |= json.loads(self.grazing_season_starts)
        return GrazingConfig(
            lu_coefficients=self.livestock_units(),
            utilisation=self.grazing_utilisation,
            intake_kg_dm_per_lu_day=self.grazing_intake_kg_dm_per_lu_day,
            max_gap_intervals=self.grazing_max_gap_intervals,
            max_gap_cap_s=self.grazing_max_gap_cap_s,
            moisture_window_days=self.grazing_moisture_window_days,
            moisture_station_radius_m=self.grazing_moisture_station_radius_m,
            wilting_point_pct=self.grazing_wilting_point_pct,
            field_capacity_pct=self.grazing_field_capacity_pct,
            season_starts=starts,  # validated by GrazingConfig
            timezone=self.alerts_timezone,
        )


class AlertsDeliveryConfig(BaseModel):
    """What alert delivery needs: message locale defaults, retry policy, channel credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str
    default_language: Literal["kk", "ru", "en"]
    db_url: str
    timeout_s: float
    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    max_retry_after_s: float
    mqtt: MqttConfig
    webhook_secret: SecretStr | None = None
    webhook_allow_http: bool = False
    sms_gateway: str
    sms_base_url: str | None = None
    sms_api_key: SecretStr | None = None
    sms_login: str = ""
    sms_password: SecretStr | None = None
    sms_sender: str = ""
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str


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

"""The registry's tables as SQLAlchemy 2 ORM classes.

Geometry is kept as GeoJSON text (validated by `jaylym.geo` before it gets here) rather than
PostGIS: the registry must run on SQLite too, and the area is computed once, geodesically,
at write time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SPECIES: tuple[str, ...] = ("cattle", "horse", "sheep", "goat", "camel")
SEASONS: tuple[str, ...] = ("spring", "summer", "autumn", "winter", "year_round")
PASTURE_STATUSES: tuple[str, ...] = ("open", "resting", "closed")
LANGUAGES: tuple[str, ...] = ("kk", "ru", "en")
CHANNELS: tuple[str, ...] = ("sms", "telegram", "mqtt", "webhook")
ROLES: tuple[str, ...] = ("admin", "coordinator", "herder", "viewer")
DLQ_PAYLOAD_MAX = 4096  # bytes of a dead-lettered payload kept; payload_size has the full size


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the registry keeps every time in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Okrug(Base):
    __tablename__ = "okrug"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_kk: Mapped[str] = mapped_column(String(200))
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Pasture(Base):
    __tablename__ = "pasture"
    __table_args__ = (
        CheckConstraint("area_ha > 0", name="area_positive"),
        CheckConstraint("rest_days >= 0", name="rest_days_nonneg"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    okrug_id: Mapped[str] = mapped_column(ForeignKey("okrug.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    area_ha: Mapped[float] = mapped_column(Float)
    season: Mapped[str] = mapped_column(String(16))
    forage_kg_dm_ha: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_lu_per_ha: Mapped[float | None] = mapped_column(Float, nullable=True)
    rest_days: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Herder(Base):
    __tablename__ = "herder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    okrug_id: Mapped[str] = mapped_column(ForeignKey("okrug.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(16))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    language: Mapped[str] = mapped_column(String(2), default="kk")
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Herd(Base):
    __tablename__ = "herd"
    __table_args__ = tuple(CheckConstraint(f"{s} >= 0", name=f"{s}_nonneg") for s in SPECIES)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    okrug_id: Mapped[str] = mapped_column(ForeignKey("okrug.id"), index=True)
    herder_id: Mapped[int | None] = mapped_column(
        ForeignKey("herder.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    cattle: Mapped[int] = mapped_column(Integer, default=0)
    horse: Mapped[int] = mapped_column(Integer, default=0)
    sheep: Mapped[int] = mapped_column(Integer, default=0)
    goat: Mapped[int] = mapped_column(Integer, default=0)
    camel: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def composition(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in SPECIES}

    def livestock_units(self, coefficients: dict[str, float]) -> float:
        return sum(coefficients[s] * n for s, n in self.composition().items())


class GrazingPlanEntry(Base):
    __tablename__ = "grazing_plan_entry"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="dates_ordered"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pasture_id: Mapped[str] = mapped_column(
        ForeignKey("pasture.id", ondelete="CASCADE"), index=True
    )
    herd_id: Mapped[str | None] = mapped_column(
        ForeignKey("herd.id", ondelete="CASCADE"), nullable=True, index=True
    )
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")


class Device(Base):
    __tablename__ = "device"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    okrug_id: Mapped[str] = mapped_column(ForeignKey("okrug.id"), index=True)
    herd_id: Mapped[str | None] = mapped_column(
        ForeignKey("herd.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    depths_cm: Mapped[list[int]] = mapped_column(JSON, default=list)
    calibration: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expected_interval_s: Mapped[int] = mapped_column(Integer, default=900)
    dev_eui: Mapped[str | None] = mapped_column(String(16), nullable=True, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Mosquitto `$7$` hash of the MQTT password: the broker's password file can be rebuilt
    # from the registry; the password itself is shown once and never stored.
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    role: Mapped[str] = mapped_column(String(16))
    # Coordinator scope: okrug ids, or NULL for the whole district.
    okrugs: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    herder_id: Mapped[int | None] = mapped_column(
        ForeignKey("herder.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeviceStats(Base):
    """Per-device counters the ingest keeps (no foreign key: unknown devices are counted too)."""

    __tablename__ = "device_stats"

    device_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    missing: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DlqMessage(Base):
    """A message the ingest could not accept, kept for inspection (payload truncated)."""

    __tablename__ = "dlq_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)

"""Coordinators as alert recipients (herders are in `models`): how to reach them.

A separate module from `models` so the alert wiring owns it; it shares the registry's
`Base`, so migrations and sessions see one schema.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from jaylym.registry.models import Base, UTCDateTime, utcnow


class Coordinator(Base):
    """A person of the okrug's Union of Pasture Users who is told about every alert of their
    okrugs. `okrugs` None means the whole district."""

    __tablename__ = "coordinator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    okrugs: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    language: Mapped[str] = mapped_column(String(2), default="kk")
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

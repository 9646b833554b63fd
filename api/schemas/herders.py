from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.common import Channel, Language, Name, Phone, Slug, example

_EX = {
    "okrug_id": "sogety",
    "name": "Серік Әбілов",
    "phone": "+77011234567",
    "telegram_chat_id": 123456789,
    "language": "kk",
    "channels": ["sms", "telegram"],
}


def _default_channels() -> list[Channel]:
    return ["sms"]


class HerderCreate(BaseModel):
    model_config = example(_EX, extra="forbid")
    okrug_id: Slug
    name: Name
    phone: Phone
    telegram_chat_id: int | None = Field(None, ge=-(2**52), le=2**52)
    language: Language = "kk"
    channels: list[Channel] = Field(default_factory=_default_channels, max_length=4)


class HerderUpdate(BaseModel):
    model_config = example({"language": "ru", "channels": ["sms"]}, extra="forbid")
    name: Name | None = None
    phone: Phone | None = None
    telegram_chat_id: int | None = Field(None, ge=-(2**52), le=2**52)
    language: Language | None = None
    channels: list[Channel] | None = Field(None, max_length=4)


class HerderRead(BaseModel):
    model_config = example({"id": 7, **_EX, "created_at": "2026-05-01T06:00:00Z"})
    id: int
    okrug_id: str
    name: str
    phone: str
    telegram_chat_id: int | None
    language: str
    channels: list[str]
    created_at: datetime

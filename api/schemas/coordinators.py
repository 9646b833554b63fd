"""Coordinators as alert recipients: who they are, their okrugs, language and channels."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import Channel, Language, Name, Phone, Slug, example


class CoordinatorCreate(BaseModel):
    model_config = example(
        {
            "name": "Dana Seitkali",
            "okrugs": ["sogety"],
            "language": "kk",
            "phone": "+77017778899",
            "telegram_chat_id": 123456789,
            "webhook_url": None,
            "channels": ["telegram", "sms"],
        }
    )

    name: Name
    okrugs: list[Slug] | None = Field(
        None, description="Okrugs whose alerts they receive; null: the whole district."
    )
    language: Language = "kk"
    phone: Phone | None = None
    telegram_chat_id: int | None = None
    webhook_url: str | None = Field(None, max_length=512, pattern=r"^https?://")
    channels: list[Channel] = Field(default_factory=list, max_length=4)

    @model_validator(mode="after")
    def _reachable(self) -> CoordinatorCreate:
        needs = {"sms": self.phone, "telegram": self.telegram_chat_id, "webhook": self.webhook_url}
        for channel in self.channels:
            if channel in needs and needs[channel] is None:
                raise ValueError(f"channel {channel!r} needs its address")
        return self


class CoordinatorRead(CoordinatorCreate):
    model_config = example({"id": 1, "name": "Dana Seitkali", "okrugs": ["sogety"]})

    id: int
    active: bool

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from api.schemas.common import Name, Slug, example

_EX = {"id": "sogety", "name_kk": "Сөгеті", "name_ru": "Согеты", "name_en": "Sogety"}


class OkrugCreate(BaseModel):
    model_config = example(_EX, extra="forbid")
    id: Slug
    name_kk: Name
    name_ru: Name
    name_en: Name


class OkrugUpdate(BaseModel):
    model_config = example({"name_en": "Sogety rural district"}, extra="forbid")
    name_kk: Name | None = None
    name_ru: Name | None = None
    name_en: Name | None = None


class OkrugRead(BaseModel):
    model_config = example({**_EX, "created_at": "2026-05-01T06:00:00Z"}, from_attributes=True)
    id: str
    name_kk: str
    name_ru: str
    name_en: str
    created_at: datetime

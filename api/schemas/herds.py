from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.common import Name, Slug, example

Head = Field(0, ge=0, le=100_000)


class Composition(BaseModel):
    model_config = example({"cattle": 12, "horse": 8, "sheep": 240, "goat": 30, "camel": 0})
    cattle: int = Head
    horse: int = Head
    sheep: int = Head
    goat: int = Head
    camel: int = Head


_EX = {
    "id": "abilov-flock",
    "okrug_id": "sogety",
    "herder_id": 7,
    "name": "Abilov flock",
    "composition": {"cattle": 12, "horse": 8, "sheep": 240, "goat": 30, "camel": 0},
}


class HerdCreate(BaseModel):
    model_config = example(_EX, extra="forbid")
    id: Slug
    okrug_id: Slug
    herder_id: int | None = Field(None, ge=1, le=2**31 - 1)
    name: Name
    composition: Composition = Field(default_factory=Composition)


class HerdUpdate(BaseModel):
    model_config = example({"composition": {"sheep": 260, "goat": 25}}, extra="forbid")
    herder_id: int | None = Field(None, ge=1, le=2**31 - 1)
    name: Name | None = None
    composition: Composition | None = None


class HerdRead(BaseModel):
    model_config = example({**_EX, "livestock_units": 75.5, "created_at": "2026-05-01T06:00:00Z"})
    id: str
    okrug_id: str
    herder_id: int | None
    name: str
    composition: Composition
    livestock_units: float = Field(description="Sum of head x LU coefficient in use.")
    created_at: datetime


class LivestockUnits(BaseModel):
    model_config = example(
        {"cattle": 1.0, "horse": 1.25, "sheep": 0.2, "goat": 0.15, "camel": 1.25}
    )
    cattle: float
    horse: float
    sheep: float
    goat: float
    camel: float

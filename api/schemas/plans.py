from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import Slug, example

_EX = {
    "pasture_id": "kokzhailau",
    "herd_id": "abilov-flock",
    "start_date": "2026-06-01",
    "end_date": "2026-08-15",
    "note": "summer jailau",
}


class PlanEntryCreate(BaseModel):
    model_config = example(_EX, extra="forbid")
    pasture_id: Slug
    herd_id: Slug | None = Field(None, description="Null: any herd of the okrug.")
    start_date: date
    end_date: date
    note: str = Field("", max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> PlanEntryCreate:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class PlanEntryUpdate(BaseModel):
    model_config = example({"end_date": "2026-08-31"}, extra="forbid")
    start_date: date | None = None
    end_date: date | None = None
    note: str | None = Field(None, max_length=500)


class PlanEntryRead(BaseModel):
    model_config = example({"id": 3, **_EX}, from_attributes=True)
    id: int
    pasture_id: str
    herd_id: str | None
    start_date: date
    end_date: date
    note: str

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import Name, Role, Slug, example

_EX = {"name": "Sogety coordinator laptop", "role": "coordinator", "okrugs": ["sogety"]}


class TokenCreate(BaseModel):
    model_config = example(
        _EX, {"name": "Serik phone", "role": "herder", "herder_id": 7}, extra="forbid"
    )
    name: Name
    role: Role
    okrugs: list[Slug] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Coordinator (or viewer) scope; null for the whole district.",
    )
    herder_id: int | None = Field(None, ge=1, le=2**31 - 1, description="Herder tokens only.")
    expires_at: datetime | None = None

    @model_validator(mode="after")
    def _scope_fits_role(self) -> TokenCreate:
        if self.role == "herder" and self.herder_id is None:
            raise ValueError("a herder token needs herder_id")
        if self.role != "herder" and self.herder_id is not None:
            raise ValueError("herder_id is for herder tokens only")
        if self.role not in ("coordinator", "viewer") and self.okrugs is not None:
            raise ValueError("okrugs is for coordinator and viewer tokens only")
        return self


_READ_EX: dict[str, Any] = {
    "id": 4,
    **_EX,
    "herder_id": None,
    "prefix": "jly_Xk3f9a",
    "created_at": "2026-05-01T06:00:00Z",
    "expires_at": None,
    "revoked_at": None,
    "last_used_at": None,
}


class TokenRead(BaseModel):
    model_config = example(_READ_EX, from_attributes=True)
    id: int
    name: str
    role: str
    okrugs: list[str] | None
    herder_id: int | None
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    model_config = example(
        {
            **_READ_EX,
            "token": "jly_Xk3f9a…",
        }
    )
    token: str = Field(description="Shown once; only its hash is kept.")


class Me(BaseModel):
    model_config = example(
        {"token_id": 4, "role": "coordinator", "okrugs": ["sogety"], "herder_id": None}
    )
    token_id: int
    role: str
    okrugs: list[str] | None
    herder_id: int | None

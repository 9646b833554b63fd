"""Field types shared by the resource schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from pydantic import ConfigDict, Field

from jaylym.settings import DEVICE_ID_PATTERN

Slug = Annotated[
    str, Field(pattern=DEVICE_ID_PATTERN, description="Lowercase `[a-z0-9-]`, 3-32 characters.")
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Season = Literal["spring", "summer", "autumn", "winter", "year_round"]
PastureStatus = Literal["open", "resting", "closed"]
Language = Literal["kk", "ru", "en"]
Channel = Literal["sms", "telegram", "mqtt", "webhook"]
# viewer: a read-only coordinator (dashboards, e.g. the Grafana datasource).
Role = Literal["admin", "coordinator", "herder", "viewer"]
Phone = Annotated[
    str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +77011234567.")
]


def example(*examples: dict[str, Any], **extra: Any) -> ConfigDict:
    """Model config with OpenAPI examples (plus any other config keys)."""
    return cast(ConfigDict, {"json_schema_extra": {"examples": list(examples)}, **extra})

"""`limit` + opaque cursor paging, keyed on the primary key (stable under inserts)."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from api.core.problems import field_error

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [], "next_cursor": "WyJzb2dldHktMSJd"}]}
    )

    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


LimitQuery = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
CursorQuery = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([key]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type) -> Any:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        (key,) = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise field_error("query.cursor", "not a cursor this API issued") from None
    if not isinstance(key, kind) or isinstance(key, bool):
        raise field_error("query.cursor", "not a cursor this API issued")
    return key

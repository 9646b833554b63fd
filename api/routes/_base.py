"""What every resource router shares: the prefix, the authorization dependency, and the
problem responses documented in OpenAPI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import Select
from sqlalchemy.orm import Session

from api.core.paging import decode_cursor, encode_cursor
from api.core.problems import problem_responses
from api.deps import authorize

API = "/api/v1"


def resource_router(resource: str, *, tag: str | None = None) -> APIRouter:
    return APIRouter(
        prefix=f"{API}/{resource}",
        tags=[tag or resource],
        dependencies=[Depends(authorize(resource))],
        responses=problem_responses(401, 403, 404, 422, 429),
    )


def page(
    session: Session, stmt: Select[Any], key: Any, limit: int, cursor: str | None, kind: type
) -> tuple[Sequence[Any], str | None]:
    """Keyset page of `stmt` ordered by `key`; the cursor is the last key returned."""
    after = decode_cursor(cursor, kind)
    if after is not None:
        stmt = stmt.where(key > after)
    rows = session.scalars(stmt.order_by(key).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(getattr(rows[-1], key.key)) if more and rows else None
    return rows, next_cursor

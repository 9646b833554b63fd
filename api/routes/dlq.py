"""Dead-lettered messages the ingest refused (admins only: payloads are raw device input)."""

from __future__ import annotations

import base64

from fastapi import Query

from api.core.paging import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from api.core.params import IntId
from api.deps import AccessDep
from api.routes._base import resource_router
from api.schemas.dlq import DlqRead
from jaylym.registry.models import DlqMessage

router = resource_router("dlq-messages", tag="ingest")


def _read(m: DlqMessage) -> DlqRead:
    return DlqRead(
        id=m.id,
        received_at=m.received_at,
        topic=m.topic,
        reason=m.reason,
        detail=m.detail,
        payload_base64=base64.b64encode(m.payload).decode(),
        payload_text=m.payload.decode("utf-8", errors="replace"),
        payload_size=m.payload_size,
        truncated=m.payload_size > len(m.payload),
    )


@router.get("", summary="List dead-lettered messages, newest first")
def list_dlq(
    access: AccessDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    reason: str | None = Query(None, max_length=64, description="Only this reason."),
) -> Page[DlqRead]:
    stmt = access.select(DlqMessage)
    if reason is not None:
        stmt = stmt.where(DlqMessage.reason == reason)
    before = decode_cursor(cursor, int)
    if before is not None:
        stmt = stmt.where(DlqMessage.id < before)
    rows = access.session.scalars(stmt.order_by(DlqMessage.id.desc()).limit(limit + 1)).all()
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page(items=[_read(m) for m in rows[:limit]], next_cursor=nxt)


@router.get("/{message_id}", summary="Get a dead-lettered message")
def get_dlq(message_id: IntId, access: AccessDep) -> DlqRead:
    return _read(access.get(DlqMessage, message_id))

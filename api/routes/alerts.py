"""Alerts: list with filters (state, rule, okrug, herd, pasture) and acknowledge.

Rows come from the engine's `alerts` table through the policy's scope; an acknowledgement
goes through the engine's lifecycle (versioned write, audit trail).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import Query, Request
from sqlalchemy import and_, or_, select

from api.alerts.engine import AlertEngine
from api.alerts.engine.lifecycle import LifecycleError
from api.alerts.engine.sql_repository import SqlAlchemyRepository
from api.alerts.engine.tables import alerts
from api.core.paging import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from api.core.problems import ProblemError, not_found, problem_responses
from api.deps import AccessDep
from api.routes._base import resource_router
from api.schemas.alerts import AlertRead
from jaylym.registry.models import Device

router = resource_router("alerts")

_FIELDS = tuple(AlertRead.model_fields)


def _read(row: Any) -> AlertRead:
    return AlertRead.model_validate({k: row._mapping[k] for k in _FIELDS})


@router.get("", summary="List alerts, newest first")
def list_alerts(
    access: AccessDep,
    state: Literal["open", "acknowledged", "resolved", "unresolved"] | None = Query(
        None, description="`unresolved`: open or acknowledged."
    ),
    rule: str | None = Query(None, max_length=64),
    okrug: str | None = Query(None, max_length=64),
    herd: str | None = Query(None, max_length=64, description="Alerts naming this herd."),
    pasture: str | None = Query(None, max_length=64),
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AlertRead]:
    stmt = select(alerts).where(access.alert_condition(alerts))
    if state == "unresolved":
        stmt = stmt.where(alerts.c.state != "resolved")
    elif state is not None:
        stmt = stmt.where(alerts.c.state == state)
    if rule is not None:
        stmt = stmt.where(alerts.c.rule == rule)
    if okrug is not None:
        stmt = stmt.where(alerts.c.okrug == okrug)
    if pasture is not None:
        stmt = stmt.where(alerts.c.pasture_id == pasture)
    if herd is not None:  # pasture alerts name their herds in the context: checked below
        stmt = stmt.where(
            or_(
                alerts.c.herd_id == herd,
                alerts.c.device_id.in_(select(Device.id).where(Device.herd_id == herd)),
                alerts.c.subject_kind == "pasture",
            )
        )
    after = decode_cursor(cursor, str)
    if after is not None:  # keyset on (opened_ms desc, id desc), packed in one string
        ms_text, _, last_id = after.partition(":")
        if not ms_text.isdigit():
            raise ProblemError(422, "not a cursor this API issued")
        ms = int(ms_text)
        stmt = stmt.where(
            or_(alerts.c.opened_ms < ms, and_(alerts.c.opened_ms == ms, alerts.c.id < last_id))
        )
    stmt = stmt.order_by(alerts.c.opened_ms.desc(), alerts.c.id.desc()).limit(limit + 1)
    rows = list(access.session.execute(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(f"{rows[-1].opened_ms}:{rows[-1].id}") if more and rows else None
    items = [
        _read(r)
        for r in rows
        if access.alert_concerns_herder(r.subject_kind, r.context)
        and (herd is None or _names_herd(r, herd))
    ]
    return Page(items=items, next_cursor=next_cursor)


def _names_herd(row: Any, herd: str) -> bool:
    if row.subject_kind != "pasture":
        return True  # decided in SQL
    present = row.context.get("herds_present") if isinstance(row.context, dict) else None
    return isinstance(present, list) and herd in present


def _visible(access: AccessDep, alert_id: str) -> Any:
    row = access.session.execute(
        select(alerts).where(alerts.c.id == alert_id, access.alert_condition(alerts))
    ).first()
    if row is None or not access.alert_concerns_herder(row.subject_kind, row.context):
        raise not_found("alert")
    return row


@router.get("/{alert_id}", summary="Get an alert")
def get_alert(alert_id: str, access: AccessDep) -> AlertRead:
    return _read(_visible(access, alert_id))


@router.post(
    "/{alert_id}/ack",
    summary="Acknowledge an alert",
    description="Stops repeats until the severity rises. Idempotent; a resolved alert answers 409.",
    responses=problem_responses(409),
)
def acknowledge(alert_id: str, request: Request, access: AccessDep) -> AlertRead:
    _visible(access, alert_id)
    p = access.principal
    by = f"herder-{p.herder_id}" if p.herder_id is not None else f"token-{p.token_id}"
    engine = AlertEngine(SqlAlchemyRepository(request.app.state.engine))
    try:
        engine.acknowledge(alert_id, by, time.time_ns() // 1_000_000)
    except LifecycleError as exc:
        raise ProblemError(409, str(exc)) from exc
    except KeyError:
        raise not_found("alert") from None
    return _read(_visible(access, alert_id))

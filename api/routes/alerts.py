"""Alerts: list with filters (state, rule, okrug, herd, pasture) and acknowledge.

Rows come from the engine's `alerts` table through the policy's scope; an acknowledgement
goes through the engine's lifecycle (versioned write, audit trail).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import Query, Request
from sqlalchemy import and_, or_, select

from api.alerts.engine import AlertEngine
from api.alerts.engine.lifecycle import LifecycleError
from api.alerts.engine.sql_repository import SqlAlchemyRepository
from api.alerts.engine.tables import alerts
from api.alerts.templates import TITLES
from api.core.paging import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from api.core.problems import ProblemError, field_error, not_found, problem_responses
from api.deps import AccessDep
from api.routes._base import resource_router
from api.schemas.alerts import AlertRead, TransitionRead
from jaylym.models import datetime_to_ms
from jaylym.registry.models import Device

router = resource_router("alerts")

_ROW_FIELDS = tuple(f for f in AlertRead.model_fields if f in alerts.c)
UNITS = {"ratio": "", "lu_per_ha": " LU/ha", "min": " min", "m": " m", "V": " V"}


def _summary(row: Any) -> str:
    ctx = row.context if isinstance(row.context, dict) else {}
    where = ctx.get("pasture_name") or row.pasture_id or row.device_id or row.okrug
    if row.subject_kind == "herd-in-pasture":
        where = f"{row.herd_id} in {where}"
    title = TITLES.get(row.rule, row.rule)
    unit = UNITS.get(row.unit, f" {row.unit}")
    return f"{title} at {where}: {row.value:.3g}{unit} ({row.severity})"


def _herd_ids(row: Any, device_herds: dict[str, str]) -> list[str]:
    if row.herd_id:
        return [row.herd_id]
    present = row.context.get("herds_present") if isinstance(row.context, dict) else None
    if isinstance(present, list):
        return [h for h in present if isinstance(h, str)]
    herd = device_herds.get(row.device_id or "")
    return [herd] if herd else []


def _iso(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _read(row: Any, device_herds: dict[str, str]) -> AlertRead:
    data = {k: row._mapping[k] for k in _ROW_FIELDS}
    return AlertRead.model_validate(
        data
        | {
            "okrug_id": row.okrug,
            "herd_ids": _herd_ids(row, device_herds),
            "summary": _summary(row),
            "opened_at": _iso(row.opened_ms),
            "updated_at": _iso(row.updated_ms),
            "resolved_at": _iso(row.resolved_ms),
        }
    )


def _device_herds(access: AccessDep, device_ids: set[str]) -> dict[str, str]:
    if not device_ids:
        return {}
    rows = access.session.execute(
        select(Device.id, Device.herd_id).where(Device.id.in_(sorted(device_ids)))
    )
    return {d: h for d, h in rows if h is not None}


def _csv(value: str | None, field: str) -> list[str] | None:
    """Grafana sends a multi-value variable as `a,b,c`."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise field_error(f"query.{field}", "give at least one value")
    return items


@router.get(
    "",
    summary="List alerts, newest first",
    description="`state`, `rule`, `okrug`, `herd` and `pasture` take one value or a "
    "comma-separated list (`state` also `unresolved`). `start`/`end` keep alerts open at any "
    "time in [start, end).",
)
def list_alerts(
    access: AccessDep,
    state: str | None = Query(
        None, max_length=200, description="open, acknowledged, resolved, unresolved; or a list."
    ),
    rule: str | None = Query(None, max_length=2000),
    okrug: str | None = Query(None, max_length=2000),
    herd: str | None = Query(None, max_length=2000, description="Alerts naming these herds."),
    pasture: str | None = Query(None, max_length=2000),
    start: datetime | None = Query(None, description="Alerts still open at or after this."),
    end: datetime | None = Query(None, description="Alerts opened before this."),
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AlertRead]:
    stmt = select(alerts).where(access.alert_condition(alerts))
    states = _csv(state, "state")
    if states is not None:
        unknown = set(states) - {"open", "acknowledged", "resolved", "unresolved"}
        if unknown:
            raise field_error("query.state", f"unknown state {sorted(unknown)[0]!r}")
        wanted = set(states) | ({"open", "acknowledged"} if "unresolved" in states else set())
        stmt = stmt.where(alerts.c.state.in_(sorted(wanted - {"unresolved"})))
    for column, values in (
        (alerts.c.rule, _csv(rule, "rule")),
        (alerts.c.okrug, _csv(okrug, "okrug")),
        (alerts.c.pasture_id, _csv(pasture, "pasture")),
    ):
        if values is not None:
            stmt = stmt.where(column.in_(values))
    herds = _csv(herd, "herd")
    if herds is not None:  # pasture alerts name their herds in the context: checked below
        stmt = stmt.where(
            or_(
                alerts.c.herd_id.in_(herds),
                alerts.c.device_id.in_(select(Device.id).where(Device.herd_id.in_(herds))),
                alerts.c.subject_kind == "pasture",
            )
        )
    for bound, name in ((start, "start"), (end, "end")):
        if bound is not None and bound.tzinfo is None:
            raise field_error(
                f"query.{name}", "give times with a UTC offset, e.g. 2026-06-01T00:00Z"
            )
    if start is not None:
        start_ms = datetime_to_ms(start)
        stmt = stmt.where(or_(alerts.c.resolved_ms.is_(None), alerts.c.resolved_ms >= start_ms))
    if end is not None:
        stmt = stmt.where(alerts.c.opened_ms < datetime_to_ms(end))
    after = decode_cursor(cursor, str)
    if after is not None:  # keyset on (opened_ms desc, id desc), packed in one string
        ms_text, _, last_id = after.partition(":")
        if not ms_text.isdigit():
            raise field_error("query.cursor", "not a cursor this API issued")
        ms = int(ms_text)
        stmt = stmt.where(
            or_(alerts.c.opened_ms < ms, and_(alerts.c.opened_ms == ms, alerts.c.id < last_id))
        )
    stmt = stmt.order_by(alerts.c.opened_ms.desc(), alerts.c.id.desc()).limit(limit + 1)
    rows = list(access.session.execute(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(f"{rows[-1].opened_ms}:{rows[-1].id}") if more and rows else None
    device_herds = _device_herds(access, {r.device_id for r in rows if r.device_id})
    items = [
        _read(r, device_herds)
        for r in rows
        if access.alert_concerns_herder(r.subject_kind, r.context)
        and (herds is None or _names_herds(r, herds))
    ]
    return Page(items=items, next_cursor=next_cursor)


def _names_herds(row: Any, herds: list[str]) -> bool:
    if row.subject_kind != "pasture":
        return True  # decided in SQL
    present = row.context.get("herds_present") if isinstance(row.context, dict) else None
    return isinstance(present, list) and bool(set(herds) & set(present))


def _visible(access: AccessDep, alert_id: str) -> Any:
    row = access.session.execute(
        select(alerts).where(alerts.c.id == alert_id, access.alert_condition(alerts))
    ).first()
    if row is None or not access.alert_concerns_herder(row.subject_kind, row.context):
        raise not_found("alert")
    return row


@router.get("/{alert_id}", summary="Get an alert")
def get_alert(alert_id: str, access: AccessDep) -> AlertRead:
    row = _visible(access, alert_id)
    return _read(row, _device_herds(access, {row.device_id} if row.device_id else set()))


@router.get("/{alert_id}/transitions", summary="An alert's audit trail, oldest first")
def alert_transitions(alert_id: str, request: Request, access: AccessDep) -> list[TransitionRead]:
    _visible(access, alert_id)
    trail = SqlAlchemyRepository(request.app.state.engine).transitions(alert_id)
    return [
        TransitionRead(
            seq=t.seq,
            kind=t.kind.value,
            at=datetime.fromtimestamp(t.at_ms / 1000, UTC),
            at_ms=t.at_ms,
            actor=t.actor,
            severity=t.severity.value,
            value=t.value,
            unit=t.unit,
            note=t.note,
            notify=t.notify,
        )
        for t in trail
    ]


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
    row = _visible(access, alert_id)
    return _read(row, _device_herds(access, {row.device_id} if row.device_id else set()))

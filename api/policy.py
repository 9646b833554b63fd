"""Who may do what, and who may see which rows: the ONE place roles and scopes are enforced.

Routers declare their resource (`Depends(authorize("herds"))`); reads and writes are allowed by
role here, and every row a route touches goes through `Access.select`/`Access.get`, which add
the scope filter. A hidden object answers exactly like a missing one (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from api.core.problems import ProblemError, field_error, not_found
from jaylym.registry.models import (
    ApiToken,
    Device,
    GrazingPlanEntry,
    Herd,
    Herder,
    Okrug,
    Pasture,
)

ALL = frozenset({"admin", "coordinator", "herder"})
STAFF = frozenset({"admin", "coordinator"})
ADMIN = frozenset({"admin"})
# A viewer is a read-only coordinator (a dashboard's token): it reads what a coordinator of
# its okrugs reads and writes nothing, so a Grafana user reaching the API through the
# datasource proxy cannot change the registry or acknowledge alerts with it.
VIEWER = frozenset({"viewer"})
SCOPED_STAFF = frozenset({"coordinator", "viewer"})

# resource -> (roles that may read, roles that may write)
POLICY: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "okrugs": (STAFF | VIEWER, ADMIN),
    "pastures": (STAFF | VIEWER, STAFF),
    "plan-entries": (ALL | VIEWER, STAFF),
    "herds": (ALL | VIEWER, STAFF),
    "herders": (ALL | VIEWER, STAFF),
    "devices": (ALL | VIEWER, STAFF),
    "tokens": (ADMIN, ADMIN),
    "positions": (ALL | VIEWER, frozenset()),
    "stations": (ALL | VIEWER, frozenset()),
    "config": (ALL | VIEWER, frozenset()),
    "me": (ALL | VIEWER, frozenset()),
    "dlq-messages": (ADMIN, frozenset()),
    "grazing": (STAFF | VIEWER, frozenset()),
    "alerts": (ALL | VIEWER, ALL),  # writing an alert is acknowledging it
}

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: from the API token."""

    token_id: int
    role: str
    okrugs: frozenset[str] | None = None  # coordinator scope; None = whole district
    herder_id: int | None = None


def check_role(principal: Principal, resource: str, method: str) -> None:
    readers, writers = POLICY[resource]
    allowed = readers if method in READ_METHODS else writers
    if principal.role not in allowed:
        raise ProblemError(403, f"role {principal.role!r} may not do this on {resource}")


M = TypeVar("M")

_NAMES: dict[type, str] = {
    Okrug: "okrug",
    Pasture: "pasture",
    GrazingPlanEntry: "plan entry",
    Herd: "herd",
    Herder: "herder",
    Device: "device",
    ApiToken: "token",
}


class Access:
    """Scoped reads for one principal in one session."""

    def __init__(self, principal: Principal, session: Session) -> None:
        self.principal = principal
        self.session = session
        self._own_herd_ids: set[str] | None = None

    def _okrug_in(self, column: Any) -> ColumnElement[bool]:
        okrugs = self.principal.okrugs
        return true() if okrugs is None else column.in_(sorted(okrugs))

    def _own_herds(self) -> Select[str]:
        return select(Herd.id).where(Herd.herder_id == self.principal.herder_id)

    def condition(self, model: type) -> ColumnElement[bool]:
        """The row filter for `model` under this principal."""
        p = self.principal
        if p.role == "admin":
            return true()
        if p.role in SCOPED_STAFF:
            if model is Okrug:
                return self._okrug_in(Okrug.id)
            if model in (Pasture, Herd, Herder, Device):
                return self._okrug_in(model.okrug_id)
            if model is GrazingPlanEntry:
                return GrazingPlanEntry.pasture_id.in_(
                    select(Pasture.id).where(self._okrug_in(Pasture.okrug_id))
                )
            return false()
        # herder: their own record, herds, the devices of their herds, their herds' plan
        if p.herder_id is None:
            return false()
        if model is Herder:
            return Herder.id == p.herder_id
        if model is Herd:
            return Herd.herder_id == p.herder_id
        if model is Device:
            return Device.herd_id.in_(self._own_herds())
        if model is GrazingPlanEntry:
            return GrazingPlanEntry.herd_id.in_(self._own_herds())
        return false()

    def alert_condition(self, alerts: Any) -> ColumnElement[bool]:
        """Row filter on the `alerts` table: a coordinator sees their okrugs; a herder the
        alerts about their herds, their herds' devices, and pastures in their okrugs (which
        of those name one of their herds is decided by `alert_concerns_herder`, since the
        herds of a pasture alert are in its JSON context)."""
        p = self.principal
        if p.role == "admin":
            return true()
        if p.role in SCOPED_STAFF:
            return self._okrug_in(alerts.c.okrug)
        if p.herder_id is None:
            return false()
        own = self._own_herds()
        return or_(
            alerts.c.herd_id.in_(own),
            alerts.c.device_id.in_(select(Device.id).where(Device.herd_id.in_(own))),
            and_(
                alerts.c.subject_kind == "pasture",
                alerts.c.okrug.in_(select(Herd.okrug_id).where(Herd.herder_id == p.herder_id)),
            ),
        )

    def alert_concerns_herder(self, subject_kind: str, context: Any) -> bool:
        """The exact check after `alert_condition` for a herder and a pasture alert."""
        if self.principal.role != "herder" or subject_kind != "pasture":
            return True
        if self._own_herd_ids is None:  # once per request, not once per alert
            self._own_herd_ids = set(self.session.scalars(self._own_herds()))
        own = self._own_herd_ids
        present = context.get("herds_present") if isinstance(context, dict) else None
        return isinstance(present, list) and bool(own & set(present))

    def select(self, model: type[M]) -> Select[M]:
        return select(model).where(self.condition(model))

    def get(self, model: type[M], key: Any) -> M:
        pk = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
        row = self.session.scalars(self.select(model).where(pk == key)).first()
        if row is None:
            raise not_found(_NAMES.get(model, "object"))
        return row

    def visible(self, model: type[M], key: Any) -> bool:
        pk = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
        return self.session.scalars(self.select(model).where(pk == key)).first() is not None

    def reference(self, model: type[M], key: Any, field: str) -> M:
        """A referenced object for a write; unknown and hidden give the same 422."""
        pk = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
        row = self.session.scalars(self.select(model).where(pk == key)).first()
        if row is None:
            raise field_error(field, f"unknown {_NAMES.get(model, 'object')} {key!r}")
        return row

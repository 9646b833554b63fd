"""Grazing plan entries: the okrug pasture-use calendar."""

from __future__ import annotations

from fastapi import status

from api.core.paging import CursorQuery, LimitQuery, Page
from api.core.params import IntId
from api.core.problems import field_error
from api.deps import AccessDep
from api.routes._base import page, resource_router
from api.schemas.plans import PlanEntryCreate, PlanEntryRead, PlanEntryUpdate
from jaylym.registry.models import GrazingPlanEntry, Herd, Pasture

router = resource_router("plan-entries", tag="plan")


def _read(e: GrazingPlanEntry) -> PlanEntryRead:
    return PlanEntryRead.model_validate(e, from_attributes=True)


@router.get("", summary="List plan entries")
def list_plan_entries(
    access: AccessDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[PlanEntryRead]:
    stmt = access.select(GrazingPlanEntry)
    rows, nxt = page(access.session, stmt, GrazingPlanEntry.id, limit, cursor, int)
    return Page(items=[_read(r) for r in rows], next_cursor=nxt)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a plan entry")
def create_plan_entry(body: PlanEntryCreate, access: AccessDep) -> PlanEntryRead:
    pasture = access.reference(Pasture, body.pasture_id, "body.pasture_id")
    if body.herd_id is not None:
        herd = access.reference(Herd, body.herd_id, "body.herd_id")
        if herd.okrug_id != pasture.okrug_id:
            raise field_error("body.herd_id", "herd and pasture are in different okrugs")
    entry = GrazingPlanEntry(**body.model_dump())
    access.session.add(entry)
    access.session.commit()
    return _read(entry)


@router.get("/{entry_id}", summary="Get a plan entry")
def get_plan_entry(entry_id: IntId, access: AccessDep) -> PlanEntryRead:
    return _read(access.get(GrazingPlanEntry, entry_id))


@router.patch("/{entry_id}", summary="Update a plan entry")
def update_plan_entry(entry_id: IntId, body: PlanEntryUpdate, access: AccessDep) -> PlanEntryRead:
    entry = access.get(GrazingPlanEntry, entry_id)
    for name, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(entry, name, value)
    if entry.end_date < entry.start_date:
        raise field_error("body.end_date", "end_date is before start_date")
    access.session.commit()
    return _read(entry)


@router.delete("/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a plan entry")
def delete_plan_entry(entry_id: IntId, access: AccessDep) -> None:
    access.session.delete(access.get(GrazingPlanEntry, entry_id))
    access.session.commit()

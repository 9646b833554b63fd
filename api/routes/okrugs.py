"""Okrugs (rural districts)."""

from __future__ import annotations

from fastapi import status
from sqlalchemy import exists, select

from api.core.paging import CursorQuery, LimitQuery, Page
from api.core.params import SlugId
from api.core.problems import ProblemError, problem_responses
from api.deps import AccessDep, SessionDep
from api.routes._base import page, resource_router
from api.schemas.okrugs import OkrugCreate, OkrugRead, OkrugUpdate
from jaylym.registry.models import Device, Herd, Herder, Okrug, Pasture

router = resource_router("okrugs")


@router.get("", summary="List okrugs")
def list_okrugs(
    access: AccessDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[OkrugRead]:
    rows, nxt = page(access.session, access.select(Okrug), Okrug.id, limit, cursor, str)
    return Page(
        items=[OkrugRead.model_validate(r, from_attributes=True) for r in rows], next_cursor=nxt
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an okrug",
    responses=problem_responses(409),
)
def create_okrug(body: OkrugCreate, session: SessionDep) -> OkrugRead:
    if session.get(Okrug, body.id) is not None:
        raise ProblemError(409, f"okrug {body.id!r} already exists")
    okrug = Okrug(**body.model_dump())
    session.add(okrug)
    session.commit()
    return OkrugRead.model_validate(okrug, from_attributes=True)


@router.get("/{okrug_id}", summary="Get an okrug")
def get_okrug(okrug_id: SlugId, access: AccessDep) -> OkrugRead:
    return OkrugRead.model_validate(access.get(Okrug, okrug_id), from_attributes=True)


@router.patch("/{okrug_id}", summary="Update an okrug")
def update_okrug(okrug_id: SlugId, body: OkrugUpdate, access: AccessDep) -> OkrugRead:
    okrug = access.get(Okrug, okrug_id)
    for name, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(okrug, name, value)
    access.session.commit()
    return OkrugRead.model_validate(okrug, from_attributes=True)


@router.delete(
    "/{okrug_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an okrug",
    responses=problem_responses(409),
)
def delete_okrug(okrug_id: SlugId, access: AccessDep) -> None:
    okrug = access.get(Okrug, okrug_id)
    for model in (Pasture, Herd, Herder, Device):
        used = access.session.scalar(select(exists().where(model.okrug_id == okrug_id)))
        if used:
            raise ProblemError(409, f"okrug {okrug_id!r} still has {model.__tablename__}s")
    access.session.delete(okrug)
    access.session.commit()

"""Herds and their composition; livestock units derive from the configured coefficients."""

from __future__ import annotations

from fastapi import status

from api import crud
from api.core.paging import CursorQuery, LimitQuery, Page
from api.core.params import SlugId
from api.core.problems import field_error, problem_responses
from api.crud import herd_read
from api.deps import AccessDep, ConfigDep
from api.routes._base import page, resource_router
from api.schemas.herds import HerdCreate, HerdRead, HerdUpdate
from jaylym.registry.models import SPECIES, Herd, Herder

router = resource_router("herds")


@router.get("", summary="List herds")
def list_herds(
    access: AccessDep, config: ConfigDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[HerdRead]:
    rows, nxt = page(access.session, access.select(Herd), Herd.id, limit, cursor, str)
    return Page(items=[herd_read(r, config.livestock_units) for r in rows], next_cursor=nxt)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a herd",
    responses=problem_responses(409),
)
def create_herd(body: HerdCreate, access: AccessDep, config: ConfigDep) -> HerdRead:
    return crud.create_herd(access, body, config.livestock_units)


@router.get("/{herd_id}", summary="Get a herd")
def get_herd(herd_id: SlugId, access: AccessDep, config: ConfigDep) -> HerdRead:
    return herd_read(access.get(Herd, herd_id), config.livestock_units)


@router.patch("/{herd_id}", summary="Update a herd")
def update_herd(
    herd_id: SlugId, body: HerdUpdate, access: AccessDep, config: ConfigDep
) -> HerdRead:
    herd = access.get(Herd, herd_id)
    fields = body.model_dump(exclude_unset=True)
    if "herder_id" in fields:
        if body.herder_id is not None:
            herder = access.reference(Herder, body.herder_id, "body.herder_id")
            if herder.okrug_id != herd.okrug_id:
                raise field_error("body.herder_id", "herder is in another okrug")
        herd.herder_id = body.herder_id
    if body.name is not None:
        herd.name = body.name
    if body.composition is not None:
        for species in SPECIES:
            if species in body.composition.model_fields_set:
                setattr(herd, species, getattr(body.composition, species))
    access.session.commit()
    return herd_read(herd, config.livestock_units)


@router.delete("/{herd_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a herd")
def delete_herd(herd_id: SlugId, access: AccessDep) -> None:
    """Its collars stay registered (without a herd); its plan entries go."""
    access.session.delete(access.get(Herd, herd_id))
    access.session.commit()

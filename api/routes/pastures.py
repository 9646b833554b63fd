"""Pastures: validated geometry, geodesic area, season, forage, load limit, rest, status."""

from __future__ import annotations

from fastapi import Query, status

from api.core.paging import CursorQuery, LimitQuery, Page
from api.core.params import SlugId
from api.core.problems import ProblemError, problem_responses
from api.crud import import_pastures, pasture_from
from api.deps import AccessDep
from api.routes._base import page, resource_router
from api.schemas.pastures import (
    ImportResult,
    PastureCreate,
    PastureFeature,
    PastureFeatureCollection,
    PastureImport,
    PastureProperties,
    PastureRead,
    PastureUpdate,
)
from jaylym.registry.models import Okrug, Pasture

router = resource_router("pastures")


def _read(p: Pasture) -> PastureRead:
    return PastureRead.model_validate(p, from_attributes=True)


@router.get("", summary="List pastures")
def list_pastures(
    access: AccessDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[PastureRead]:
    rows, nxt = page(access.session, access.select(Pasture), Pasture.id, limit, cursor, str)
    return Page(items=[_read(r) for r in rows], next_cursor=nxt)


@router.get("/features", summary="Pastures as a GeoJSON FeatureCollection")
def pasture_features(
    access: AccessDep, limit: LimitQuery = 200, cursor: CursorQuery = None
) -> PastureFeatureCollection:
    rows, nxt = page(access.session, access.select(Pasture), Pasture.id, limit, cursor, str)
    features = [
        PastureFeature(
            type="Feature",
            id=p.id,
            geometry=p.geometry,
            properties=PastureProperties.model_validate(p, from_attributes=True),
        )
        for p in rows
    ]
    return PastureFeatureCollection(type="FeatureCollection", features=features, next_cursor=nxt)


@router.post(
    "/import",
    summary="Import a GeoJSON FeatureCollection of pastures",
    responses=problem_responses(409, 413),
)
def import_collection(
    body: PastureImport,
    access: AccessDep,
    replace: bool = Query(False, description="Update pastures whose id exists."),
) -> ImportResult:
    return import_pastures(access, body, replace=replace)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a pasture",
    responses=problem_responses(409, 413),
)
def create_pasture(body: PastureCreate, access: AccessDep) -> PastureRead:
    access.reference(Okrug, body.okrug_id, "body.okrug_id")
    if access.session.get(Pasture, body.id) is not None:
        raise ProblemError(409, f"pasture id {body.id!r} is taken")
    pasture = Pasture(**pasture_from(body))
    access.session.add(pasture)
    access.session.commit()
    return _read(pasture)


@router.get("/{pasture_id}", summary="Get a pasture")
def get_pasture(pasture_id: SlugId, access: AccessDep) -> PastureRead:
    return _read(access.get(Pasture, pasture_id))


@router.patch("/{pasture_id}", summary="Update a pasture", responses=problem_responses(413))
def update_pasture(pasture_id: SlugId, body: PastureUpdate, access: AccessDep) -> PastureRead:
    pasture = access.get(Pasture, pasture_id)
    for name, value in body.model_dump(exclude_unset=True, exclude={"geometry"}).items():
        if value is not None or name in ("forage_kg_dm_ha", "max_lu_per_ha"):
            setattr(pasture, name, value)
    if body.geometry is not None and body.area_ha is not None:
        pasture.geometry = body.geometry.model_dump(exclude_none=True)
        pasture.area_ha = body.area_ha
    access.session.commit()
    return _read(pasture)


@router.delete("/{pasture_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a pasture")
def delete_pasture(pasture_id: SlugId, access: AccessDep) -> None:
    access.session.delete(access.get(Pasture, pasture_id))
    access.session.commit()

"""Herders: who gets alerts, in which language, over which channels."""

from __future__ import annotations

from fastapi import status

from api.core.paging import CursorQuery, LimitQuery, Page
from api.core.params import IntId
from api.deps import AccessDep
from api.routes._base import page, resource_router
from api.schemas.herders import HerderCreate, HerderRead, HerderUpdate
from jaylym.registry.models import Herder, Okrug

router = resource_router("herders")


def _read(h: Herder) -> HerderRead:
    return HerderRead.model_validate(h, from_attributes=True)


@router.get("", summary="List herders")
def list_herders(
    access: AccessDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[HerderRead]:
    rows, nxt = page(access.session, access.select(Herder), Herder.id, limit, cursor, int)
    return Page(items=[_read(r) for r in rows], next_cursor=nxt)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a herder")
def create_herder(body: HerderCreate, access: AccessDep) -> HerderRead:
    access.reference(Okrug, body.okrug_id, "body.okrug_id")
    herder = Herder(**body.model_dump())
    access.session.add(herder)
    access.session.commit()
    return _read(herder)


@router.get("/{herder_id}", summary="Get a herder")
def get_herder(herder_id: IntId, access: AccessDep) -> HerderRead:
    return _read(access.get(Herder, herder_id))


@router.patch("/{herder_id}", summary="Update a herder")
def update_herder(herder_id: IntId, body: HerderUpdate, access: AccessDep) -> HerderRead:
    herder = access.get(Herder, herder_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is not None or name == "telegram_chat_id":
            setattr(herder, name, value)
    access.session.commit()
    return _read(herder)


@router.delete("/{herder_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a herder")
def delete_herder(herder_id: IntId, access: AccessDep) -> None:
    """Their herds stay (without a herder); their API tokens go."""
    access.session.delete(access.get(Herder, herder_id))
    access.session.commit()

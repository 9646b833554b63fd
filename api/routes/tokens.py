"""API tokens (admins only): created with the secret shown once, listed without it, revoked."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import status

from api.core.paging import CursorQuery, LimitQuery, Page
from api.core.params import IntId
from api.crud import create_token
from api.deps import AccessDep, ConfigDep
from api.routes._base import page, resource_router
from api.schemas.tokens import TokenCreate, TokenCreated, TokenRead
from jaylym.registry.models import ApiToken

router = resource_router("tokens")


@router.get("", summary="List tokens")
def list_tokens(
    access: AccessDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[TokenRead]:
    rows, nxt = page(access.session, access.select(ApiToken), ApiToken.id, limit, cursor, int)
    return Page(items=[TokenRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a token")
def new_token(body: TokenCreate, access: AccessDep, config: ConfigDep) -> TokenCreated:
    """The token is in this answer only; the registry keeps its hash."""
    return create_token(access, body, config.token_pepper.get_secret_value())


@router.get("/{token_id}", summary="Get a token (without its secret)")
def get_token(token_id: IntId, access: AccessDep) -> TokenRead:
    return TokenRead.model_validate(access.get(ApiToken, token_id))


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a token")
def revoke_token(token_id: IntId, access: AccessDep) -> None:
    token = access.get(ApiToken, token_id)
    token.revoked_at = token.revoked_at or datetime.now(UTC)
    access.session.commit()

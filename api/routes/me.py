"""Who the token belongs to."""

from __future__ import annotations

from api.deps import CurrentUser
from api.routes._base import resource_router
from api.schemas.tokens import Me

router = resource_router("me")


@router.get("", summary="The calling token's role and scope")
def whoami(principal: CurrentUser) -> Me:
    return Me(
        token_id=principal.token_id,
        role=principal.role,
        okrugs=sorted(principal.okrugs) if principal.okrugs is not None else None,
        herder_id=principal.herder_id,
    )

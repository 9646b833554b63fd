"""`/healthz`: the only route that needs no token, for container health checks."""

from __future__ import annotations

from fastapi import APIRouter

import jaylym

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness probe")
def healthz() -> dict[str, str]:
    """Answer while the process serves requests."""
    return {"status": "ok", "version": jaylym.__version__}

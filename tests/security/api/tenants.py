"""Two tenants with distinctive markers: everything of okrug B (`tau`) carries `ZQB7` in its
human-readable fields, so a response shown to an okrug-A token that mentions B is easy to
spot, and ids of B objects are markers too."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.orm import Session

from jaylym.registry.models import Device, GrazingPlanEntry, Herd, Herder, Okrug, Pasture
from tests.api.conftest import Api

B_MARK = "ZQB7"
# Ids of okrug B's objects (the seed's `b` side) and the marker; "Aigul" is herder B's name.
B_MARKERS = (B_MARK, "tau", "past-b", "herd-b", "collar-b", "soil-b", "alert-b", "Aigul")
# A marker counts only as a whole token, so "tau" is not found inside "status".
_PATTERNS = [re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(m)}(?![A-Za-z0-9_])") for m in B_MARKERS]


def mark_tenant_b(api: Api) -> None:
    """Put the B marker into every free-text field of okrug B's rows."""
    with Session(api.app.state.engine) as s:
        s.execute(
            update(Okrug)
            .where(Okrug.id == "tau")
            .values(name_kk=f"Тау {B_MARK}", name_ru=f"Тау {B_MARK}", name_en=f"Tau {B_MARK}")
        )
        for model in (Herd, Pasture, Device):
            s.execute(
                update(model).where(model.okrug_id == "tau").values(name=f"B {B_MARK} object")
            )
        s.execute(update(Herder).where(Herder.okrug_id == "tau").values(name=f"Aigul {B_MARK}"))
        s.execute(
            update(GrazingPlanEntry)
            .where(GrazingPlanEntry.herd_id == "herd-b")
            .values(note=f"plan {B_MARK}")
        )
        s.commit()


def leaked(response_text: str, request_texts: Iterable[str]) -> list[str]:
    """B markers in a response that the request did not itself contain (an echo of what the
    caller sent, e.g. a 404 `instance`, reveals nothing)."""
    sent = " ".join(request_texts)
    return [
        marker
        for marker, p in zip(B_MARKERS, _PATTERNS, strict=True)
        if p.search(response_text) and not p.search(sent)
    ]

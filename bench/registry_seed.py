"""A registry database for one benchmark run: migrated, one okrug, one herd, its collars and,
on request, a coordinator API token. SQLite, the embedded default."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

HERD = "bench-herd"


def seed(
    url: str,
    okrug: str,
    collars: Iterable[str],
    *,
    pepper: str | None = None,
    pastures: Sequence[tuple[str, dict[str, Any], float]] = (),
) -> str | None:
    """Create the registry at `url`; returns a coordinator token when `pepper` is given.
    `pastures`: (id, GeoJSON geometry, area in ha) of the okrug's pastures, open all year."""
    from sqlalchemy.orm import Session

    from jaylym.registry.db import make_engine
    from jaylym.registry.migrate import upgrade
    from jaylym.registry.models import ApiToken, Device, Herd, Okrug, Pasture
    from jaylym.registry.tokens import display_prefix, hash_token, new_token

    engine = make_engine(url)
    upgrade(engine)
    token = new_token() if pepper is not None else None
    with Session(engine) as session:
        session.add(Okrug(id=okrug, name_kk="Бенч", name_ru="Бенч", name_en="Bench"))
        session.flush()
        session.add(Herd(id=HERD, okrug_id=okrug, name="bench", cattle=50))
        session.add_all(
            Pasture(id=pid, okrug_id=okrug, name=pid, geometry=geometry, area_ha=area_ha,
                    season="year_round", forage_kg_dm_ha=1200.0)
            for pid, geometry, area_ha in pastures
        )  # fmt: skip
        session.flush()
        session.add_all(Device(id=c, kind="collar", okrug_id=okrug, herd_id=HERD) for c in collars)
        if token is not None and pepper is not None:
            session.add(ApiToken(name="bench", token_hash=hash_token(token, pepper),
                                 prefix=display_prefix(token), role="coordinator",
                                 okrugs=[okrug]))  # fmt: skip
        session.commit()
    engine.dispose()
    return token

"""A small okrug for the wiring tests: three pastures, two herds with herders speaking
Kazakh and Russian, an English-speaking coordinator on a webhook, collars and soil stations.

Pastures are 0.01° squares near Sogety; their areas are the geodesic ones, as the registry
computes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shapely import box, geometry
from sqlalchemy.orm import Session

from api.grazing.geodesy import geodesic_area_ha
from jaylym.registry.contacts import Coordinator
from jaylym.registry.models import (
    ApiToken,
    Device,
    GrazingPlanEntry,
    Herd,
    Herder,
    Okrug,
    Pasture,
)
from jaylym.registry.tokens import display_prefix, hash_token, new_token

PEPPER = "test-pepper-0123456789abcdef"
LON0, LAT0 = 78.00, 43.50
CELL = 0.01
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
OUTSIDE = (LON0 - 0.5, LAT0 - 0.5)  # far from every pasture
KK_LETTERS = set("әғқңөұүһі")  # letters Kazakh has and Russian has not


def cell(col: int) -> Any:
    return box(LON0 + col * CELL, LAT0, LON0 + (col + 1) * CELL, LAT0 + CELL)


def centre(col: int, dx: float = 0.0, dy: float = 0.0) -> tuple[float, float]:
    return LON0 + (col + 0.5 + dx) * CELL, LAT0 + (0.5 + dy) * CELL


def area_ha(col: int) -> float:
    return geodesic_area_ha(cell(col))


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)
    herders: dict[str, int] = field(default_factory=dict)


# pasture id -> (grid column, forage kg DM/ha, legal load limit LU/ha, status)
PASTURES = {
    "kok-tal": (0, 1.0, 0.2, "open"),  # tiny forage: overgrazed within the hour
    "zhailau": (1, 1000.0, None, "open"),
    "demalys": (2, 1000.0, None, "resting"),
}


def seed(session: Session, webhook_url: str, *, season: str = "year_round") -> World:
    w = World()
    session.add_all(
        [
            Okrug(id="sogety", name_kk="Сөгеті", name_ru="Согеты", name_en="Sogety"),
            Okrug(id="tau", name_kk="Тау", name_ru="Тау", name_en="Tau"),
        ]
    )
    for pid, (col, forage, limit, status) in PASTURES.items():
        session.add(
            Pasture(
                id=pid,
                okrug_id="sogety",
                name={"kok-tal": "Көктал", "zhailau": "Жайлау", "demalys": "Демалыс"}[pid],
                geometry=geometry.mapping(cell(col)),
                area_ha=area_ha(col),
                season=season,
                forage_kg_dm_ha=forage,
                max_lu_per_ha=limit,
                status=status,
            )
        )
    session.flush()
    askar = Herder(
        okrug_id="sogety",
        name="Асқар",
        phone="+77011234567",
        telegram_chat_id=1001,
        language="kk",
        channels=["sms", "telegram"],
    )
    aigul = Herder(
        okrug_id="sogety",
        name="Айгуль",
        phone="+77017654321",
        telegram_chat_id=2002,
        language="ru",
        channels=["telegram"],
    )
    session.add_all([askar, aigul])
    session.flush()
    w.herders = {"askar": askar.id, "aigul": aigul.id}
    session.add_all(
        [
            Herd(id="herd-askar", okrug_id="sogety", herder_id=askar.id, name="Асқар", cattle=100),
            Herd(id="herd-aigul", okrug_id="sogety", herder_id=aigul.id, name="Айгуль", sheep=500),
        ]
    )
    session.flush()
    year = (date(2026, 1, 1), date(2026, 12, 31))
    session.add_all(
        [
            GrazingPlanEntry(
                pasture_id="zhailau", herd_id="herd-askar", start_date=year[0], end_date=year[1]
            ),
            GrazingPlanEntry(
                pasture_id="kok-tal", herd_id="herd-askar", start_date=year[0], end_date=year[1]
            ),
            GrazingPlanEntry(
                pasture_id="kok-tal", herd_id="herd-aigul", start_date=year[0], end_date=year[1]
            ),
        ]
    )
    lon, lat = centre(0)
    session.add_all(
        [
            Device(id="collar-a1", kind="collar", okrug_id="sogety", herd_id="herd-askar"),
            Device(id="collar-a2", kind="collar", okrug_id="sogety", herd_id="herd-askar"),
            Device(id="collar-a3", kind="collar", okrug_id="sogety", herd_id="herd-askar"),
            Device(id="collar-b1", kind="collar", okrug_id="sogety", herd_id="herd-aigul"),
            Device(id="collar-b2", kind="collar", okrug_id="sogety", herd_id="herd-aigul"),
            Device(
                id="soil-kt",
                kind="soil",
                okrug_id="sogety",
                lat=lat,
                lon=lon,
                depths_cm=[10],
                expected_interval_s=6 * 3600,  # reports every 6 h in the scenarios
            ),
            Device(
                id="soil-silent",
                kind="soil",
                okrug_id="sogety",
                lat=LAT0 + 0.3,
                lon=LON0 + 0.3,
                depths_cm=[10],
            ),
            Coordinator(
                name="Dana",
                okrugs=["sogety"],
                language="en",
                webhook_url=webhook_url,
                channels=["webhook"],
            ),
        ]
    )
    session.flush()
    scopes: dict[str, tuple[str, list[str] | None, int | None]] = {
        "admin": ("admin", None, None),
        "coordinator": ("coordinator", ["sogety"], None),
        "coordinator-tau": ("coordinator", ["tau"], None),
        "askar": ("herder", None, askar.id),
        "aigul": ("herder", None, aigul.id),
    }
    for name, (role, okrugs, herder_id) in scopes.items():
        token = new_token()
        session.add(
            ApiToken(
                name=name,
                token_hash=hash_token(token, PEPPER),
                prefix=display_prefix(token),
                role=role,
                okrugs=okrugs,
                herder_id=herder_id,
            )
        )
        w.tokens[name] = token
    session.commit()
    return w

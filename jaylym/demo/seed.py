"""Register the demo okrug through the real HTTP API, the way a coordinator's script would:
okrug, pastures (GeoJSON import), herders, herds, the grazing plan, devices (which returns each
device's MQTT credentials once), and a herder's token. Then the commons' earlier days of
grazing, written to the time-series store as the ingest would have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from jaylym.demo import sogety
from jaylym.models import PositionReading
from jaylym.store.base import TimeSeriesStore

API = "/api/v1"


class SeedError(RuntimeError):
    """The API refused part of the demo okrug: the message carries its problem document."""


@dataclass
class Seeded:
    herder_ids: dict[str, int] = field(default_factory=dict)  # HerderSpec.key -> registry id
    passwords: dict[str, str] = field(default_factory=dict)  # device id -> MQTT password
    herder_token: str = ""
    herder_name: str = ""
    herder_language: str = ""


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        request = response.request
        raise SeedError(
            f"{request.method} {request.url.path}: {response.status_code} {response.text}"
        )
    return response.json()


def seed_registry(client: httpx.Client, sim_day: datetime) -> Seeded:
    """Everything through `client` (base URL and admin token set). `sim_day`: when the
    demo's simulated time starts (the plan is dated around it)."""
    out = Seeded()
    _ok(client.post(f"{API}/okrugs", json=sogety.OKRUG))
    _ok(client.post(f"{API}/pastures/import", json=sogety.pasture_feature_collection()))
    for h in sogety.HERDERS:
        body: dict[str, Any] = {
            "okrug_id": sogety.OKRUG["id"],
            "name": h.name,
            "phone": h.phone,
            "language": h.language,
            # MQTT: the one channel the demo can deliver on (the embedded broker).
            "channels": ["mqtt"],
        }
        out.herder_ids[h.key] = _ok(client.post(f"{API}/herders", json=body))["id"]
    for herd in sogety.HERDS:
        body = {
            "id": herd.id,
            "okrug_id": sogety.OKRUG["id"],
            "herder_id": out.herder_ids[herd.herder],
            "name": herd.name,
            "composition": herd.composition,
        }
        _ok(client.post(f"{API}/herds", json=body))
    for entry in sogety.plan_entries(sim_day.date()):
        _ok(client.post(f"{API}/plan-entries", json=entry))
    for herd in sogety.HERDS:
        for collar in herd.collars:
            body = {
                "id": collar,
                "kind": "collar",
                "okrug_id": sogety.OKRUG["id"],
                "herd_id": herd.id,
                "expected_interval_s": sogety.FIX_INTERVAL_S,
            }
            out.passwords[collar] = _ok(client.post(f"{API}/devices", json=body))["mqtt"][
                "password"
            ]
    for station, _pasture in sogety.STATIONS:
        lat, lon = sogety.station_position(station)
        body = {
            "id": station,
            "kind": "soil",
            "okrug_id": sogety.OKRUG["id"],
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "depths_cm": [10, 30, 60],
            "expected_interval_s": sogety.SOIL_INTERVAL_S,
        }
        out.passwords[station] = _ok(client.post(f"{API}/devices", json=body))["mqtt"]["password"]
    # The herder whose alerts the demo shows first: Aigul (Kazakh), on the commons.
    herder = sogety.HERDER_BY_KEY["aigul"]
    token = _ok(
        client.post(
            f"{API}/tokens",
            json={
                "name": f"demo {herder.key}",
                "role": "herder",
                "herder_id": out.herder_ids[herder.key],
            },
        )
    )
    out.herder_token = token["token"]
    out.herder_name = herder.name
    out.herder_language = herder.language
    return out


def seed_history(
    store: TimeSeriesStore, client: httpx.Client, sim_start_ms: int, lu: dict[str, float]
) -> float:
    """The commons' use before the demo starts: both of its herds on it for the days that
    bring its season utilisation to `sogety.UTILISATION_AT_START`. One collar per herd is
    enough (the grazing model takes a herd to be where its known collars are). Returns the
    number of days written."""
    pasture = _ok(client.get(f"{API}/pastures/{sogety.OVERGRAZED_PASTURE}"))
    herds = [h for h in sogety.HERDS if h.home == sogety.OVERGRAZED_PASTURE]
    lu_present = sum(_ok(client.get(f"{API}/herds/{h.id}"))["livestock_units"] for h in herds)
    days = sogety.history_days(pasture["area_ha"], lu_present, lu)
    step_ms = sogety.FIX_INTERVAL_S * 1000
    first = sim_start_ms - round(days * 86_400_000)
    lat, lon = sogety.centroid(sogety.OVERGRAZED_PASTURE)
    readings = []
    for herd in herds:
        collar = herd.collars[0]
        for n, ts in enumerate(range(first, sim_start_ms, step_ms)):
            readings.append(
                PositionReading(
                    device_id=collar,
                    ts_ms=ts,
                    seq=0,  # before the device's own numbering (it starts at 1)
                    lat=lat + 0.0002 * ((n % 7) - 3) / 3,
                    lon=lon + 0.0002 * ((n % 5) - 2) / 2,
                    okrug=sogety.OKRUG["id"],
                    herd_id=herd.id,
                    hdop=1.0,
                    sats=9,
                )
            )
    for i in range(0, len(readings), 500):
        store.write(readings[i : i + 500])
    return days


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)

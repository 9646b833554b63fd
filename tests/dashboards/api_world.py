"""The Jaylym API as the dashboards' `jaylym-api` datasource reaches it: the real app over a
real registry holding the seeded week's okrugs, pastures, herds and devices, the seeded
InfluxDB as its time-series store (so grazing figures come from the same fixes the InfluxQL
panels read), alerts as the engine writes them, and a district-wide coordinator token like
the one `jaylym admin token create --role viewer` makes for Grafana (a read-only
coordinator).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from shapely.geometry import mapping
from sqlalchemy import insert
from sqlalchemy.orm import Session

from api.alerts.engine.tables import alerts as alerts_table
from api.core.config import ApiConfig
from api.main import create_app
from jaylym.registry.broker import PasswordFileAccounts
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.registry.models import ApiToken, Device, Herd, Okrug, Pasture
from jaylym.registry.tokens import display_prefix, hash_token, new_token
from jaylym.settings import InfluxConfig
from jaylym.store.influx import InfluxStore
from tests.dashboards import seed as seeding

PEPPER = "dashboards-test-pepper-0123456789"
HOUR = seeding.HOUR
DAY = seeding.DAY


@dataclass
class DashboardApi:
    client: TestClient
    token: str  # the datasource's coordinator token
    alerts: list[dict[str, Any]]  # the rows written to the alerts table

    @property
    def headers(self) -> dict[str, str]:
        """What the datasource's custom header adds to every request."""
        return {"Authorization": f"Bearer {self.token}"}


def _registry(session: Session) -> None:
    """Okrugs, pastures, herds and devices matching what the seed wrote to InfluxDB."""
    okrugs = sorted({okrug for okrug, *_ in seeding.PASTURES})
    session.add_all(Okrug(id=o, name_kk=o, name_ru=o, name_en=o.title()) for o in okrugs)
    session.flush()
    productivity = {pid: prod for _o, pid, _lat, _lon, prod in seeding.PASTURES}
    session.add_all(
        Pasture(
            id=p.pasture_id,
            okrug_id=p.okrug,
            name=f"Pasture {p.pasture_id}",
            geometry=dict(mapping(p.geometry)),
            area_ha=p.area_ha,
            season="year_round",
            forage_kg_dm_ha=productivity[p.pasture_id],
        )
        for p in seeding.pastures()
    )
    session.add_all(
        Herd(id=herd, okrug_id=okrug, name=herd, **composition)
        for herd, (okrug, composition, _collars, _home) in seeding.HERDS.items()
    )
    session.flush()
    for herd, (okrug, _composition, collars, _home) in seeding.HERDS.items():
        session.add_all(
            Device(id=c, kind="collar", okrug_id=okrug, herd_id=herd, expected_interval_s=900)
            for c in collars
        )
    spare, spare_okrug = seeding.SPARE_COLLAR
    session.add(Device(id=spare, kind="collar", okrug_id=spare_okrug, expected_interval_s=900))
    for station, (okrug, _pasture) in seeding.STATIONS.items():
        lon, lat = seeding.station_lon_lat(station)
        session.add(
            Device(
                id=station,
                kind="soil",
                okrug_id=okrug,
                lat=lat,
                lon=lon,
                depths_cm=list(seeding.DEPTHS),
                expected_interval_s=3600,
            )
        )


def _alert(
    alert_id: str,
    rule: str,
    severity: str,
    okrug: str,
    opened_ms: int,
    *,
    state: str = "open",
    pasture: str | None = None,
    herd: str | None = None,
    device: str | None = None,
    value: float = 1.0,
    unit: str = "ratio",
    context: dict[str, Any] | None = None,
    resolved_ms: int | None = None,
) -> dict[str, Any]:
    """An alert row as the engine writes it (api/alerts/engine/tables.py)."""
    if device is not None:
        kind, subject = "device", f"device:{device}"
    elif herd is not None:
        kind, subject = "herd-in-pasture", f"herd:{herd}/pasture:{pasture}"
    else:
        kind, subject = "pasture", f"pasture:{pasture}"
    updated = resolved_ms or opened_ms + HOUR
    return {
        "id": alert_id,
        "rule": rule,
        "subject": subject,
        "subject_kind": kind,
        "okrug": okrug,
        "pasture_id": pasture,
        "herd_id": herd,
        "device_id": device,
        "state": state,
        "severity": severity,
        "value": value,
        "unit": unit,
        "context": context or {},
        "opened_ms": opened_ms,
        "updated_ms": updated,
        "last_notified_ms": opened_ms,
        "acknowledged_ms": opened_ms + HOUR if state == "acknowledged" else None,
        "acknowledged_by": "herder-1" if state == "acknowledged" else None,
        "resolved_ms": resolved_ms,
        "resolved_by": "engine" if resolved_ms is not None else None,
        "seq": 2 if state != "open" else 1,
        "version": 2 if state != "open" else 1,
    }


def alert_rows(now_ms: int) -> list[dict[str, Any]]:
    """Alerts of every subject kind, state and severity the panels show, in both okrugs;
    one opened before every dashboard's range (an open alert still counts)."""
    t = now_ms
    return [
        _alert("a-overgrazing", "overgrazing", "critical", "sogety", t - 2 * DAY,
               pasture="sogety-p1", value=1.07,
               context={"pasture_name": "Pasture sogety-p1", "herds_present": ["sogety-h1"]}),
        _alert("a-offplan", "off_plan", "warning", "sogety", t - 5 * HOUR, state="acknowledged",
               pasture="sogety-p3", herd="sogety-h1", value=50.0, unit="min",
               context={"pasture_name": "Pasture sogety-p3", "reason": "resting"}),
        _alert("a-offline", "device_offline", "warning", "sogety", t - 3 * HOUR,
               device=seeding.SPARE_COLLAR[0], value=180.0, unit="min"),
        _alert("a-battery", "low_battery", "warning", "sogety", t - 20 * HOUR,
               device="c-201", value=3.45, unit="V"),
        _alert("a-stray", "stray", "warning", "akshi", t - 3 * DAY, state="resolved",
               herd="akshi-h1", pasture="akshi-p1", value=420.0, unit="m",
               resolved_ms=t - 3 * DAY + 2 * HOUR),
        _alert("a-immobile", "immobile", "warning", "sogety", t - 10 * HOUR, state="resolved",
               herd="sogety-h2", pasture="sogety-p2", value=130.0, unit="min",
               resolved_ms=t - 8 * HOUR),
        _alert("a-offline-old", "device_offline", "critical", "akshi", t - 40 * DAY,
               device="c-302", value=57_600.0, unit="min"),
    ]  # fmt: skip


@contextmanager
def dashboard_api(influx: seeding.SeededInflux, tmp_path: Path) -> Iterator[DashboardApi]:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = make_engine(url)
    upgrade(engine)
    token = new_token()
    rows = alert_rows(influx.seeded.now_ms)
    with Session(engine) as session:
        _registry(session)
        session.add(
            ApiToken(
                name="grafana",
                token_hash=hash_token(token, PEPPER),
                prefix=display_prefix(token),
                role="viewer",  # a read-only coordinator
                okrugs=None,  # the district council sees every okrug
            )
        )
        session.execute(insert(alerts_table), rows)
        session.commit()
    engine.dispose()
    # The engine's configuration of the seeded week: same season start, same LU.
    grazing = seeding.grazing_config(influx.seeded.start_ms)
    config = ApiConfig(
        database_url=url,
        token_pepper=PEPPER,  # type: ignore[arg-type]
        livestock_units=dict(grazing.lu_coefficients),
    )
    store = InfluxStore(InfluxConfig(url=influx.url, database=influx.db, gzip=False))
    app = create_app(
        config, store=store, broker=PasswordFileAccounts(tmp_path / "passwd"), grazing=grazing
    )
    try:
        with TestClient(app) as client:
            yield DashboardApi(client, token, rows)
    finally:
        app.state.engine.dispose()
        store.close()

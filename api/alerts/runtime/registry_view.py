"""One consistent read of the registry, shaped for the engine, the grazing model and delivery.

The registry is small (an okrug has tens of pastures and herds), so it is read whole once per
evaluation: an edit in the registry reaches the next evaluation without any cache to expire.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import shapely.geometry
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.alerts.engine import inputs as engine_inputs
from api.alerts.recipients import LANGUAGES, Endpoint, Language, Recipient
from api.grazing import inputs as grazing_inputs
from api.grazing.inputs import GrazingInputError
from jaylym.models import DeviceInfo
from jaylym.registry.contacts import Coordinator
from jaylym.registry.models import Device, GrazingPlanEntry, Herd, Herder, Okrug, Pasture

log = structlog.get_logger("jaylym.alerts.registry")


@dataclass(frozen=True)
class RegistryView:
    pastures: tuple[engine_inputs.Pasture, ...]
    herds: tuple[engine_inputs.Herd, ...]
    devices: tuple[DeviceInfo, ...]
    plan: tuple[engine_inputs.PlanEntry, ...]
    grazing_pastures: tuple[grazing_inputs.Pasture, ...]
    grazing_herds: tuple[grazing_inputs.Herd, ...]
    stations: tuple[grazing_inputs.SoilStation, ...]
    people: tuple[Recipient, ...]
    okrug_names: Mapping[str, str] = field(default_factory=dict)
    # okrug -> language -> name: a message names the okrug in its reader's language
    okrug_names_by_language: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    pasture_names: Mapping[str, str] = field(default_factory=dict)
    herd_names: Mapping[str, str] = field(default_factory=dict)
    device_herd: Mapping[str, str] = field(default_factory=dict)

    @property
    def expected_interval_s(self) -> dict[str, float]:
        return {d.device_id: float(d.expected_interval_s) for d in self.devices}

    @property
    def model_key(self) -> str:
        """Changes whenever anything the grazing model is built from changes."""
        parts = [
            [
                (
                    p.pasture_id,
                    p.okrug,
                    p.geometry.wkb_hex,
                    p.area_ha,
                    p.productivity_kg_dm_ha,
                    p.season,
                )
                for p in self.grazing_pastures
            ],
            [(h.herd_id, sorted(h.composition.items()), h.collar_ids) for h in self.grazing_herds],
            [
                (s.device_id, s.lon, s.lat, s.wilting_point_pct, s.field_capacity_pct)
                for s in self.stations
            ],
        ]
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _local_midnight_ms(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp() * 1000)


def _endpoints(
    channels: list[str], phone: str | None, chat: int | None, webhook: str | None
) -> tuple[Endpoint, ...]:
    out: list[Endpoint] = []
    for name in channels:
        if name == "mqtt":
            out.append(Endpoint("mqtt"))
        elif name == "sms" and phone:
            out.append(Endpoint("sms", phone))
        elif name == "telegram" and chat is not None:
            out.append(Endpoint("telegram", str(chat)))
        elif name == "webhook" and webhook:
            out.append(Endpoint("webhook", webhook))
        else:
            # Chosen but not reachable (no phone, chat or URL): recorded by the deliverer as
            # a failed delivery with the reason, so a coordinator sees it in the log.
            out.append(Endpoint(name, ""))  # type: ignore[arg-type]
    return tuple(out)


def _language(value: str | None) -> Language | None:
    return value if value in LANGUAGES else None


def load_view(
    session: Session,
    lu_coefficients: Mapping[str, float],
    *,
    timezone: str = "Asia/Almaty",
    name_language: str = "kk",
    pasture_ids: set[str] | None = None,
) -> RegistryView:
    """Read the whole registry (or only `pasture_ids` of its pastures) once."""
    del lu_coefficients  # LU(h) is computed by the model from the composition
    zone = ZoneInfo(timezone)
    okrugs = {o.id: o for o in session.scalars(select(Okrug))}
    okrug_names = {
        oid: getattr(o, f"name_{name_language}", None) or o.name_en or oid
        for oid, o in okrugs.items()
    }
    pasture_rows = list(session.scalars(select(Pasture).order_by(Pasture.id)))
    if pasture_ids is not None:
        pasture_rows = [p for p in pasture_rows if p.id in pasture_ids]
    herd_rows = list(session.scalars(select(Herd).order_by(Herd.id)))
    device_rows = list(session.scalars(select(Device).order_by(Device.id)))
    herder_rows = list(session.scalars(select(Herder).order_by(Herder.id)))
    plan_rows = list(session.scalars(select(GrazingPlanEntry).order_by(GrazingPlanEntry.id)))
    coordinators = list(session.scalars(select(Coordinator).where(Coordinator.active)))

    pastures, grazing_pastures = [], []
    for p in pasture_rows:
        try:
            geometry = shapely.geometry.shape(p.geometry)
            grazing_pastures.append(
                grazing_inputs.Pasture(
                    p.id,
                    p.okrug_id,
                    geometry,
                    p.area_ha,
                    p.forage_kg_dm_ha,
                    p.season,  # type: ignore[arg-type]
                )
            )
        except (GrazingInputError, ValueError, TypeError) as exc:
            log.error("pasture.unusable", pasture=p.id, error=str(exc))
            continue
        pastures.append(
            engine_inputs.Pasture(
                id=p.id,
                okrug=p.okrug_id,
                name=p.name,
                geometry=geometry,
                status=engine_inputs.PastureStatus(p.status),
                load_limit_lu_per_ha=p.max_lu_per_ha,
            )
        )

    active = [d for d in device_rows if d.active and d.revoked_at is None]
    collars_of: dict[str, list[str]] = {}
    for d in active:
        if d.kind == "collar" and d.herd_id is not None:
            collars_of.setdefault(d.herd_id, []).append(d.id)
    herds = tuple(
        engine_inputs.Herd(
            id=h.id,
            okrug=h.okrug_id,
            name=h.name,
            herder_ids=(f"herder-{h.herder_id}",) if h.herder_id is not None else (),
        )
        for h in herd_rows
    )
    grazing_herds = tuple(
        grazing_inputs.Herd(h.id, h.composition(), tuple(collars_of.get(h.id, ())), h.okrug_id)
        for h in herd_rows
    )
    devices = tuple(
        DeviceInfo(
            device_id=d.id,
            kind=d.kind,  # type: ignore[arg-type]
            okrug=d.okrug_id,
            herd_id=d.herd_id,
            active=d.active and d.revoked_at is None,
            dev_eui=d.dev_eui,
            expected_interval_s=d.expected_interval_s,
        )
        for d in device_rows
    )
    stations = []
    for d in active:
        if d.kind != "soil" or d.lat is None or d.lon is None:
            continue
        cal = d.calibration or {}
        try:
            stations.append(
                grazing_inputs.SoilStation(
                    d.id, d.lon, d.lat, cal.get("wilting_point_pct"), cal.get("field_capacity_pct")
                )
            )
        except GrazingInputError as exc:
            log.error("station.unusable", device=d.id, error=str(exc))

    # A plan entry without a herd opens the pasture to every herd of its okrug.
    pasture_okrug = {p.id: p.okrug_id for p in pasture_rows}
    plan: list[engine_inputs.PlanEntry] = []
    for e in plan_rows:
        start = _local_midnight_ms(e.start_date, zone)
        end = _local_midnight_ms(e.end_date + timedelta(days=1), zone)  # end date inclusive
        herd_ids = (
            [e.herd_id]
            if e.herd_id is not None
            else [h.id for h in herd_rows if h.okrug_id == pasture_okrug.get(e.pasture_id)]
        )
        plan.extend(engine_inputs.PlanEntry(h, e.pasture_id, start, end) for h in herd_ids)

    people: list[Recipient] = []
    for herder in herder_rows:
        people.append(
            Recipient(
                id=f"herder-{herder.id}",
                role="herder",
                name=herder.name,
                endpoints=_endpoints(
                    list(herder.channels or []), herder.phone, herder.telegram_chat_id, None
                ),
                language=_language(herder.language),
                herd_ids=frozenset(h.id for h in herd_rows if h.herder_id == herder.id),
                okrug_ids=frozenset({herder.okrug_id}),
            )
        )
    for c in coordinators:
        people.append(
            Recipient(
                id=f"coordinator-{c.id}",
                role="coordinator",
                name=c.name,
                endpoints=_endpoints(
                    list(c.channels or []), c.phone, c.telegram_chat_id, c.webhook_url
                ),
                language=_language(c.language),
                okrug_ids=frozenset(c.okrugs if c.okrugs is not None else okrugs),
            )
        )
    return RegistryView(
        pastures=tuple(pastures),
        herds=herds,
        devices=devices,
        plan=tuple(plan),
        grazing_pastures=tuple(grazing_pastures),
        grazing_herds=grazing_herds,
        stations=tuple(stations),
        people=tuple(people),
        okrug_names=okrug_names,
        okrug_names_by_language={
            oid: {"kk": o.name_kk, "ru": o.name_ru, "en": o.name_en} for oid, o in okrugs.items()
        },
        pasture_names={p.id: p.name for p in pasture_rows},
        herd_names={h.id: h.name for h in herd_rows},
        device_herd={d.id: d.herd_id for d in device_rows if d.herd_id is not None},
    )

"""Alert evaluation of a whole district: 10 000 collars × 500 pastures, one-hour window.

The scene is bench/grazing_model.py's (500 pastures, 1 000 herds of 10 collars, fixes every
15 min over the 3 h the model reads, 50 soil stations). One evaluation, timed end to end:
the grazing model over the window, its results handed to the alert engine as its snapshot,
every rule run, the lifecycle applied against the (in-memory) repository. Each herd's plan
entry names its home pasture, so the off-plan and stray rules have real work to do.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench import grazing_model as scene


def build(herds: int = scene.N_HERDS, cols: int = scene.COLS, rows: int = scene.ROWS) -> Any:
    """The scene, the grazing model and the engine, built once (as the API does at start)."""
    from api.alerts.engine.engine import AlertEngine
    from api.alerts.engine.inputs import Herd, Pasture, PlanEntry
    from api.alerts.engine.repository import InMemoryRepository
    from api.grazing import GrazingModel
    from jaylym.models import DeviceInfo

    scene.N_HERDS, scene.COLS, scene.ROWS = herds, cols, rows
    rng = np.random.default_rng(6)
    pastures = scene.pastures(rng)
    g_herds, fixes = scene.herds_and_fixes(rng, 900)
    stations, soil = scene.stations_and_soil(rng)
    model = GrazingModel(pastures, g_herds, stations)
    e_pastures = [Pasture(p.pasture_id, "sogety", p.pasture_id, p.geometry) for p in pastures]
    e_herds = [Herd(h.herd_id, "sogety", h.herd_id) for h in g_herds]
    devices = [
        DeviceInfo(c, "collar", "sogety", herd_id=h.herd_id) for h in g_herds for c in h.collar_ids
    ]
    start = scene.T_END - 30 * 24 * scene.HOUR
    plan = [
        PlanEntry(h.herd_id, pastures[i % len(pastures)].pasture_id, start, scene.T_END + 1)
        for i, h in enumerate(g_herds)
    ]
    engine = AlertEngine(InMemoryRepository())
    return {
        "model": model, "engine": engine, "fixes": fixes, "soil": soil, "pastures": e_pastures,
        "herds": e_herds, "devices": devices, "plan": plan,
        "collars": len(devices), "pasture_count": len(pastures),
        "fix_count": sum(len(v) for v in fixes.values()),
    }  # fmt: skip


def evaluate(world: dict[str, Any]) -> dict[str, Any]:
    """One evaluation; seconds spent in the grazing model, the engine, and both."""
    from api.alerts.engine.inputs import PastureGrazing, Sample, Snapshot

    now = scene.T_END
    t0 = time.perf_counter()
    result = world["model"].evaluate(world["fixes"], now - scene.HOUR, now, soil=world["soil"])
    t1 = time.perf_counter()
    grazing = {
        p.pasture_id: PastureGrazing(
            p.pasture_id,
            utilisation=p.utilisation or 0.0,
            current_density_lu_per_ha=p.current_density_lu_per_ha,
            moisture_factor=p.moisture.factor,
            herds_present=p.herds_present,
            herd_time_s={h.herd_id: h.hours * 3600 for h in p.herds},
            density_series=(Sample(now, p.current_density_lu_per_ha),),
            moisture_series=(Sample(now, p.moisture.factor),),
        )
        for p in result.pastures
    }
    last_seen = {c: fx[-1].ts_ms for c, fx in world["fixes"].items() if fx}
    battery = {c: (Sample(now - scene.HOUR, 3.95), Sample(now, 3.9)) for c in last_seen}
    snapshot = Snapshot(
        now_ms=now, pastures=world["pastures"], herds=world["herds"], devices=world["devices"],
        plan=world["plan"], fixes=world["fixes"], grazing=grazing, last_seen_ms=last_seen,
        battery=battery,
    )  # fmt: skip
    report = world["engine"].evaluate(snapshot)
    t2 = time.perf_counter()
    if report.failed_rules:
        raise RuntimeError(f"alert rules failed: {report.failed_rules}")
    return {
        "grazing_s": t1 - t0,
        "engine_s": t2 - t1,
        "total_s": t2 - t0,
        "conditions": report.conditions,
        "skipped_rules": report.skipped_rules,
        "collars": world["collars"],
        "pastures": world["pasture_count"],
        "fixes": world["fix_count"],
    }

"""Line-protocol injection, end to end against the real InfluxDB: every string that can reach
the store, through the code that really writes it.

The escaping rules themselves, and arbitrary strings round-tripping through both stores, are
property tests in tests/jaylym/store/test_lineprotocol.py. This file follows each *source*:

- the registry's okrug and herd id of a device, through the ingest consumer (decoders,
  validation, the readings' line encoder) into `position` and `soil`;
- the same okrug (and the device id, kind and the ingest's instance) into `device_stats`;
- hostile MQTT topics and payloads, refused: only a `dlq` count tagged with the reason (a
  closed set) reaches the store, never the topic, detail or payload;
- pasture ids, okrugs and herd ids of the registry through the alert runtime's
  `pasture_state`/`pasture_herd` writer (`RegistrySnapshotSource._write_state`). (Pasture
  and herd *names* never reach the store: the writers take ids only.)

Afterwards `SHOW MEASUREMENTS`, `SHOW SERIES`, `SHOW TAG KEYS`, `SHOW TAG VALUES` and
`SHOW FIELD KEYS` show exactly the intended points, and every hostile string reads back
unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.alerts.runtime.snapshot import RegistrySnapshotSource
from api.grazing.config import GrazingConfig
from api.grazing.fixes import FixCounts
from api.grazing.moisture import MoistureFactor
from api.grazing.results import GrazingResult, HerdInPasture, PastureGrazing
from ingest.reasons import Reason
from jaylym.models import DeviceInfo, PositionReading, SoilReading
from jaylym.store.influx import InfluxStore
from jaylym.store.lineprotocol import decode_text
from tests.ingest.harness import Harness
from tests.jaylym.store.conftest import influx_store

pytestmark = pytest.mark.influx

# Every character line protocol gives a meaning to, the classic injections, and Unicode.
HOSTILE = [
    "a b", "a,b", "a=b", 'a"b', "a'b", "a\\b", "trailing\\", "\\", "a\nb", "\n evil v=1",
    "x\r\nevil,t=1 v=1 1", "c1,herd=x v=1\nevil v=2", 'q" ,v=1', "%0A", "%25", "\\ ", "\\,",
    "\\=", "a=b,c=d e=f", "#comment", "\t", "Жайлау көктеу", "牧场", "sheep 🐑", "\u202etxet",
    "zero\u200bwidth", "back\\\\slash",
]  # fmt: skip
NOW_S = time.time()


@pytest.fixture
def store(influx: Any) -> Iterator[InfluxStore]:
    s = influx_store(influx.url)
    yield s
    s.drop_database()
    s.close()


def show(store: InfluxStore, statement: str) -> list[list[Any]]:
    r = httpx.get(
        f"{store.config.url}/query",
        params={"db": store.config.database, "q": statement},
        timeout=10,
    )
    r.raise_for_status()
    series = r.json()["results"][0].get("series", [])
    return [values for s in series for values in s["values"]]


def show_by_measurement(store: InfluxStore, statement: str) -> dict[str, list[list[Any]]]:
    r = httpx.get(
        f"{store.config.url}/query",
        params={"db": store.config.database, "q": statement},
        timeout=10,
    )
    r.raise_for_status()
    return {s["name"]: s["values"] for s in r.json()["results"][0].get("series", [])}


def dev_eui(i: int) -> str:
    return f"70b3d57ed1{i:06x}"


def devices() -> list[DeviceInfo]:
    """A collar and a soil station per hostile string, that string as okrug and herd id."""
    out = []
    for i, text in enumerate(HOSTILE):
        out.append(DeviceInfo(f"col-{i:03d}", "collar", text, herd_id=text, dev_eui=dev_eui(i)))
        out.append(DeviceInfo(f"soil-{i:03d}", "soil", text, dev_eui=dev_eui(500 + i)))
    return out


def uplink(i: int, obj: dict[str, Any]) -> tuple[str, bytes]:
    """A ChirpStack uplink: the LoRaWAN path names no okrug in its topic, so a device whose
    registry okrug is hostile is accepted and its okrug tag reaches the store."""
    topic = f"application/app/device/{dev_eui(i)}/event/up"
    event = {"deviceInfo": {"devEui": dev_eui(i)}, "fCnt": 1,
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW_S - 600)),
             "object": obj}  # fmt: skip
    return topic, json.dumps(event).encode()


# Hostile topics and payloads: refused, and nothing of them but the reason reaches the store.
REFUSED = [
    ("pasture/v1/sogety/collar/c 1,herd=x v=1\nevil v=2/telemetry", b'{"v":1}'),
    ("pasture/v1/so gety,x=1/collar/col-000/telemetry", b'{"v":1}'),
    ('pasture/v1/sogety/collar/col-000"\\/telemetry', b"{}"),
    ("pasture/v1/sogety/collar/col-000/telemetry", b'{"v":1,"readings":"\\n evil v=1"}'),
    ("pasture/v1/sogety/collar/unknown-1/telemetry", b"\n evil v=1 1\n"),
    ("evil\nv=1 1", b"x"),
    ("application/a b/device/70b3d57ed1000000/event/up", b'{"x":"\\"=,"}'),
]


def test_hostile_strings_reach_the_store_as_data_only(store: InfluxStore, tmp_path: Path) -> None:
    h = Harness(tmp_path, devices=devices(), stats_interval_s=3600)
    h.store = store  # type: ignore[assignment]
    h.consumer.store = store
    for i, text in enumerate(HOSTILE):
        h.send(*uplink(i, {"lat": 43.5 + i * 1e-4, "lon": 77.3, "bat": 3.9}))
        h.send(*uplink(500 + i, {"depths": [10, 30], "vwc": [20.5, 25.0]}))
        assert text  # (an empty tag value is omitted, not hostile)
    for topic, payload in REFUSED:
        h.send(topic, payload)
    h.drain()
    assert len(h.transport.acked) == 2 * len(HOSTILE) + len(REFUSED)
    assert len(h.ledger.dead_letters) == len(REFUSED)
    h.consumer.flush_stats()  # device_stats and dlq, now

    # The alert runtime's writer, with registry ids as hostile as the okrugs.
    now_ms = int(NOW_S * 1000)
    source = RegistrySnapshotSource(_no_sessions, store, GrazingConfig())
    source._write_state(grazing_result(now_ms), now_ms)

    measurements = {row[0] for row in show(store, "SHOW MEASUREMENTS")}
    assert measurements == {"position", "soil", "device_stats", "dlq", "pasture_state",
                            "pasture_herd"}  # fmt: skip
    tag_keys = {m: {v[0] for v in vals}
                for m, vals in show_by_measurement(store, "SHOW TAG KEYS").items()}  # fmt: skip
    assert tag_keys == {
        "position": {"device", "okrug", "herd"},
        "soil": {"device", "okrug", "depth"},
        "device_stats": {"device", "okrug", "kind", "instance"},
        "dlq": {"reason", "instance"},
        "pasture_state": {"pasture", "okrug"},
        "pasture_herd": {"pasture", "okrug", "herd"},
    }
    field_keys = {m: {v[0] for v in vals}
                  for m, vals in show_by_measurement(store, "SHOW FIELD KEYS").items()}  # fmt: skip
    assert field_keys["dlq"] == {"count"}
    assert field_keys["device_stats"] == {"received", "missing", "duplicates"}
    assert field_keys["pasture_herd"] == {"frac", "lu", "hours"}
    assert field_keys["pasture_state"] <= {"lu", "density", "lu_days_per_ha", "utilisation",
                                           "moisture_factor", "capacity"}  # fmt: skip
    assert field_keys["position"] <= {"lat", "lon", "hdop", "sats", "alt", "bat", "seq",
                                      "valid", "qc"}  # fmt: skip
    assert field_keys["soil"] <= {"vwc", "tsoil", "bat", "seq", "valid", "qc"}

    # Series: one per device (soil: per depth), per pasture, per (pasture, herd), per reason.
    n = len(HOSTILE)
    series = [row[0] for row in show(store, "SHOW SERIES")]
    per_measurement: dict[str, int] = {}
    for key in series:
        name = key.split(",", 1)[0]
        per_measurement[name] = per_measurement.get(name, 0) + 1
    reasons = {d.reason for d in h.ledger.dead_letters}
    assert per_measurement == {
        "position": n, "soil": 2 * n, "device_stats": 2 * n, "pasture_state": n,
        "pasture_herd": n, "dlq": len(reasons),
    }  # fmt: skip
    assert reasons <= set(Reason)

    # Every hostile string reads back exactly, under exactly the tag it was written to.
    for key, expect in (
        ("okrug", set(HOSTILE)),
        ("herd", set(HOSTILE)),
        ("pasture", set(HOSTILE)),
        ("reason", reasons),
        ("kind", {"collar", "soil"}),
    ):
        values = {decode_text(v[1]) for v in show(store, f'SHOW TAG VALUES WITH KEY = "{key}"')}
        assert values == expect, key
    devices_seen = {v[1] for v in show(store, 'SHOW TAG VALUES WITH KEY = "device"')}
    assert devices_seen == {d.device_id for d in devices()}
    assert "evil" not in json.dumps(show(store, 'SHOW TAG VALUES WITH KEY IN ("device", "reason")'))

    # Through the store's own read path, readings come back whole.
    start, end = now_ms - 3_600_000, now_ms + 1
    for i, text in enumerate(HOSTILE):
        (fix,) = store.device_readings(f"col-{i:03d}", start, end)
        assert isinstance(fix, PositionReading)
        assert (fix.okrug, fix.herd_id, fix.lat) == (text, text, 43.5 + i * 1e-4)
        soil = store.device_readings(f"soil-{i:03d}", start, end)
        assert [(r.okrug, r.depth_cm) for r in soil if isinstance(r, SoilReading)] == [
            (text, 10), (text, 30)
        ]  # fmt: skip
        (state,) = store.query_points("pasture_state", now_ms, now_ms + 1, {"pasture": text})
        assert state.tags == {"pasture": text, "okrug": text}
    h.spool.close()


def _no_sessions() -> Any:
    raise AssertionError("the writer must not need the registry")


def grazing_result(now_ms: int) -> GrazingResult:
    pastures = tuple(
        PastureGrazing(
            pasture_id=text, okrug=text, start_ms=now_ms - 86_400_000, end_ms=now_ms,
            at_ms=now_ms, area_ha=100.0, lu_days=10.0, lu_days_per_ha=0.1,
            capacity_lu_days_per_ha=5.0, utilisation=0.02,
            moisture=MoistureFactor(1.0, "none"), current_lu=12.0,
            current_density_lu_per_ha=0.12, herds_present=(text,),
            herds=(HerdInPasture(herd_id=text, fraction_now=1.0, lu_now=12.0, hours=3.0,
                                 lu_days=1.5),),
        )
        for text in HOSTILE
    )  # fmt: skip
    return GrazingResult(pastures=pastures, counts=FixCounts())

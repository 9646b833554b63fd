"""SQL and InfluxQL injection through every API parameter.

Every path and query parameter, and every string field of every JSON request body, is read
from the app's own OpenAPI document (a new parameter is covered without touching this file).
Each gets every classic payload, sent by the coordinator of okrug A (or by the admin where
only an admin may call the route), with the real registry (SQLite and PostgreSQL) and the
real InfluxDB behind the telemetry routes. Asserted for every request: no 5xx; a refusal is
a problem document with its status; nothing of okrug B comes back; a stored string comes
back exactly as sent (it was bound, not interpreted). Asserted afterwards: no registry table
lost a row, read-only requests changed no count at all, okrug B's rows are untouched, and
the InfluxDB measurements, series and point counts are exactly what they were.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.engine import Engine

from jaylym.settings import InfluxConfig
from jaylym.store.base import Point
from jaylym.store.influx import InfluxStore
from jaylym.store.influxql import Query
from tests.api.conftest import NOW_MS, Api, seed_readings
from tests.conftest import InfluxHandle
from tests.security.api.tenants import leaked, mark_tenant_b

PAYLOADS = [
    "' OR 1=1--",
    '"; DROP TABLE herds;--',
    "'; DROP TABLE herd; --",
    'x" OR "1"="1',
    "'; DROP MEASUREMENT position;--",
    '" OR "device" =~ /.*/ --',
    "collar-a' OR '1'='1",
    "collar-a\n",  # a `$` that matches before a trailing newline would let this through
    "/.*/",
    "$p0",  # an InfluxQL bind-parameter reference
    "\n",
    "sogety\x00",
    "Сөгеті \u202e🐑 ✓ 羊",
    "A" * 5000,
]
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    where: str  # "path", "query" or "body"
    name: str  # parameter name, or a dotted path into the body ("features.0.properties.id")

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where}:{self.name}"


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    resolved: dict[str, Any] = (
        doc["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema
    )
    return resolved


def _allows_string(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(doc, schema)
    if schema.get("type") == "string":
        return True
    return any(_allows_string(doc, s) for s in schema.get("anyOf", []) + schema.get("oneOf", []))


def _string_leaves(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, str):
        return [prefix]
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    return [leaf for k, v in items for leaf in _string_leaves(v, f"{prefix}.{k}".lstrip("."))]


def body_example(doc: dict[str, Any], op: dict[str, Any]) -> tuple[dict[str, Any], Any] | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    schema = _resolve(doc, content["schema"])
    return schema, copy.deepcopy(schema["examples"][0])


def targets(doc: dict[str, Any]) -> list[Target]:
    found = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            m = method.upper()
            found += [Target(m, path, p["in"], p["name"]) for p in op.get("parameters", [])]
            body = body_example(doc, op)
            if body is None:
                continue
            schema, example = body
            names = set(_string_leaves(example))
            names |= {
                name
                for name, prop in schema.get("properties", {}).items()
                if _allows_string(doc, prop)
            }
            found += [Target(m, path, "body", name) for name in sorted(names)]
    return found


def seeded_ids(api: Api) -> dict[str, Any]:
    w = api.world
    return {
        "okrug_id": "sogety",
        "pasture_id": "past-a",
        "entry_id": w.plan_a,
        "herd_id": "herd-a",
        "herder_id": w.herder_a,
        "device_id": "collar-a",
        "station_id": "soil-a",
        "token_id": w.token_b,
        "message_id": 1,
        "alert_id": "alert-a",
    }


# The document's examples name objects of the docs' own story; point them at the seed.
EXAMPLE_IDS = {"abilov-flock": "herd-a", "kokzhailau": "past-a", "collar-017": "collar-a"}


def _seed_example(value: Any, api: Api) -> Any:
    if isinstance(value, dict):
        out = {k: _seed_example(v, api) for k, v in value.items()}
        if "herder_id" in out:
            out["herder_id"] = api.world.herder_a
        return out
    if isinstance(value, list):
        return [_seed_example(v, api) for v in value]
    return EXAMPLE_IDS.get(value, value) if isinstance(value, str) else value


def _set(body: Any, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


_fresh = itertools.count(1)


def build(api: Api, doc: dict[str, Any], t: Target, payload: str) -> tuple[str, Any]:
    """The URL and JSON body carrying `payload` in `t`, every other input valid."""
    values = {k: quote(str(v), safe="") for k, v in seeded_ids(api).items()}
    body = None
    op = doc["paths"][t.path][t.method.lower()]
    example = body_example(doc, op)
    if example is not None:
        body = _seed_example(example[1], api)
        # Creates need a new id each time so the payload reaches the INSERT, not a 409.
        for key in ("id", "features.0.properties.id"):
            with contextlib.suppress(KeyError, IndexError, TypeError):  # no such field
                _set(body, key, f"inj-{next(_fresh)}")
    if t.where == "path":
        values[t.name] = quote(payload, safe="")
    url = t.path.format(**values)
    if t.where == "query":
        url += f"?{t.name}={quote(payload, safe='')}"
    if t.where == "body":
        _set(body, t.name, payload)
    return url, body


def registry_counts(engine: Engine) -> dict[str, int]:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {
            name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()  # noqa: S608
            for name in sorted(meta.tables)
            if name != "alembic_version"
        }


def tenant_b_rows(engine: Engine) -> str:
    """Every row that belongs to okrug B, as text: must not change at all."""
    meta = MetaData()
    meta.reflect(engine)
    out = []
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            column = table.c.get("okrug_id") if "okrug_id" in table.c else table.c.get("okrug")
            if column is None and name == "okrug":
                column = table.c.id
            if column is None:
                continue
            rows = conn.execute(select(table).where(column == "tau").order_by(*table.primary_key))
            out.append(f"{name}: {[tuple(map(str, r)) for r in rows]}")
    return "\n".join(out)


def influx_census(store: InfluxStore) -> dict[str, Any]:
    """Measurements, series and points per measurement of the store's database."""
    client = httpx.Client(base_url=store.config.url, timeout=10.0)
    db = store.config.database

    def ask(q: str) -> Any:
        r = client.get("/query", params={"db": db, "q": q})
        r.raise_for_status()
        return r.json()["results"][0].get("series", [])

    measurements = sorted(row[0] for s in ask("SHOW MEASUREMENTS") for row in s["values"])
    series = sorted(row[0] for s in ask("SHOW SERIES") for row in s["values"])
    points = {}
    for m in measurements:
        q = Query()
        q.add(f'SELECT count(*) FROM "{m}"')  # noqa: S608 - names listed by the server
        points[m] = json.dumps(ask(q.text))
    client.close()
    return {"measurements": measurements, "series": series, "points": points}


def test_every_parameter_resists_injection(influx_api: Api) -> None:
    api = influx_api
    mark_tenant_b(api)
    doc = api.app.openapi()
    found = targets(doc)
    by_where = Counter(t.where for t in found)
    assert by_where["path"] >= 25, by_where
    assert by_where["query"] >= 30, by_where
    assert by_where["body"] >= 30, by_where
    engine = api.app.state.engine
    store = api.app.state.store
    counts_before = registry_counts(engine)
    b_before = tenant_b_rows(engine)
    influx_before = influx_census(store)
    assert influx_before["series"], "the store was seeded"

    statuses: Counter[int] = Counter()
    reads = [t for t in found if t.method == "GET"]
    writes = [t for t in found if t.method != "GET"]
    for phase, group in (("reads", reads), ("writes", writes)):
        for t, payload in itertools.product(group, PAYLOADS):
            statuses[_send(api, doc, t, payload)] += 1
        if phase == "reads":
            assert registry_counts(engine) == counts_before, "a GET changed the registry"
    counts_after = registry_counts(engine)
    shrunk = {k: (v, counts_after[k]) for k, v in counts_before.items() if counts_after[k] < v}
    assert not shrunk, f"rows vanished: {shrunk}"
    assert tenant_b_rows(engine) == b_before
    assert influx_census(store) == influx_before
    # Seeded objects of okrug A are all still there (writes may rename, never remove them).
    for path in ("/api/v1/herds/herd-a", "/api/v1/devices/collar-a", "/api/v1/pastures/past-a"):
        assert api.client.get(path, headers=api.as_("admin")).status_code == 200, path
    assert not any(code >= 500 for code in statuses)
    assert statuses[422] > 0
    assert len(found) * len(PAYLOADS) == sum(statuses.values())
    print(
        f"injection: {len(found)} parameters ({dict(by_where)}), {len(PAYLOADS)} payloads, "
        f"{sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}"
    )


def _send(api: Api, doc: dict[str, Any], t: Target, payload: str) -> int:
    url, body = build(api, doc, t, payload)
    role = "coordinator"
    r = api.client.request(t.method, url, json=body, headers=api.as_(role))
    if r.status_code == 403:
        role = "admin"
        r = api.client.request(t.method, url, json=body, headers=api.as_(role))
    where = f"{t} {payload[:40]!r} as {role}"
    assert r.status_code < 500, f"{where}: {r.status_code} {r.text[:500]}"
    if r.status_code >= 400:
        assert r.headers["content-type"] == PROBLEM, f"{where}: {r.headers['content-type']}"
        problem = r.json()
        assert problem["status"] == r.status_code, where
        assert problem.get("detail") or problem.get("errors"), f"{where}: unexplained {problem}"
    if role == "coordinator":
        found = leaked(r.text, [url, json.dumps(body, ensure_ascii=False), payload])
        assert not found, f"{where}: shows okrug B ({found}): {r.text[:500]}"
    if r.status_code in (200, 201) and t.where == "body" and "." not in t.name:
        echoed = r.json().get(t.name)
        if echoed is not None:
            assert echoed == payload, f"{where}: stored {echoed!r}"
    return r.status_code


def test_the_store_binds_what_the_api_would_pass(influx: InfluxHandle) -> None:
    """The second line behind the API's door checks: the InfluxDB store itself refuses a
    hostile device id, and a hostile tag value is bound as a parameter (it matches nothing
    and runs nothing), so nothing is dropped and nothing of another series is returned."""
    store = InfluxStore(
        InfluxConfig(url=influx.url, database=f"t_{uuid.uuid4().hex[:16]}", retries=1)
    )
    store.create_database()
    try:
        seed_readings(store)
        for pasture in ("past-a", "past-b"):
            store.write_points([Point("pasture_state", {"pasture": pasture}, {"u": 0.5}, NOW_MS)])
        before = influx_census(store)
        start, end = NOW_MS - 7 * 86_400_000, NOW_MS + 60_000
        assert len(store.query_points("pasture_state", start, end, {"pasture": "past-a"})) == 1
        for payload in PAYLOADS:
            with pytest.raises(ValueError, match="device id"):
                store.device_readings(payload, start, end)
            with pytest.raises(ValueError, match="device id"):
                store.soil(payload, start, end)
            with pytest.raises(ValueError, match="device id"):
                store.soil(payload, start, end, 3600)
            tags = {"pasture": payload}
            assert store.query_points("pasture_state", start, end, tags) == [], payload
        assert influx_census(store) == before
    finally:
        store.drop_database()
        store.close()

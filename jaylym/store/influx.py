"""The InfluxDB store, through the v1-compatible HTTP API only.

`POST /write` (line protocol, `precision=ms`) and `GET|POST /query` (InfluxQL, `epoch=ms`)
work unchanged on InfluxDB 1.x, on 2.x through its v1 compatibility API (token auth, DBRP
mapping) and on 3.x, and are what Grafana's InfluxQL datasource speaks.

Failures: 5xx, 429, timeouts and connection errors are retried with exponential backoff and
jitter a bounded number of times, then raise `StoreUnavailable`; the caller's batch is never
touched, and replaying it is harmless (same series and time overwrite). Other 4xx raise
`StoreRejected` carrying InfluxDB's message. A write to a missing database creates it once
(1.x; on 2.x/3.x the bucket must exist and the error says so).
"""

from __future__ import annotations

import gzip
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

import httpx
import orjson
import structlog

from jaylym.models import PositionReading, Reading, SoilReading
from jaylym.settings import InfluxConfig
from jaylym.store import schema
from jaylym.store.base import (
    LatestReading,
    Point,
    SoilSample,
    StoreError,
    StoreRejected,
    StoreUnavailable,
)
from jaylym.store.influxql import Query, duration_s, ident, select
from jaylym.store.lineprotocol import PRECISION, decode_text, encode_text, point_line

log = structlog.get_logger(__name__)
R = TypeVar("R", bound=PositionReading | SoilReading)

_DROPPED_RE = re.compile(r"dropped=(\d+)")
_BACKOFF_CAP_S = 10.0
_GZIP_LEVEL = 1  # level 1 gets most of the saving at a fraction of the CPU


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a query result: its tags and rows keyed by column name."""

    name: str
    tags: dict[str, str]
    rows: list[dict[str, Any]]


class InfluxStore:
    """`TimeSeriesStore` on InfluxDB. Thread-safe: httpx's client pools connections."""

    def __init__(
        self,
        config: InfluxConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._sleep = sleep
        headers = {"User-Agent": "jaylym"}
        auth: httpx.BasicAuth | None = None
        if config.token is not None:
            headers["Authorization"] = f"Token {config.token.get_secret_value()}"
        elif config.username:
            password = config.password.get_secret_value() if config.password else ""
            auth = httpx.BasicAuth(config.username, password)
        self._client = httpx.Client(
            base_url=config.url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=config.timeout_s,
        )
        self._write_params = {"db": config.database, "precision": PRECISION}
        if config.retention_policy:
            self._write_params["rp"] = config.retention_policy
        self._executor: ThreadPoolExecutor | None = None
        self._sender_lock = threading.Lock()
        self._rp = quote_name(config.retention_policy) + "." if config.retention_policy else ""

    # -- writes ---------------------------------------------------------------------------

    def write(self, readings: Sequence[Reading]) -> None:
        self._post_batches(iter(schema.checked_lines(readings)))

    def write_points(self, points: Sequence[Point]) -> None:
        for index, point in enumerate(points):
            if not isinstance(point, Point):
                raise StoreRejected(f"item {index} is not a Point")
        self._post_batches(point_line(p) for p in points)

    def write_lines(self, lines: Iterable[str]) -> None:
        """Post ready lines in requests of at most `batch_size` lines each."""
        self._post_batches(iter(lines))

    def _post_batches(self, lines: Iterator[str]) -> None:
        """Encode batch k+1 while batch k is on the wire: one request in flight at a time,
        in order; the first failure stops the rest and is raised."""
        in_flight: Future[None] | None = None
        try:
            while batch := list(islice(lines, self.config.batch_size)):
                body = self._body(batch)
                if in_flight is not None:
                    in_flight.result()
                    in_flight = self._sender().submit(self._post_write, body)
                elif len(batch) < self.config.batch_size:  # the common small write: no thread
                    self._post_write(body)
                else:
                    in_flight = self._sender().submit(self._post_write, body)
            if in_flight is not None:
                in_flight.result()
        finally:
            # Never leave a request running behind the caller's back after an error.
            if in_flight is not None and not in_flight.cancel():
                wait([in_flight])

    def _body(self, batch: list[str]) -> bytes:
        body = ("\n".join(batch) + "\n").encode()
        return gzip.compress(body, compresslevel=_GZIP_LEVEL) if self.config.gzip else body

    def _sender(self) -> ThreadPoolExecutor:
        with self._sender_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="influx-write")
            return self._executor

    def _post_write(self, body: bytes) -> None:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.config.gzip:
            headers["Content-Encoding"] = "gzip"
        for created in (False, True):
            resp = self._request(
                "POST", "/write", params=self._write_params, content=body, headers=headers
            )
            if resp.status_code in (200, 204):
                return
            message = _error_message(resp)
            if resp.status_code == 404 and "database not found" in message and not created:
                try:
                    self.create_database()
                except StoreRejected as exc:  # 2.x/3.x: buckets are made by an administrator
                    raise StoreRejected(
                        f"InfluxDB: {message}, and creating it failed: {exc}", status=404
                    ) from exc
                continue
            raise StoreRejected(
                f"InfluxDB refused the write (HTTP {resp.status_code}): {message}",
                status=resp.status_code,
                dropped=_dropped(message),
            )

    def create_database(self) -> None:
        """`CREATE DATABASE` (1.x; idempotent). 2.x/3.x refuse it: their buckets are made
        by an administrator."""
        q = Query()
        q.add(f"CREATE DATABASE {quote_name(self.config.database)}")
        self._query(q, method="POST", db=None)
        log.info("influx_database_created", database=self.config.database)

    # -- reads ----------------------------------------------------------------------------

    def latest(self) -> dict[str, LatestReading]:
        q = Query()
        newest = "ORDER BY time DESC LIMIT 1"
        q.add(select("*", self._m(schema.POSITION), group_by='"device"', tail=newest))
        q.add(select("*", self._m(schema.SOIL), group_by='"device", "depth"', tail=newest))
        positions, soils = self._query(q)
        candidates: list[Reading] = [
            schema.position_from_row(s.tags["device"], row)
            for s in positions
            for row in _whole(s.rows, "lat", "lon")
        ]
        candidates += [
            schema.soil_from_row(s.tags["device"], {**row, "depth": s.tags["depth"]})
            for s in soils
            for row in _whole(s.rows, "vwc")
        ]
        out: dict[str, LatestReading] = {}
        # Newest first; among equal times the position, then the shallowest depth wins.
        for reading in sorted(candidates, key=lambda r: _newest_first(r)):
            out.setdefault(
                reading.device_id, LatestReading(reading.device_id, reading.ts_ms, reading)
            )
        return out

    def device_readings(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        schema.check_device_id(device_id)
        schema.check_range(start_ms, end_ms)
        q = Query()
        device = q.bind(device_id)
        span = q.where_time(start_ms, end_ms)
        q.add(select("*", self._m(schema.POSITION), f'"device" = {device} AND {span}'))
        q.add(select("*", self._m(schema.SOIL), f'"device" = {device} AND {span}'))
        positions, soils = self._query(q)
        readings: list[Reading] = [
            schema.position_from_row(device_id, row)
            for s in positions
            for row in _whole(s.rows, "lat", "lon")
        ]
        readings += [
            schema.soil_from_row(device_id, row) for s in soils for row in _whole(s.rows, "vwc")
        ]
        return _dedupe(sorted(readings, key=schema.reading_key))

    def positions(self, start_ms: int, end_ms: int) -> dict[str, list[PositionReading]]:
        schema.check_range(start_ms, end_ms)
        q = Query()
        span = q.where_time(start_ms, end_ms)
        q.add(select("*", self._m(schema.POSITION), span, group_by='"device"'))
        (series,) = self._query(q)
        out: dict[str, list[PositionReading]] = {}
        for s in series:
            device = s.tags["device"]
            rows = [schema.position_from_row(device, r) for r in _whole(s.rows, "lat", "lon")]
            out.setdefault(device, []).extend(rows)
        return {d: _dedupe(sorted(rs, key=schema.reading_key)) for d, rs in out.items()}

    def soil(
        self, device_id: str, start_ms: int, end_ms: int, every_s: int | None = None
    ) -> list[SoilSample]:
        schema.check_device_id(device_id)
        schema.check_range(start_ms, end_ms)
        q = Query()
        device = q.bind(device_id)
        span = q.where_time(start_ms, end_ms)
        if every_s is None:
            where = f'"device" = {device} AND {span}'
            q.add(select('"vwc", "tsoil"', self._m(schema.SOIL), where, group_by='"depth"'))
        else:
            what = 'mean("vwc") AS "vwc", mean("tsoil") AS "tsoil"'
            where = f'"device" = {device} AND "valid" = 1 AND {span}'
            by = f'time({duration_s(every_s)}), "depth" fill(none)'
            q.add(select(what, self._m(schema.SOIL), where, group_by=by))
        (series,) = self._query(q)
        samples = {
            (int(row["time"]), int(s.tags["depth"])): SoilSample(
                ts_ms=int(row["time"]),
                depth_cm=int(s.tags["depth"]),
                vwc=float(row["vwc"]),
                tsoil=None if row.get("tsoil") is None else float(row["tsoil"]),
            )
            for s in series
            for row in s.rows
            if row.get("vwc") is not None
        }
        return [samples[k] for k in sorted(samples)]

    def soil_readings(self, start_ms: int, end_ms: int) -> dict[str, list[SoilReading]]:
        schema.check_range(start_ms, end_ms)
        q = Query()
        span = q.where_time(start_ms, end_ms)
        q.add(select("*", self._m(schema.SOIL), span, group_by='"device"'))
        (series,) = self._query(q)
        out: dict[str, list[SoilReading]] = {}
        for s in series:
            device = s.tags["device"]
            out.setdefault(device, []).extend(
                schema.soil_from_row(device, r) for r in _whole(s.rows, "vwc")
            )
        return {d: _dedupe(sorted(rs, key=schema.reading_key)) for d, rs in out.items()}

    def last_seen(self) -> dict[str, int]:
        q = Query()
        for measurement in (schema.POSITION, schema.SOIL):
            q.add(select('last("seq")', self._m(measurement), group_by='"device"'))
        out: dict[str, int] = {}
        for series in self._query(q):
            for s in series:
                for row in s.rows:
                    device = s.tags["device"]
                    out[device] = max(out.get(device, row["time"]), int(row["time"]))
        return out

    def query_points(
        self,
        measurement: str,
        start_ms: int,
        end_ms: int,
        tags: Mapping[str, str] | None = None,
    ) -> list[Point]:
        schema.check_measurement(measurement)
        schema.check_range(start_ms, end_ms)
        q = Query()
        where = [q.where_time(start_ms, end_ms)]
        for key, value in sorted((tags or {}).items()):
            where.append(f"{ident(key)} = {q.bind(encode_text(value))}")
        q.add(select("*", self._m(measurement), " AND ".join(where), group_by="*"))
        (series,) = self._query(q)
        points = []
        for s in series:
            point_tags = {k: decode_text(v) for k, v in s.tags.items() if v}
            for row in s.rows:
                fields = {
                    k: decode_text(v) if isinstance(v, str) else float(v)
                    for k, v in row.items()
                    if k != "time" and v is not None
                }
                points.append(Point(measurement, point_tags, fields, int(row["time"])))
        points.sort(key=lambda p: (p.ts_ms, sorted(p.tags.items())))
        return points

    def ping(self) -> bool:
        """True when the server answers `/ping` (no retries: a health check)."""
        try:
            return self._client.get("/ping", timeout=2.0).status_code == 204
        except httpx.HTTPError:
            return False

    def drop_database(self) -> None:
        """Delete the whole database (tests and benchmarks)."""
        q = Query()
        q.add(f"DROP DATABASE {quote_name(self.config.database)}")
        self._query(q, method="POST", db=None)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._client.close()

    # -- plumbing -------------------------------------------------------------------------

    def _m(self, measurement: str) -> str:
        return self._rp + ident(measurement)

    def _query(
        self, q: Query, *, method: str = "GET", db: str | None = "default"
    ) -> list[list[Series]]:
        """Run the statements; one list of series per statement. A missing database reads
        as empty (nothing was ever written)."""
        params: dict[str, str] = {
            "q": q.text,
            "epoch": PRECISION,
            "chunked": "true",
            "chunk_size": "10000",
        }
        if db is not None:
            params["db"] = self.config.database
        if q.params:
            params["params"] = json.dumps(q.params)
        if method == "GET":
            resp = self._request("GET", "/query", params=params)
        else:
            resp = self._request("POST", "/query", data=params)
        if resp.status_code != 200:
            raise StoreRejected(
                f"InfluxDB refused the query (HTTP {resp.status_code}): {_error_message(resp)}",
                status=resp.status_code,
            )
        return _collect(resp.text, len(q.statements))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            try:
                resp = self._client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code < 500 and resp.status_code != 429:
                    return resp
                problem = f"HTTP {resp.status_code}: {_error_message(resp)}"
            if attempt + 1 < attempts:
                delay = self._backoff(attempt)
                log.warning(
                    "influx_retry",
                    path=path,
                    attempt=attempt + 1,
                    problem=problem,
                    delay_s=round(delay, 3),
                )
                self._sleep(delay)
        raise StoreUnavailable(
            f"InfluxDB at {self.config.url} unavailable after {attempts} attempts: {problem}"
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential with 'equal jitter': half fixed, half random, capped."""
        ceiling: float = min(_BACKOFF_CAP_S, self.config.retry_backoff_s * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


def quote_name(name: str) -> str:
    """A database or retention-policy name (set by an administrator, so a looser pattern
    than our identifiers), checked and double-quoted for InfluxQL."""
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", name):
        raise ValueError(f"{name!r} is not a database or retention policy name")
    return f'"{name}"'


def _error_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500] or resp.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return error
    return resp.text.strip()[:500]


def _dropped(message: str) -> int | None:
    found = _DROPPED_RE.search(message)
    return int(found.group(1)) if found else None


def _documents(text: str) -> Iterator[Any]:
    """The JSON documents of a (possibly chunked) response, one after the other.

    InfluxDB writes each document (each chunk) on a line of its own, so the lines are parsed
    with orjson (the API's shared season figures read tens of thousands of rows every few
    seconds; Python's json was most of that CPU); an answer that is not so is parsed the
    general way, document after document."""
    try:
        return iter([orjson.loads(line) for line in text.split("\n") if line.strip()])
    except orjson.JSONDecodeError:
        return _raw_documents(text)


def _raw_documents(text: str) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        doc, pos = decoder.raw_decode(text, pos)
        yield doc


def _collect(text: str, statements: int) -> list[list[Series]]:
    """Merge chunks into one list of series per statement, refusing truncated answers."""
    out: list[list[Series]] = [[] for _ in range(statements)]
    index: list[dict[tuple[str, str], Series]] = [{} for _ in range(statements)]
    truncated = [False] * statements
    try:
        docs = list(_documents(text))
    except ValueError as exc:
        raise StoreError(f"InfluxDB sent an unreadable answer: {exc}") from None
    for doc in docs:
        if "error" in doc and "results" not in doc:
            raise StoreRejected(f"InfluxDB query failed: {doc['error']}")
        for result in doc.get("results", []):
            sid = int(result.get("statement_id", 0))
            error = result.get("error")
            if error:
                if "database not found" in error:  # nothing written yet: nothing to read
                    return [[] for _ in range(statements)]
                raise StoreRejected(f"InfluxDB query failed: {error}")
            # In a chunked answer every chunk but a statement's last says `partial`.
            truncated[sid] = bool(result.get("partial"))
            for raw in result.get("series", []):
                _add_series(out[sid], index[sid], raw)
    if any(truncated):
        raise StoreError("InfluxDB truncated the answer (max-row-limit?): narrow the range")
    return out


def _add_series(
    out: list[Series], index: dict[tuple[str, str], Series], raw: Mapping[str, Any]
) -> None:
    tags = dict(raw.get("tags") or {})
    key = (raw["name"], orjson.dumps(tags, option=orjson.OPT_SORT_KEYS).decode())
    columns = raw["columns"]
    rows = [dict(zip(columns, values, strict=True)) for values in raw.get("values", [])]
    if key in index:
        index[key].rows.extend(rows)
        return
    series = Series(raw["name"], tags, rows)
    index[key] = series
    out.append(series)


def _newest_first(reading: Reading) -> tuple[int, int, int]:
    ts, kind, depth = schema.reading_key(reading)
    return (-ts, kind, depth)


def _dedupe(readings: Iterable[R]) -> list[R]:
    """One reading per (time, kind, depth): InfluxDB keeps a replay whose tags changed (a
    device moved to another herd) as a second series; the last one read wins."""
    kept: dict[tuple[int, int, int], R] = {}
    for reading in readings:
        kept[schema.reading_key(reading)] = reading
    return list(kept.values())


def _whole(rows: Iterable[Mapping[str, Any]], *required: str) -> Iterator[Mapping[str, Any]]:
    """Rows that carry every required field.

    InfluxDB 1.x keeps each field of a point as its own series in the write cache, so a query
    racing a write can see a point with some fields and not yet others (seen under load in the
    ingest benchmark: a position row with a null `lat`). Such a row is skipped; the next read
    sees the whole point.
    """
    for row in rows:
        if all(row.get(name) is not None for name in required):
            yield row

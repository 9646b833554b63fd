"""The embedded store: one SQLite file, standard library only.

For `jaylym demo` and small single-machine installs. WAL mode so the API reads while the
ingest writes; one transaction per batch; the primary keys (device, time[, depth]) are the
(device, time) indexes and make a replayed reading overwrite itself. A lock serialises use of
the one connection, because the ingest writes from its own thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jaylym.models import PositionReading, Reading, SoilReading
from jaylym.store import schema
from jaylym.store.base import (
    LatestReading,
    Point,
    SoilSample,
    StoreError,
    StoreRejected,
    StoreUnavailable,
    is_identifier,
)
from jaylym.store.influxql import duration_s

SCHEMA_VERSION = 1
_DAY_MS = 86_400_000
_PURGE_EVERY_S = 3600.0

_DDL = """
CREATE TABLE IF NOT EXISTS position (
    device TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    okrug TEXT NOT NULL DEFAULT '',
    herd TEXT,
    hdop REAL,
    sats INTEGER,
    alt REAL,
    bat REAL,
    qc TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device, ts_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS position_time ON position (ts_ms);
CREATE TABLE IF NOT EXISTS soil (
    device TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    depth_cm INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    vwc REAL NOT NULL,
    okrug TEXT NOT NULL DEFAULT '',
    tsoil REAL,
    bat REAL,
    qc TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device, ts_ms, depth_cm)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS soil_time ON soil (ts_ms);
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    series TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, series, ts_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_time ON points (measurement, ts_ms);
CREATE TABLE IF NOT EXISTS field_types (
    measurement TEXT NOT NULL,
    field TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (measurement, field)
) WITHOUT ROWID;
"""


class SqliteStore:
    """`TimeSeriesStore` in one SQLite file."""

    def __init__(
        self,
        path: Path | str,
        *,
        retention_days: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_days = retention_days
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed batch survives power loss, because the ingest acknowledges
            # the broker only after `write` returns. WAL makes that one fsync per batch.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_DDL)
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._last_purge = float("-inf")
        self._maybe_purge()

    # -- writes ---------------------------------------------------------------------------

    def write(self, readings: Sequence[Reading]) -> None:
        schema.validate(readings)
        positions = [_position_row(r) for r in readings if isinstance(r, PositionReading)]
        soils = [_soil_row(r) for r in readings if isinstance(r, SoilReading)]
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO position (device, ts_ms, seq, lat, lon, okrug, herd, "
                "hdop, sats, alt, bat, qc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                positions,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO soil (device, ts_ms, depth_cm, seq, vwc, okrug, tsoil, "
                "bat, qc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                soils,
            )
        self._maybe_purge()

    def write_points(self, points: Sequence[Point]) -> None:
        for index, point in enumerate(points):
            if not isinstance(point, Point):
                raise StoreRejected(f"item {index} is not a Point")
        with self._transaction() as conn:
            new_types = self._check_types(conn, points)
            conn.executemany(
                "INSERT OR IGNORE INTO field_types (measurement, field, type) VALUES (?, ?, ?)",
                [(m, f, t) for (m, f), t in new_types.items()],
            )
            # Same series and time: merge fields, as InfluxDB does.
            conn.executemany(
                "INSERT INTO points (measurement, series, ts_ms, tags, fields) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (measurement, series, ts_ms) "
                "DO UPDATE SET fields = json_patch(points.fields, excluded.fields)",
                [
                    (p.measurement, _series(p.tags), p.ts_ms, _series(p.tags), json.dumps(p.fields))
                    for p in points
                ],
            )
        self._maybe_purge()

    @staticmethod
    def _check_types(
        conn: sqlite3.Connection, points: Sequence[Point]
    ) -> dict[tuple[str, str], str]:
        """Field types already stored, read inside the write transaction (another process
        may have written since), against this batch; returns the new ones."""
        known: dict[tuple[str, str], str] = {}
        for measurement in {p.measurement for p in points}:
            for row in conn.execute(
                "SELECT field, type FROM field_types WHERE measurement = ?", (measurement,)
            ):
                known[(measurement, row["field"])] = row["type"]
        new: dict[tuple[str, str], str] = {}
        for point in points:
            for name, value in point.fields.items():
                key = (point.measurement, name)
                kind = "string" if isinstance(value, str) else "float"
                stored = known.get(key) or new.get(key)
                if stored is None:
                    new[key] = kind
                elif stored != kind:
                    raise StoreRejected(
                        f"field type conflict: field {name!r} on measurement "
                        f"{point.measurement!r} is {kind}, already exists as {stored}"
                    )
        return new

    def purge(self, now_ms: int | None = None) -> int:
        """Delete rows older than the retention; returns how many. No-op when it is 0."""
        if self.retention_days <= 0:
            return 0
        now = now_ms if now_ms is not None else int(self._clock() * 1000)
        cutoff = now - self.retention_days * _DAY_MS
        deleted = 0
        with self._transaction() as conn:
            for table in ("position", "soil", "points"):
                deleted += conn.execute(f"DELETE FROM {table} WHERE ts_ms < ?", (cutoff,)).rowcount  # noqa: S608 - fixed names
        return deleted

    def _maybe_purge(self) -> None:
        if self.retention_days > 0 and self._clock() - self._last_purge >= _PURGE_EVERY_S:
            self._last_purge = self._clock()
            self.purge()

    # -- reads ----------------------------------------------------------------------------

    def latest(self) -> dict[str, LatestReading]:
        with self._read() as conn:
            # SQLite returns the other columns of the row holding MAX() (documented).
            positions = conn.execute(
                "SELECT *, MAX(ts_ms) FROM position GROUP BY device"
            ).fetchall()
            soils = conn.execute(
                "SELECT s.* FROM soil s "
                "JOIN (SELECT device, MAX(ts_ms) AS ts FROM soil GROUP BY device) m "
                "ON s.device = m.device AND s.ts_ms = m.ts ORDER BY s.depth_cm DESC"
            ).fetchall()
        out: dict[str, LatestReading] = {}
        candidates = [_position(r) for r in positions] + [_soil(r) for r in soils]
        for reading in sorted(candidates, key=lambda r: _newest_first(r)):
            out.setdefault(
                reading.device_id, LatestReading(reading.device_id, reading.ts_ms, reading)
            )
        return out

    def device_readings(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        schema.check_device_id(device_id)
        schema.check_range(start_ms, end_ms)
        args = (device_id, start_ms, end_ms)
        with self._read() as conn:
            positions = conn.execute(
                "SELECT * FROM position WHERE device = ? AND ts_ms >= ? AND ts_ms < ?",
                args,
            ).fetchall()
            soils = conn.execute(
                "SELECT * FROM soil WHERE device = ? AND ts_ms >= ? AND ts_ms < ?",
                args,
            ).fetchall()
        readings: list[Reading] = [_position(r) for r in positions]
        readings += [_soil(r) for r in soils]
        return sorted(readings, key=schema.reading_key)

    def positions(self, start_ms: int, end_ms: int) -> dict[str, list[PositionReading]]:
        schema.check_range(start_ms, end_ms)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM position WHERE ts_ms >= ? AND ts_ms < ? ORDER BY device, ts_ms",
                (start_ms, end_ms),
            ).fetchall()
        out: dict[str, list[PositionReading]] = {}
        for row in rows:
            out.setdefault(row["device"], []).append(_position(row))
        return out

    def soil(
        self, device_id: str, start_ms: int, end_ms: int, every_s: int | None = None
    ) -> list[SoilSample]:
        schema.check_device_id(device_id)
        schema.check_range(start_ms, end_ms)
        if every_s is None:
            sql = (
                "SELECT ts_ms AS t, depth_cm, vwc, tsoil FROM soil "
                "WHERE device = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, depth_cm"
            )
            args: tuple[Any, ...] = (device_id, start_ms, end_ms)
        else:
            duration_s(every_s)  # the same bounds as InfluxDB's GROUP BY time()
            width = every_s * 1000
            # Buckets aligned to the epoch, like InfluxDB's GROUP BY time(); floor division
            # also for times before 1970. AVG skips NULL, like mean().
            sql = (
                "SELECT ts_ms - (((ts_ms % ?) + ?) % ?) AS t, depth_cm, "
                "AVG(vwc) AS vwc, AVG(tsoil) AS tsoil FROM soil "
                "WHERE device = ? AND qc = '' AND ts_ms >= ? AND ts_ms < ? "
                "GROUP BY t, depth_cm ORDER BY t, depth_cm"
            )
            args = (width, width, width, device_id, start_ms, end_ms)
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [SoilSample(r["t"], r["depth_cm"], r["vwc"], r["tsoil"]) for r in rows]

    def soil_readings(self, start_ms: int, end_ms: int) -> dict[str, list[SoilReading]]:
        schema.check_range(start_ms, end_ms)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM soil WHERE ts_ms >= ? AND ts_ms < ? "
                "ORDER BY device, ts_ms, depth_cm",
                (start_ms, end_ms),
            ).fetchall()
        out: dict[str, list[SoilReading]] = {}
        for row in rows:
            out.setdefault(row["device"], []).append(_soil(row))
        return out

    def last_seen(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT device, MAX(ts) AS ts FROM ("
                "SELECT device, MAX(ts_ms) AS ts FROM position GROUP BY device UNION ALL "
                "SELECT device, MAX(ts_ms) AS ts FROM soil GROUP BY device) GROUP BY device"
            ).fetchall()
        return {r["device"]: r["ts"] for r in rows}

    def query_points(
        self,
        measurement: str,
        start_ms: int,
        end_ms: int,
        tags: Mapping[str, str] | None = None,
    ) -> list[Point]:
        schema.check_measurement(measurement)
        schema.check_range(start_ms, end_ms)
        sql = (
            "SELECT tags, fields, ts_ms FROM points "
            "WHERE measurement = ? AND ts_ms >= ? AND ts_ms < ?"
        )
        wanted = dict(tags or {})
        for key in wanted:
            if not is_identifier(key):
                raise ValueError(f"{key!r} is not an identifier")
        with self._read() as conn:
            rows = conn.execute(
                sql + " ORDER BY ts_ms, series", (measurement, start_ms, end_ms)
            ).fetchall()
        points = []
        for row in rows:
            # Tags are compared here, not with json_extract(), which stops at a NUL.
            row_tags = json.loads(row["tags"])
            if all(row_tags.get(k) == v for k, v in wanted.items()):
                points.append(Point(measurement, row_tags, json.loads(row["fields"]), row["ts_ms"]))
        points.sort(key=lambda p: (p.ts_ms, sorted(p.tags.items())))  # as InfluxStore does
        return points

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # locked, disk full, I/O error
                raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"SQLite store {self.path}: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc


def _series(tags: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(tags.items())), ensure_ascii=False, separators=(",", ":"))


def _position_row(r: PositionReading) -> tuple[Any, ...]:
    return (
        r.device_id, r.ts_ms, r.seq, r.lat, r.lon, r.okrug, r.herd_id, r.hdop, r.sats, r.alt,
        r.bat, schema.qc_text(r.flags),
    )  # fmt: skip


def _soil_row(r: SoilReading) -> tuple[Any, ...]:
    return (
        r.device_id, r.ts_ms, r.depth_cm, r.seq, r.vwc, r.okrug, r.tsoil, r.bat,
        schema.qc_text(r.flags),
    )  # fmt: skip


def _position(row: sqlite3.Row) -> PositionReading:
    return PositionReading(
        device_id=row["device"],
        ts_ms=row["ts_ms"],
        seq=row["seq"],
        lat=row["lat"],
        lon=row["lon"],
        okrug=row["okrug"],
        herd_id=row["herd"] or None,
        hdop=row["hdop"],
        sats=row["sats"],
        alt=row["alt"],
        bat=row["bat"],
        flags=schema.qc_flags(row["qc"]),
    )


def _soil(row: sqlite3.Row) -> SoilReading:
    return SoilReading(
        device_id=row["device"],
        ts_ms=row["ts_ms"],
        seq=row["seq"],
        depth_cm=row["depth_cm"],
        vwc=row["vwc"],
        okrug=row["okrug"],
        tsoil=row["tsoil"],
        bat=row["bat"],
        flags=schema.qc_flags(row["qc"]),
    )


def _newest_first(reading: Reading) -> tuple[int, int, int]:
    ts, kind, depth = schema.reading_key(reading)
    return (-ts, kind, depth)

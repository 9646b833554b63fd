"""The on-disk spool: readings that could not reach the store, kept until they can.

One append-only file of records `[length u32][crc32 u32][JSON body]` and a replay position
kept in a second file, replaced atomically. Appends are fsync'd per batch before the batch is
acknowledged. A torn last record (a crash mid-append, never acknowledged) is cut off at open.
Replay re-sends from the position; a crash between a replayed write and the position update
re-sends the same points, which the store overwrites (same device and ts), so nothing doubles.

Hand-written rather than SQLite or a queue library: the format is 60 lines, has no
dependency, and makes the fsync-before-ack rule explicit.

A failed append (disk full, I/O error) leaves nothing behind: the record is written with
`pwrite` at the logical end (not in append mode, where a torn record would stay in front of
the next one and hide it from replay) and a partial write is cut off before the error is
raised, so the batch can be retried whole once space returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jaylym.models import PositionReading, Reading, SoilReading

_HEADER = struct.Struct(">II")
_MAX_RECORD = 64 * 1024 * 1024


class SpoolFull(Exception):
    """Appending would exceed the size bound: stop acknowledging, let the broker hold it."""


def reading_to_json(reading: Reading) -> dict[str, Any]:
    if isinstance(reading, PositionReading):
        return {
            "k": "p", "d": reading.device_id, "t": reading.ts_ms, "s": reading.seq,
            "lat": reading.lat, "lon": reading.lon, "o": reading.okrug, "h": reading.herd_id,
            "hdop": reading.hdop, "sats": reading.sats, "alt": reading.alt, "bat": reading.bat,
            "f": sorted(reading.flags),
        }  # fmt: skip
    return {
        "k": "s", "d": reading.device_id, "t": reading.ts_ms, "s": reading.seq,
        "z": reading.depth_cm, "vwc": reading.vwc, "o": reading.okrug, "ts": reading.tsoil,
        "bat": reading.bat, "f": sorted(reading.flags),
    }  # fmt: skip


def reading_from_json(obj: dict[str, Any]) -> Reading:
    if obj["k"] == "p":
        return PositionReading(
            device_id=obj["d"], ts_ms=obj["t"], seq=obj["s"], lat=obj["lat"], lon=obj["lon"],
            okrug=obj["o"], herd_id=obj["h"], hdop=obj["hdop"], sats=obj["sats"],
            alt=obj["alt"], bat=obj["bat"], flags=frozenset(obj["f"]),
        )  # fmt: skip
    return SoilReading(
        device_id=obj["d"], ts_ms=obj["t"], seq=obj["s"], depth_cm=obj["z"], vwc=obj["vwc"],
        okrug=obj["o"], tsoil=obj["ts"], bat=obj["bat"], flags=frozenset(obj["f"]),
    )  # fmt: skip


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._data_path = self.directory / "spool.log"
        self._pos_path = self.directory / "spool.pos"
        self._data_path.touch(exist_ok=True)
        # Unbuffered: appends go through os.pwrite on the same descriptor, and a read buffer
        # could otherwise serve bytes a truncation has since removed.
        self._file = self._data_path.open("r+b", buffering=0)
        self._pos = self._read_pos()
        self._size = self._recover()

    # --- state -------------------------------------------------------------------------
    @property
    def depth_bytes(self) -> int:
        """Bytes waiting to be replayed."""
        return self._size - self._pos

    @property
    def empty(self) -> bool:
        return self._size == self._pos

    def _read_pos(self) -> int:
        try:
            return int(self._pos_path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _write_pos(self, pos: int) -> None:
        tmp = self._pos_path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(str(pos))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._pos_path)
        self._pos = pos

    def _recover(self) -> int:
        """Size up to the last whole record; a torn tail is cut off."""
        size = self._data_path.stat().st_size
        if self._pos > size:  # the file was emptied after a full replay; the position lagged
            self._pos = 0
            with contextlib.suppress(OSError):  # a full disk must not stop the start; the
                self._write_pos(0)  # next open corrects the stale file the same way
        good = self._pos
        for end, _ in self._scan(self._pos, size):
            good = end
        if good < size:
            self._file.truncate(good)
            os.fsync(self._file.fileno())
        return good

    def _scan(self, start: int, stop: int) -> Any:
        self._file.seek(start)
        offset = start
        while offset + _HEADER.size <= stop:
            header = self._file.read(_HEADER.size)
            length, crc = _HEADER.unpack(header)
            if length > _MAX_RECORD or offset + _HEADER.size + length > stop:
                return
            body = self._file.read(length)
            if zlib.crc32(body) != crc:
                return
            offset += _HEADER.size + length
            yield offset, body

    # --- writing -----------------------------------------------------------------------
    def append(self, readings: Sequence[Reading]) -> None:
        """Durably add one batch (fsync'd on return), or raise `SpoolFull` / `OSError`."""
        body = json.dumps(
            [reading_to_json(r) for r in readings], separators=(",", ":"), allow_nan=False
        ).encode()
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        if self._size + len(record) > self.max_bytes:
            raise SpoolFull(f"spool at {self._size} of {self.max_bytes} bytes")
        fd = self._file.fileno()
        try:
            view, offset = memoryview(record), self._size
            while view:  # a disk filling up may take part of the record, then refuse
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written
            os.fsync(fd)
        except OSError:
            self._cut_tail()
            raise
        self._size += len(record)

    def _cut_tail(self) -> None:
        """Drop whatever a failed append left after the last whole record. Shrinking needs
        no space; should it fail anyway, the next append overwrites from the same offset
        and a reopen cuts a torn tail."""
        with contextlib.suppress(OSError):
            os.ftruncate(self._file.fileno(), self._size)

    # --- replay ------------------------------------------------------------------------
    def peek(self, max_readings: int) -> tuple[list[Reading], int]:
        """The oldest records, up to about `max_readings` readings, and the offset after them."""
        readings: list[Reading] = []
        end = self._pos
        for offset, body in self._scan(self._pos, self._size):
            readings.extend(reading_from_json(o) for o in json.loads(body))
            end = offset
            if len(readings) >= max_readings:
                break
        return readings, end

    def commit(self, end: int) -> None:
        """The records up to `end` are in the store: move past them, and empty the file once
        everything is replayed."""
        if end >= self._size:
            self._file.truncate(0)
            os.fsync(self._file.fileno())
            # In memory first: if the position file cannot be written (disk full), the
            # stale position on disk is past the empty file and reset at the next open.
            self._size = self._pos = 0
            self._write_pos(0)
        else:
            self._write_pos(end)

    def close(self) -> None:
        self._file.close()

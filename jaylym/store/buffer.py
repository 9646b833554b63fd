"""Batching in front of a store: collect readings, write them `batch_size` at a time or when
the oldest has waited `flush_interval_s`.

Nothing is dropped on failure: when the store is unavailable the readings stay buffered, in
order, and the error goes to the caller of `flush` (or to `on_error` from the background
thread). Readings the store rejects are handed to `on_error` with the exception and are not
retried. The buffer is bounded (`max_buffered`): past it `add` raises `BufferFull` so the
caller (the ingest) stops acknowledging and spools instead of growing without limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from jaylym.models import Reading
from jaylym.settings import Settings
from jaylym.store.base import StoreError, StoreUnavailable, TimeSeriesStore

ErrorHandler = Callable[[StoreError, Sequence[Reading]], None]


class BufferFull(StoreUnavailable):
    """The store has been unavailable long enough for the buffer to fill."""


class BufferedWriter:
    def __init__(
        self,
        store: TimeSeriesStore,
        *,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        max_buffered: int | None = None,
        on_error: ErrorHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_buffered = max_buffered or batch_size * 20
        self.on_error = on_error
        self._clock = clock
        self._pending: list[Reading] = []
        self._oldest: float | None = None
        self._lock = threading.Lock()  # guards _pending
        self._write_lock = threading.Lock()  # one write at a time, in order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls, store: TimeSeriesStore, settings: Settings, on_error: ErrorHandler | None = None
    ) -> BufferedWriter:
        """Batch size and flush interval from `JAYLYM_INFLUX_BATCH_SIZE` and
        `JAYLYM_INFLUX_FLUSH_INTERVAL_S` (they apply to the SQLite store as well)."""
        return cls(
            store,
            batch_size=settings.influx_batch_size,
            flush_interval_s=settings.influx_flush_interval_s,
            on_error=on_error,
        )

    def add(self, readings: Sequence[Reading]) -> None:
        """Buffer readings; write at once when a full batch is waiting."""
        with self._lock:
            if len(self._pending) + len(readings) > self.max_buffered:
                raise BufferFull(f"{len(self._pending)} readings wait for the store already")
            if not self._pending:
                self._oldest = self._clock()
            self._pending.extend(readings)
            full = len(self._pending) >= self.batch_size
        if full:
            self.flush(full_only=True)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def due(self) -> bool:
        with self._lock:
            return self._oldest is not None and (
                len(self._pending) >= self.batch_size
                or self._clock() - self._oldest >= self.flush_interval_s
            )

    def flush(self, *, full_only: bool = False) -> int:
        """Write everything buffered (only whole batches with `full_only`), batch by batch;
        returns how many were written.

        `StoreUnavailable` leaves the unwritten readings buffered and is raised.
        `StoreRejected` drops that batch, reports it to `on_error` (raised when there is no
        handler) and goes on with the next.
        """
        written = 0
        with self._write_lock:
            while True:
                with self._lock:
                    batch = self._pending[: self.batch_size]
                if not batch or (full_only and len(batch) < self.batch_size):
                    return written
                try:
                    self.store.write(batch)
                except StoreUnavailable:
                    raise
                except StoreError as exc:
                    self._take(len(batch))
                    if self.on_error is None:
                        raise
                    self.on_error(exc, batch)
                    continue
                self._take(len(batch))
                written += len(batch)

    def _take(self, count: int) -> None:
        with self._lock:
            del self._pending[:count]
            self._oldest = self._clock() if self._pending else None

    def start(self) -> None:
        """Flush from a background thread whenever a batch is due."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="store-flush", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        tick = max(0.01, min(self.flush_interval_s / 4, 1.0))
        while not self._stop.wait(tick):
            if not self.due():
                continue
            try:
                self.flush()
            except StoreError as exc:
                if self.on_error is not None:
                    self.on_error(exc, [])
                self._stop.wait(self.flush_interval_s)  # do not spin on a dead store

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the thread and make a last flush attempt (errors propagate)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None
        self.flush()

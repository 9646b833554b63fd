"""Refuse a client after repeated failed authentications (sliding window, in memory).

Hand-written rather than slowapi: we limit *failed* authentications only, not requests, and
one API process per district server needs no shared store.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class FailureLimiter:
    def __init__(self, limit: int, window_s: float, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients  # bounded memory under a spray of client addresses
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, client: str, now: float) -> deque[float]:
        q = self._fails.setdefault(client, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, client: str) -> int | None:
        """Seconds to wait when the client is blocked, else None."""
        now = time.monotonic()
        with self._lock:
            if client not in self._fails:
                return None  # no entry for clients that never failed: memory stays bounded
            q = self._trim(client, now)
            if not q:
                del self._fails[client]
                return None
            if len(q) < self.limit:
                return None
            return max(1, int(q[0] + self.window_s - now) + 1)

    def tracked(self) -> int:
        """How many clients have failures on record (bounded by `max_clients`)."""
        with self._lock:
            return len(self._fails)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if client not in self._fails and len(self._fails) >= self.max_clients:
                oldest = min(self._fails, key=lambda c: self._fails[c][-1] if self._fails[c] else 0)
                del self._fails[oldest]
            self._trim(client, now).append(now)

"""Verified tokens, remembered for a few seconds so a polling client costs no registry query
per request.

Keyed by the token's peppered hash (the secret itself is never kept). An entry is used only
while the registry generation it was verified under is current: revoking a token through
the API commits a write, which moves the generation, so the very next request is checked
against the registry again. A revocation by another process (the CLI) is seen within
`max_age_s`. Expiry is checked on every use. Refusals are not remembered (the failure
limiter counts each one).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from api.policy import Principal


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    expires_at: datetime | None
    generation: int
    verified_at: float


class TokenCache:
    """At most `max_entries` tokens, least recently used dropped first; `max_age_s=0`
    remembers nothing."""

    def __init__(
        self,
        max_age_s: float,
        generation: Callable[[], int],
        *,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self._generation = generation
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def generation(self) -> int:
        return self._generation()

    def get(self, digest: str, now: datetime) -> Principal | None:
        if self.max_age_s <= 0:
            return None
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if (
                entry.generation != self._generation()
                or self._clock() - entry.verified_at >= self.max_age_s
                or (entry.expires_at is not None and entry.expires_at <= now)
            ):
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry.principal

    def put(
        self, digest: str, principal: Principal, expires_at: datetime | None, generation: int
    ) -> None:
        """Remember a token verified by a caller that read `generation` before its lookup."""
        if self.max_age_s <= 0:
            return
        with self._lock:
            self._entries[digest] = _Verified(principal, expires_at, generation, self._clock())
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

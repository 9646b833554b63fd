"""Finished answer bodies of the polled routes, reused by callers with the identical scope.

`GET /positions/latest` and `GET /pastures/grazing` are polled by every map; between two
refreshes of their shared data each scope gets the same bytes, so building them again (a
2 000-row scope query and a 500 KB join) per request was most of the server's time. Here a
body is built once per scope and period, its gzip form at most once, and its ETag once.

The tenant rule: a body is stored under the caller's whole scope (role, okrug set, herder)
plus the request's own parameters, and only a caller with that identical key gets it. A
body is reused only while (1) the shared data it was built from is still the current one
(`source`: the same object), (2) no registry write committed in this process since it was
built (api/core/registry_generation.py), and (3) it is younger than `max_age_s`, which bounds
how long a registry change made by another process (the CLI) stays unseen.

Building (`get_or_build`) happens once per key and registry generation at a time: when a body
goes out of date, every polling client used to build the same bytes at once (50 clients: 50
scope queries and 50 serialisations of the map) and all of them waited for the lot, every
`max_age_s`; that was the API's p99. Requests of the same key arriving while the one build
runs get the key's previous body if no registry write committed since it was built (the
generation is the same, so the scope is exactly as it was) and it is younger than twice
`max_age_s`, just as the shared views hand out their previous value while one request
refreshes them (api/core/single_flight.py); otherwise they wait for the build (bounded).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from api.core.problems import ProblemError
from api.policy import Principal

# Level 5: ~6x smaller GeoJSON at a fraction of level 9's CPU; done once per body.
GZIP_LEVEL = 5
# Bodies smaller than this are sent as they are: gzip would not pay for its header.
GZIP_MIN_BYTES = 1024
# A previous body is handed out while its key is rebuilt only up to this many `max_age_s`.
STALE_FACTOR = 2.0
# A request waiting for another request's build gives up after this (every wait is bounded);
# the store client's own timeouts are shorter.
WAIT_S = 60.0
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: `If-None-Match` names the current ETag."}
}


def scope_key(principal: Principal) -> tuple[Hashable, ...]:
    """Everything a scoped answer depends on about the caller (never the token itself: two
    tokens with the same scope see the same rows)."""
    okrugs = tuple(sorted(principal.okrugs)) if principal.okrugs is not None else None
    return (principal.role, okrugs, principal.herder_id)


@dataclass
class Body:
    content: bytes
    media_type: str
    source: object  # the shared data it was built from
    generation: int  # the registry generation read before it was built
    made_at: float
    etag: str = field(init=False)
    _gzipped: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        digest = hashlib.blake2b(self.content, digest_size=12).hexdigest()
        # Weak: the gzip and the plain form are the same representation for revalidation.
        self.etag = f'W/"{digest}"'

    def gzipped_if_made(self) -> bytes | None:
        return self._gzipped

    def gzipped(self) -> bytes:
        if self._gzipped is None:  # two racing callers both compress: harmless, rare
            self._gzipped = gzip.compress(self.content, GZIP_LEVEL, mtime=0)
        return self._gzipped


class SharedBodies:
    """At most `max_bytes` of bodies, least recently used dropped first; `max_age_s=0`
    stores nothing."""

    def __init__(
        self,
        max_age_s: float,
        generation: Callable[[], int],
        *,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self._generation = generation
        self._max_bytes = max_bytes
        self._clock = clock
        self._bodies: OrderedDict[Hashable, Body] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # key -> the build running for it: only touched on the event loop of its task
        self._building: dict[Hashable, _Flight] = {}
        self.hits = 0
        self.builds = 0
        self.previous_hits = 0

    def generation(self) -> int:
        return self._generation()

    def get(self, key: Hashable, source: object | None) -> Body | None:
        """The stored body for `key` if still valid for the current `source` (None: the
        shared data is due for a refresh, so nothing stored is current)."""
        if self.max_age_s <= 0 or source is None:
            return None
        with self._lock:
            body = self._bodies.get(key)
            if body is None:
                return None
            if body.generation != self._generation():
                self._drop(key)
                return None
            if body.source is not source or self._clock() - body.made_at >= self.max_age_s:
                return None  # kept as the previous body while it is rebuilt
            self._bodies.move_to_end(key)
            self.hits += 1
            return body

    def _previous(self, key: Hashable, generation: int) -> Body | None:
        with self._lock:
            body = self._bodies.get(key)
            if (
                body is None
                or body.generation != generation
                or self._clock() - body.made_at >= STALE_FACTOR * self.max_age_s
            ):
                return None
            self.previous_hits += 1
            return body

    async def get_or_build(
        self, key: Hashable, source: object | None, build: Callable[[int], Body]
    ) -> Body:
        """The body for `key`: the stored one if current, else `build(generation)` run in
        the thread pool by one request per key and generation (`generation` read before the
        build touches the registry); the others get the previous body or wait for that
        build (see the module's doc). `build` must not use the request's session: a waiting
        request may outlive the one that started it. Raises TimeoutError after `WAIT_S`."""
        body = self.get(key, source)
        if body is not None:
            return body
        generation = self._generation()
        loop = asyncio.get_running_loop()
        flight = self._building.get(key)
        if flight is not None and flight.generation == generation and flight.loop is loop:
            previous = self._previous(key, generation)
            if previous is not None:
                return previous
        else:
            task = loop.create_task(run_in_threadpool(_built, build, generation))
            flight = _Flight(generation, loop, task)
            self._building[key] = flight
            task.add_done_callback(lambda t: self._landed(key, flight))
        # shielded: a waiter that gives up does not cancel the build the others wait for
        return await asyncio.wait_for(asyncio.shield(flight.task), WAIT_S)

    def _landed(self, key: Hashable, flight: _Flight) -> None:
        if self._building.get(key) is flight:
            del self._building[key]
        if not flight.task.cancelled():
            flight.task.exception()  # retrieved: raised to its waiters, if any are left

    def put(
        self, key: Hashable, content: bytes, media_type: str, source: object, generation: int
    ) -> Body:
        """Store a body built from `source` by a caller that read `generation` before it
        started; returns it (stored or not)."""
        body = Body(content, media_type, source, generation, self._clock())
        self.builds += 1
        if self.max_age_s <= 0 or len(content) > self._max_bytes:
            return body
        with self._lock:
            if key in self._bodies:
                self._drop(key)
            self._bodies[key] = body
            self._bytes += len(content)
            while self._bytes > self._max_bytes:
                self._drop(next(iter(self._bodies)))
        return body

    def _drop(self, key: Hashable) -> None:
        self._bytes -= len(self._bodies.pop(key).content)


@dataclass(frozen=True, slots=True)
class _Flight:
    generation: int
    loop: asyncio.AbstractEventLoop  # a test client may run each request on its own loop
    task: asyncio.Task[Body]


def _built(build: Callable[[int], Body], generation: int) -> Body:
    body = build(generation)
    if len(body.content) >= GZIP_MIN_BYTES:
        body.gzipped()  # here, off the event loop: nearly every client accepts gzip
    return body


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            if not q.startswith("q="):
                return True
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
    return False


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == opaque for t in header.split(","))  # weak match


async def answer(
    request: Request,
    bodies: SharedBodies,
    key: Hashable,
    source: object | None,
    build: Callable[[int], Body],
) -> Response:
    """`get_or_build`, then `respond`: a build still running past the wait is a 503."""
    try:
        body = await bodies.get_or_build(key, source, build)
    except TimeoutError as exc:
        raise ProblemError(503, "the answer is still being made; try again") from exc
    return await respond(request, body)


async def respond(
    request: Request, body: Body, clock: Callable[[], float] = time.monotonic
) -> Response:
    """The body as this request wants it: 304 when its ETag matches, gzip when accepted.
    Called on the event loop: a body's first gzip (~10 ms for the map) is made in the thread
    pool."""
    headers = {
        "ETag": body.etag,
        "Age": str(max(0, int(clock() - body.made_at))),
        # A browser may keep it but must ask again (cheaply, with If-None-Match) each time.
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization, Accept-Encoding",
    }
    if _matches(request, body.etag):
        return Response(status_code=304, headers=headers)
    if len(body.content) >= GZIP_MIN_BYTES and _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        gzipped = body.gzipped_if_made()
        if gzipped is None:
            gzipped = await run_in_threadpool(body.gzipped)
        return Response(gzipped, media_type=body.media_type, headers=headers)
    return Response(body.content, media_type=body.media_type, headers=headers)

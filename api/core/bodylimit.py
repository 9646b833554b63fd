"""A request body size limit: an oversized body is refused with 413 before it is parsed.

FastAPI reads a whole JSON body into memory and parses it before any validator runs, so a
GeoJSON with a million vertices (~25 MB) cost seconds and hundreds of MB before the vertex
cap could refuse it. This answers from `Content-Length` without reading the body, and counts
the bytes of a body sent without one (chunked) as they arrive. Written by hand because
neither Starlette nor uvicorn has a body size limit; it is a few lines of ASGI.

Bytes alone are not enough: `[77,43],` is 8 bytes, so the limit still admits a million
positions written tersely, and parsing those costs seconds and ~100 MB. A JSON body is
therefore also refused once it holds more `[` than a body of that size could hold positions
written with real precision (`[77.312345,43.551234]`, 20+ bytes each): one count per chunk,
at C speed, before anything is parsed.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.problems import problem_response

BYTES_PER_POSITION = 20


def too_large(limit: int) -> str:
    return (
        f"request body is larger than {limit} bytes (JAYLYM_API_MAX_BODY_BYTES); "
        "split a GeoJSON import into several requests"
    )


def too_many_arrays(limit: int) -> str:
    return (
        f"request body holds more than {limit} JSON arrays (a GeoJSON position is one); "
        "simplify the geometry or split the import"
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_arrays = max_bytes // BYTES_PER_POSITION

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        is_json = _is_json(scope)
        seen = arrays = 0

        async def counted() -> Message:
            nonlocal seen, arrays
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                # Raised into the body read: FastAPI passes HTTPException through and the
                # problem handler answers with application/problem+json.
                if seen > self.max_bytes:
                    raise HTTPException(413, too_large(self.max_bytes))
                arrays += chunk.count(b"[") if is_json else 0
                if arrays > self.max_arrays:
                    raise HTTPException(413, too_many_arrays(self.max_arrays))
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The body is never read: the connection closes after the answer.
        response = problem_response(
            Request(scope), 413, too_large(self.max_bytes), headers={"Connection": "close"}
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False

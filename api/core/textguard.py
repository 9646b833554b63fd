"""Refuse NUL characters in every request input at the door.

PostgreSQL text cannot hold U+0000: a bound parameter containing one fails inside the driver
(a 500), and SQLite would store a string other tools truncate. No field of this API has a use
for it, so any path, query or JSON body value carrying one answers 422 before a route runs.
One app-wide dependency rather than a check per schema, so new routes are covered too.
"""

from __future__ import annotations

import re

from fastapi import Request

from api.core.problems import field_error

# In JSON a NUL can only be written `\u0000`; an even run of backslashes before it would be
# literal backslashes followed by the text "u0000", which is harmless.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


async def refuse_nul(request: Request) -> None:
    for name, value in request.path_params.items():
        if "\x00" in str(value):
            raise field_error(f"path.{name}", "NUL characters are not allowed")
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise field_error(f"query.{name}", "NUL characters are not allowed")
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()  # cached by Starlette: the route reads the same bytes
        if b"\x00" in body or _JSON_NUL.search(body):
            raise field_error("body", "NUL characters are not allowed")

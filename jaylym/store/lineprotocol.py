"""InfluxDB line protocol: escaping and encoding, written by hand.

Why by hand: `influxdb-client` (the maintained client) pulls in Flux-era machinery we do not
use and, like the older `influxdb` package, maps newlines in tag values to a literal `\\n`
(lossy), leaves trailing backslashes that make the server reject the line, and writes Python
ints as integer fields (a type that later float writes conflict with). What we need is small:
escape four contexts exactly and refuse what cannot be carried.

The rules, as InfluxDB 1.x parses them (models/points.go), and what we do:

- measurement, tag keys, field keys: we only accept strict identifiers (`IDENT_RE` in
  `base.py`), so they never contain anything to escape.
- tag values: `,` `=` and space are escaped with a backslash. The server does not unescape
  backslashes in tag values, cannot carry a newline at all, and two of its scanners disagree
  on backslash runs (one skips `\\x` pairs, the other looks only at the previous byte), so a
  user backslash before an escaped space can desynchronise the line splitter. We therefore
  percent-encode the four characters line protocol cannot carry safely: `%` (our escape
  character), `\\`, LF and CR. The only backslashes left on the wire are our own single
  escapes, so both scanners agree and no value can end or start a line or a tag.
- string field values: `"` and `\\` are backslash-escaped (the server unescapes both); LF, CR
  and `%` are percent-encoded, because a raw newline inside quotes is accepted by 1.x but not
  promised by the line-protocol spec of 2.x/3.x, and a splitter that lost track of quotes would
  start a new line there.
- float fields: Python's shortest repr, always a float literal (never `i`, never a bool).
- timestamps: integer milliseconds; every write says `precision=ms`.

Reading back, `decode_text` undoes the percent-encoding. It is exact because every `%` we wrote
was itself encoded.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping

from jaylym.store.base import Point, is_identifier

PRECISION = "ms"  # the one precision: JAYLYM writes and reads UTC milliseconds

_PERCENT: dict[str, str | int | None] = {"%": "%25", "\\": "%5C", "\n": "%0A", "\r": "%0D"}
_TAG_TABLE = str.maketrans({**_PERCENT, ",": "\\,", "=": "\\=", " ": "\\ "})
_STRING_TABLE = str.maketrans({"%": "%25", "\n": "%0A", "\r": "%0D", "\\": "\\\\", '"': '\\"'})
_DECODE_RE = re.compile(r"%(25|5C|0A|0D)")
_DECODED = {"25": "%", "5C": "\\", "0A": "\n", "0D": "\r"}


def identifier(name: str) -> str:
    """A measurement, tag key or field key, checked (they are never escaped)."""
    if not is_identifier(name):
        raise ValueError(f"{name!r} is not an identifier")
    return name


def tag_value(value: str) -> str:
    """A tag value as it goes on the wire. Empty values are the caller's to omit."""
    if not value:
        raise ValueError("empty tag value: omit the tag instead")
    return _escaped_tag(value)


@functools.lru_cache(maxsize=4096)
def _escaped_tag(value: str) -> str:
    # Cached: the same few okrug and herd names go on every line of every write.
    return value.translate(_TAG_TABLE)


def encode_text(value: str) -> str:
    """The form of a tag value or string field as the server stores it (percent-encoded).

    Use it to bind a tag value in an InfluxQL filter.
    """
    return value.translate(str.maketrans(_PERCENT)) if _needs_percent(value) else value


def _needs_percent(value: str) -> bool:
    return any(c in value for c in "%\\\n\r")


def string_field(value: str) -> str:
    """A string field value with its quotes."""
    return '"' + value.translate(_STRING_TABLE) + '"'


def float_field(value: float) -> str:
    """A float field value. Non-finite numbers cannot be stored: refuse them."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return repr(number)


def decode_text(value: str) -> str:
    """Undo `encode_text` on a tag value or string field read back from InfluxDB."""
    if "%" not in value:
        return value
    return _DECODE_RE.sub(lambda m: _DECODED[m.group(1)], value)


def line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, float | str | None],
    ts_ms: int,
) -> str:
    """One line. Tags with empty values and fields that are None are left out; tags go in
    key order (what the server would sort them to anyway)."""
    parts = [identifier(measurement)]
    for key in sorted(tags):
        if tags[key]:
            parts.append(f"{identifier(key)}={tag_value(tags[key])}")
    encoded = []
    for name, field in fields.items():
        if isinstance(field, str):
            encoded.append(f"{identifier(name)}={string_field(field)}")
        elif field is not None:
            encoded.append(f"{identifier(name)}={float_field(field)}")
    if not encoded:
        raise ValueError("a line needs at least one field")
    return f"{','.join(parts)} {','.join(encoded)} {int(ts_ms)}"


def point_line(point: Point) -> str:
    return line(point.measurement, point.tags, point.fields, point.ts_ms)

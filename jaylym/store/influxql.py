"""InfluxQL built safely: identifiers are checked and quoted, every value is a bind parameter.

InfluxDB's `/query` takes `params` (JSON) and substitutes `$name` itself, so a value from a
request never becomes query text. The only things formatted into the text are identifiers
that match the strict pattern and integers we produced (durations).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jaylym.store.base import is_identifier

ParamValue = str | int | float | bool
MAX_EVERY_S = 366 * 86_400


def ident(name: str) -> str:
    """A measurement, tag, field or retention-policy name, checked and double-quoted."""
    if not is_identifier(name):
        raise ValueError(f"{name!r} is not an identifier")
    return f'"{name}"'


def duration_s(seconds: int) -> str:
    """A GROUP BY time() duration from a checked integer number of seconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValueError("interval must be a whole number of seconds")
    if not 1 <= seconds <= MAX_EVERY_S:
        raise ValueError(f"interval must be 1..{MAX_EVERY_S} s")
    return f"{seconds}s"


def select(what: str, source: str, where: str = "", group_by: str = "", tail: str = "") -> str:
    """A SELECT statement from parts that are already safe: `what`/`source`/`group_by` built
    with `ident`, `where` holding only `$placeholders`."""
    text = f"SELECT {what} FROM {source}"  # noqa: S608 - identifiers checked, values bound
    if where:
        text += f" WHERE {where}"
    if group_by:
        text += f" GROUP BY {group_by}"
    return f"{text} {tail}" if tail else text


def ms_to_ns(ts_ms: int) -> int:
    """InfluxQL compares `time` with integers in nanoseconds, whatever `epoch` we ask for."""
    return int(ts_ms) * 1_000_000


@dataclass
class Query:
    """One request of one or more statements sharing bound parameters.

    Build statement text only from `ident`/`duration_s` and literal fragments; add every
    outside value with `bind`.
    """

    statements: list[str] = field(default_factory=list)
    params: dict[str, ParamValue] = field(default_factory=dict)

    def bind(self, value: ParamValue) -> str:
        """Register a value, return its `$placeholder`."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def where_time(self, start_ms: int, end_ms: int) -> str:
        """`time >= $a AND time < $b`: the half-open interval every query uses."""
        return f"time >= {self.bind(ms_to_ns(start_ms))} AND time < {self.bind(ms_to_ns(end_ms))}"

    def add(self, text: str) -> int:
        """Append a statement; returns its index (InfluxDB's `statement_id`)."""
        self.statements.append(text)
        return len(self.statements) - 1

    @property
    def text(self) -> str:
        return "; ".join(self.statements)

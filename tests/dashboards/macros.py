"""What Grafana does to an InfluxQL query before sending it: the part we must reproduce to run
panel queries without Grafana (no Grafana binary can be installed here).

Follows Grafana's InfluxDB datasource (InfluxQL mode):
- `$timeFilter` becomes `time >= <from>ms and time <= <to>ms`;
- `$__interval` / `$interval` become the panel interval, at least the datasource's
  `timeInterval` (1m), about range / max data points, rounded to a "nice" step;
- `$var` / `${var}` of a multi-value or include-all variable inside a regex become
  `(a|b)` with each value regex-escaped; a single-value variable is left as it is;
- constants are substituted as they are;
- the global `${__from}` / `${__to}` become epoch milliseconds, and with `:date:iso` (or
  `:date`) an ISO 8601 UTC time with milliseconds, as moment's toISOString writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_DURATION = re.compile(r"^now-(\d+)([smhdwMy])$|^(\d+)([smhdwMy])$")
_UNIT_MS = {
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
    "M": 30 * 86_400_000,
    "y": 365 * 86_400_000,
}
# Grafana's rounding steps for the auto interval (a subset of rangeutil's table).
_NICE = (
    ("1m", 60_000),
    ("2m", 120_000),
    ("5m", 300_000),
    ("10m", 600_000),
    ("15m", 900_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("3h", 10_800_000),
    ("6h", 21_600_000),
    ("12h", 43_200_000),
    ("1d", 86_400_000),
)
# lodash escapeRegExp, as Grafana uses for regex-context variables.
_REGEX_SPECIAL = re.compile(r"[\\^$.*+?()[\]{}|/]")
_VARIABLE = re.compile(r"\$\{(\w+)(?::([\w:]+))?\}|\$(\w+)")


def time_macro(ms: int, fmt: str | None) -> str:
    """`${__from}` / `${__to}` in a format Grafana knows."""
    if fmt is None:
        return str(ms)
    if fmt in ("date", "date:iso"):
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    raise ValueError(f"unsupported time format {fmt!r}")


def duration_ms(relative: str) -> int:
    """`now-24h` or `30d` in milliseconds."""
    match = _DURATION.match(relative)
    if not match:
        raise ValueError(f"unsupported relative time {relative!r}")
    number, unit = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    return int(number) * _UNIT_MS[unit]


def auto_interval(range_ms: int, max_points: int = 1000) -> str:
    wanted = range_ms / max_points
    for text, ms in _NICE:
        if ms >= wanted:
            return text
    return _NICE[-1][0]


def escape_regex(value: str) -> str:
    return _REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


@dataclass(frozen=True)
class Variable:
    values: tuple[str, ...]
    multi: bool = True

    def render(self, fmt: str | None) -> str:
        if fmt == "csv":
            return ",".join(self.values)
        if fmt == "raw" or not self.multi:
            # Grafana's InfluxDB datasource leaves single-value variables as they are.
            return self.values[0] if self.values else ""
        escaped = [escape_regex(v) for v in self.values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(
    query: str,
    variables: dict[str, Variable],
    *,
    from_ms: int,
    to_ms: int,
    interval: str | None = None,
) -> str:
    """The query Grafana would send for this time range and these variable values."""
    text = query.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    step = interval or auto_interval(to_ms - from_ms)
    text = text.replace("$__interval", step).replace("$interval", step)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name in ("__from", "__to"):
            return time_macro(from_ms if name == "__from" else to_ms, match.group(2))
        if name not in variables:
            return match.group(0)
        return variables[name].render(match.group(2))

    text = _VARIABLE.sub(substitute, text)
    # A regex's closing `$/` is no variable (the pattern needs a word character after `$`).
    leftover = [m.group(0) for m in _VARIABLE.finditer(text)]
    if leftover:
        raise AssertionError(f"unresolved Grafana variables {leftover} in: {text}")
    return text

"""Counting what an ingest fault test stored, in InfluxDB itself, per device and `seq`.

The store's own read API merges points that share a timestamp across series (a replay whose
tags changed), which would hide a doubled point; here every raw row of the `position`
measurement is counted, whatever series it sits in. A reading stored twice (same seq, in two
series or at two timestamps) shows as a duplicate, a missing one as lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Tally:
    expected: int
    stored: int  # raw rows in InfluxDB
    lost: int  # expected (device, seq) with no row
    duplicates: int  # rows beyond one per (device, seq)
    unexpected: int  # rows for a (device, seq) that was never sent

    def line(self, fault: str, faults: int, **extra: object) -> str:
        """The one-line figure summary printed by each fault test (tests/reliability/README)."""
        more = "".join(f" {k}={v}" for k, v in extra.items())
        return (
            f"RELIABILITY {fault}: messages={self.expected} faults_injected={faults} "
            f"stored={self.stored} lost={self.lost} duplicates={self.duplicates}{more}"
        )

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.unexpected == 0


RAW_ROWS = 'SELECT "seq" FROM "position" GROUP BY "device"'


def raw_rows(influx_url: str, database: str) -> Counter[tuple[str, int]]:
    """(device, seq) -> number of stored `position` rows, over every series."""
    resp = httpx.get(
        f"{influx_url.rstrip('/')}/query",
        params={
            "db": database,
            "epoch": "ms",
            "q": 'SELECT "seq" FROM "position" GROUP BY "device"',
        },
        timeout=60,
    )
    resp.raise_for_status()
    rows: Counter[tuple[str, int]] = Counter()
    for result in resp.json().get("results", []):
        if "error" in result:
            if "database not found" in result["error"]:
                return rows
            raise AssertionError(f"InfluxDB query failed: {result['error']}")
        for series in result.get("series", []):
            device = series["tags"]["device"]
            column = series["columns"].index("seq")
            for values in series["values"]:
                rows[(device, int(values[column]))] += 1
    return rows


def stored_count(influx_url: str, database: str) -> int:
    """Raw `position` rows (cheap enough to poll: one count per series)."""
    resp = httpx.get(
        f"{influx_url.rstrip('/')}/query",
        params={"db": database, "q": 'SELECT count("seq") FROM "position"'},
        timeout=30,
    )
    resp.raise_for_status()
    total = 0
    for result in resp.json().get("results", []):
        for series in result.get("series", []):
            total += sum(int(v[1]) for v in series["values"])
    return total


def tally(influx_url: str, database: str, sent: Mapping[str, Iterable[int]]) -> Tally:
    """Compare the stored rows with what was sent: device -> the seqs it published."""
    rows = raw_rows(influx_url, database)
    expected = {(device, seq) for device, seqs in sent.items() for seq in seqs}
    return Tally(
        expected=len(expected),
        stored=sum(rows.values()),
        lost=sum(1 for key in expected if rows[key] == 0),
        duplicates=sum(n - 1 for n in rows.values() if n > 1),
        unexpected=sum(n for key, n in rows.items() if key not in expected),
    )

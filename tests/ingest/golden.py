"""The golden-folder runner: one folder per case, `topic`, `payload`, `expected.json`.

`expected.json` holds what the decoders and validation make of the message with the clock at
GOLDEN_NOW: `readings` (stored as is, quality flags aside) and `rejected` (one reason per
refused message or reading). Regenerate a new case's expectation with
`python -m tests.ingest.golden CASE` and read it before committing it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ingest.decoders import decode
from ingest.directory import StaticDirectory
from ingest.reasons import Rejected
from ingest.validate import TimeLimits, build_items, resolve_device
from jaylym.models import DeviceInfo

HERE = Path(__file__).resolve().parent
CASES = HERE / "decoders"
GOLDEN_NOW_MS = 1_783_425_600_000  # 2026-07-07T12:00:00Z
LIMITS = TimeLimits(max_future_ms=600_000, max_age_ms=400 * 86_400_000)


def golden_directory() -> StaticDirectory:
    rows = json.loads((HERE / "golden_devices.json").read_text())
    return StaticDirectory(DeviceInfo(**row) for row in rows)


def run_case(folder: Path) -> dict[str, Any]:
    topic = (folder / "topic").read_text().strip()
    payload = (folder / "payload").read_bytes()
    readings: list[dict[str, Any]] = []
    rejected: list[str] = []
    try:
        decoded = decode(topic, payload)
        device = resolve_device(decoded, golden_directory())
        items, refused = build_items(decoded, device, GOLDEN_NOW_MS, LIMITS)
        rejected = [r.reason.value for r in refused]
        for item in items:
            for reading in item.readings:
                row = dataclasses.asdict(reading)
                row["kind"] = type(reading).__name__
                row["flags"] = sorted(row["flags"])
                readings.append(row)
    except Rejected as exc:
        rejected = [exc.reason.value]
    return {"readings": readings, "rejected": rejected}


def cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.is_dir())


if __name__ == "__main__":
    for name in sys.argv[1:]:
        out = run_case(CASES / name)
        (CASES / name / "expected.json").write_text(json.dumps(out, indent=2) + "\n")
        print(name, json.dumps(out))

"""Every folder under tests/ingest/decoders/ is a case: a new case needs no new code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.reasons import Reason
from tests.ingest.golden import cases, run_case


@pytest.mark.parametrize("folder", cases(), ids=lambda p: p.name)
def test_golden_case(folder: Path) -> None:
    expected = json.loads((folder / "expected.json").read_text())
    assert run_case(folder) == expected


def test_cases_cover_every_decoder_and_input_reason() -> None:
    seen_reasons: set[str] = set()
    seen_sources: set[str] = set()
    for folder in cases():
        seen_reasons.update(json.loads((folder / "expected.json").read_text())["rejected"])
        topic = (folder / "topic").read_text()
        seen_sources.add(topic.split("/", 1)[0])
    # too_large is decided before decoding (tests/ingest/test_consumer.py); store_rejected
    # comes from the store.
    message_reasons = set(Reason) - {Reason.TOO_LARGE, Reason.STORE_REJECTED}
    assert message_reasons <= seen_reasons
    assert {"pasture", "application", "v3"} <= seen_sources

"""The README's recorded run is the run in results/: written by the run, checked here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_shows_the_recorded_run() -> None:
    result = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    readme = (ROOT / "bench" / "README.md").read_text()
    assert report.with_readme_block(readme, result) == readme, (
        "bench/README.md's suite block is not results/latest.json: a full `jaylym bench` "
        "writes both"
    )


def test_the_block_replaces_only_what_is_between_the_markers() -> None:
    result = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    readme = f"# Bench\n\nbefore\n{report.README_START}\nold run\n{report.README_END}\nafter\n"
    written = report.with_readme_block(readme, result)
    assert written.startswith(f"# Bench\n\nbefore\n{report.README_START}\n### Full run")
    assert written.endswith(f"{report.README_END}\nafter\n")
    assert "old run" not in written
    assert result["meta"]["measured_at"] in written
    for goal in result["goals"]:
        assert f"| {goal['measure']} | {goal['goal']} |" in written
    with pytest.raises(ValueError, match="markers"):
        report.with_readme_block("# Bench without markers\n", result)

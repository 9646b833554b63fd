"""The panel list of every dashboard as committed text (tests/dashboards/panels.txt), so a
reviewer sees titles, types and queries change in the diff. Refresh it with
`JAYLYM_UPDATE_SNAPSHOTS=1 pytest tests/dashboards/test_snapshot.py`."""

from __future__ import annotations

import os
from pathlib import Path

from dashboards.build import boards, dashboard_json
from dashboards.snapshot import render
from tests.dashboards.board_json import committed, panels

SNAPSHOT = Path(__file__).with_name("panels.txt")


def test_panel_list_snapshot_is_current() -> None:
    text = render({name: dashboard_json(board) for name, board in boards().items()})
    if os.environ.get("JAYLYM_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), "no snapshot: run with JAYLYM_UPDATE_SNAPSHOTS=1"
    assert SNAPSHOT.read_text() == text, (
        "tests/dashboards/panels.txt is stale: rerun with JAYLYM_UPDATE_SNAPSHOTS=1 and review"
    )


def test_snapshot_names_every_panel_and_query() -> None:
    text = SNAPSHOT.read_text()
    for board in committed().values():
        assert f"(uid {board['uid']})" in text
        for panel in panels(board):
            assert f"] {panel['title']}" in text
            for target in panel.get("targets", []):
                first_words = " ".join(target.get("query", target.get("url", "")).split()[:4])
                assert first_words in " ".join(text.split())

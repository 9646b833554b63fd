"""Reading InfluxDB's (possibly chunked) JSON answers: the line-per-chunk short way and the
general way agree, and a truncated answer is still refused."""

from __future__ import annotations

import json

import pytest

from jaylym.store.base import StoreError
from jaylym.store.influx import _collect, _documents, _raw_documents

CHUNKS = [
    {"results": [{"statement_id": 0, "series": [
        {"name": "position", "tags": {"device": "c-1"}, "columns": ["time", "lat"],
         "values": [[1, 43.5], [2, 1]]}], "partial": True}]},
    {"results": [{"statement_id": 0, "series": [
        {"name": "position", "tags": {"device": "c-1"}, "columns": ["time", "lat"],
         "values": [[3, -0.0]]},
        {"name": "position", "tags": {"device": "c-2"}, "columns": ["time", "lat"],
         "values": [[4, 1e-7]]}]}]},
]  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(json.dumps(c) for c in CHUNKS) + "\n",  # as InfluxDB writes chunks
        "".join(json.dumps(c) for c in CHUNKS),  # no newline between: the general way
        "  " + " \n ".join(json.dumps(c, indent=1) for c in CHUNKS),  # pretty: general way
    ],
)
def test_every_layout_gives_the_same_documents(text: str) -> None:
    assert list(_documents(text)) == list(_raw_documents(text)) == CHUNKS
    series = _collect(text, 1)[0]
    assert [(s.tags["device"], [r["time"] for r in s.rows]) for s in series] == [
        ("c-1", [1, 2, 3]),
        ("c-2", [4]),
    ]
    assert type(series[0].rows[1]["lat"]) is int  # as Python's json reads `1`


def test_a_truncated_answer_is_refused() -> None:
    text = json.dumps(CHUNKS[0]) + "\n" + json.dumps(CHUNKS[1])[:-5]
    with pytest.raises(StoreError, match="unreadable"):
        _collect(text, 1)

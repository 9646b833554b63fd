"""Property test of the flash queue: under any mix of appends, sends, lost PUBACKs, resets
and overflow, nothing is lost uncounted, nothing is reordered, seq only grows."""

from __future__ import annotations

import json
import tempfile
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from jaylym.firmware_host import firmware_module

queue_mod: Any = firmware_module("common.queue")
payload: Any = firmware_module("common.payload")

SEGMENT = 300
BOUND = 1500

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 12)),
        st.tuples(st.just("send"), st.integers(1, 20)),
        st.tuples(st.just("lost_puback"), st.integers(1, 20)),
        st.tuples(st.just("reset"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops)
@example([("append", 12)] * 10 + [("reset", 0), ("send", 20), ("lost_puback", 5)])
def test_queue_invariants(steps: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = tmp + "/q"
        q = queue_mod.Queue(root, SEGMENT, BOUND)
        appended = 0
        delivered: list[int] = []
        for op, n in steps:
            if op == "append":
                for _ in range(n):
                    seq = q.next_seq()
                    assert seq == appended, "seq must be the count of readings ever made"
                    q.append(payload.collar_reading(seq, 1_700_000_000_000, 43 * 10**9, 78 * 10**9))
                    appended += 1
            elif op in ("send", "lost_puback"):
                lines, cursor = q.peek(n, 4096)
                seqs = [json.loads(x)["seq"] for x in lines]
                assert seqs == sorted(seqs)
                if delivered and seqs:
                    assert seqs[0] > delivered[-1], "a reading came again after its PUBACK"
                if op == "send":
                    q.ack(cursor, lines)
                    delivered += seqs
            else:
                q = queue_mod.Queue(root, SEGMENT, BOUND)
            assert q.used_bytes() <= BOUND + SEGMENT
        pending = [json.loads(x)["seq"] for x in q.peek(10_000, 10**9)[0]]
        # Every reading is delivered, pending, or counted as dropped: nothing silently lost.
        assert len(delivered) + len(pending) + q.dropped == appended
        assert len(set(delivered + pending)) == len(delivered) + len(pending)
        assert delivered + pending == sorted(delivered + pending)
        if appended * 70 > 2 * BOUND and not delivered:
            assert q.dropped > 0, "over the bound without sending: the oldest must go"

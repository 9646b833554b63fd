"""The network thread's hand-over: batches, bounded waits, and work on a batch as it fills."""

from __future__ import annotations

import threading
import time

from ingest.inbox import Inbox


def test_take_returns_at_most_the_batch_and_keeps_the_rest() -> None:
    inbox: Inbox[int] = Inbox()
    inbox.put_many([1, 2, 3, 4, 5])
    parts: list[list[int]] = []
    assert inbox.take(3, 1.0, 1.0, parts.append) == [1, 2, 3]
    assert parts == [[1, 2, 3]]
    assert inbox.take(3, 1.0, 0.0) == [4, 5]


def test_take_waits_a_bounded_time_for_nothing() -> None:
    inbox: Inbox[int] = Inbox()
    parts: list[list[int]] = []
    started = time.monotonic()
    assert inbox.take(10, 0.05, 0.05, parts.append) == []
    assert time.monotonic() - started < 5
    assert parts == []


def test_parts_are_handed_over_in_order_while_the_batch_fills() -> None:
    """The producer sends the next item only after the consumer has had the previous one,
    so a full batch of 4 is only possible if every part was handed over before the batch
    closed."""
    inbox: Inbox[int] = Inbox()
    seen: list[int] = []
    handed = threading.Event()

    def meanwhile(part: list[int]) -> None:
        seen.extend(part)
        handed.set()

    def produce() -> None:
        for item in range(1, 5):
            handed.clear()
            inbox.put(item)
            handed.wait(10)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    batch = inbox.take(4, 10.0, 10.0, meanwhile)
    producer.join(10)
    assert batch == [1, 2, 3, 4]
    assert seen == batch

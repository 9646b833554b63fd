"""The hand-over from the MQTT network thread to the consumer: cheap on the producer's side.

`queue.Queue` takes a lock and notifies a condition on every `put` and every `get`: two lock
round trips per message on the network thread, and as many wake-ups of the consumer, which
at tens of thousands of messages a second is a large share of the ingest's CPU. Here the
producer appends to a deque (atomic under the GIL) and sets an event only when the consumer
may be asleep; the consumer takes what is there in one go.

No wake-up is lost: the consumer clears the event *before* looking at the deque a last time,
and the producer sets it *after* appending, so an append the consumer did not see always
leaves the event set.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._ready = threading.Event()

    def put(self, item: T) -> None:
        """Called from the network thread."""
        self._items.append(item)
        if not self._ready.is_set():
            self._ready.set()

    def put_many(self, items: list[T]) -> None:
        """`put` for several, with one wake-up (network thread)."""
        self._items.extend(items)
        if not self._ready.is_set():
            self._ready.set()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def take(
        self,
        most: int,
        first_wait_s: float,
        fill_wait_s: float,
        meanwhile: Callable[[list[T]], None] | None = None,
    ) -> list[T]:
        """Up to `most` items: waits at most `first_wait_s` for the first one, then at most
        `fill_wait_s` more for the batch to fill (it returns as soon as it is full).
        `meanwhile` is given each part of the batch as it is taken, in order, so the caller
        can work on what has come while the rest is still coming."""
        if not self._wait(time.monotonic() + first_wait_s):
            return []
        batch: list[T] = []
        deadline = time.monotonic() + fill_wait_s
        while True:
            start = len(batch)
            self._drain(batch, most)
            if meanwhile is not None:
                meanwhile(batch[start:])
            if len(batch) >= most or not self._wait(deadline):
                return batch

    def wake(self) -> None:
        """Wake a consumer dozing in `doze` (any thread)."""
        self._ready.set()

    def doze(self, done: Callable[[], bool], timeout_s: float) -> None:
        """Sleep until an item arrives or `wake` is called, at most `timeout_s`; at once when
        there is an item already or `done()` holds. The event is cleared *before* both checks,
        so a `put` or `wake` just after them still ends the wait."""
        self._ready.clear()
        if self._items or done():
            return
        self._ready.wait(timeout_s)

    def _drain(self, batch: list[T], most: int) -> None:
        items = self._items
        pop = items.popleft
        for _ in range(min(most - len(batch), len(items))):
            batch.append(pop())

    def _wait(self, deadline: float) -> bool:
        """True once there is an item; False when the deadline passes first."""
        while not self._items:
            self._ready.clear()
            if self._items:  # appended between the check and the clear
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._ready.wait(remaining):
                return bool(self._items)
        return True
